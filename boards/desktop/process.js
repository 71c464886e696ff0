/* mote/process (desktop targets only): see process.c. */
export function exit(status) @ "xs_mote_exit";

export const REBOOT_STATUS = 75;
