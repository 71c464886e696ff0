// XS bridge stub for the host module "debug": not remote — collecting garbage is the
// engine's own business, so it calls xsnap's global gc() (the XS collector) in place.
const Debug = Object.freeze({
  gc(_enable?: boolean): void {
    (globalThis as { gc?: () => void }).gc?.();
  },
});

export default Debug;
