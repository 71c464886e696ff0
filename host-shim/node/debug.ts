/**
 * Node twin of Moddable's `debug` module. `gc()` collects garbage where Node
 * allows it (`--expose-gc`), else does nothing: the figures it precedes
 * (src/platform/memory.ts) are XS's, which Node does not have.
 */
const Debug = Object.freeze({
  gc(_enable?: boolean): void {
    (globalThis as { gc?: () => void }).gc?.();
  },
});

export default Debug;
