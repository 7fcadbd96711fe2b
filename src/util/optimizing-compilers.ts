/**
 * V8's compilers on again after start. bin/trellis starts Node with them off
 * (bin/defer-optimizing.mjs, which leaves this function on `process`), so that loading the
 * program does not compile Node's module loader (docs/performance.md, "Memory at start").
 * Without that preload (tests, another launcher) there is nothing to do.
 */
const RESUME = Symbol.for('trellis.resumeOptimizingCompilers');

export function resumeOptimizingCompilers(): void {
  const resume = (process as unknown as Record<symbol, (() => void) | undefined>)[RESUME];
  if (resume === undefined) return;
  delete (process as unknown as Record<symbol, unknown>)[RESUME];
  resume();
}
