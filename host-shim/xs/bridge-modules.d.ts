// Served by cli/engine.ts to tasks running in XS (host-shim/xs/task-runner.ts).
declare module "mote:task-io" {
  const io: unknown;
  export default io;
}
