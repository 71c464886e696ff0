/** The two desktop-only host modules the Moddable tools entry (main.ts) imports. */
declare module "mote/process" {
  export function exit(status: number): never;
  export const REBOOT_STATUS: number;
}
declare module "file" {
  export class File {
    constructor(path: string, write?: boolean);
    static exists(path: string): boolean;
    read(type: typeof String): string;
    close(): void;
  }
}
