/**
 * Loaded by bin/trellis with `--import` when it starts Node with `--no-maglev --no-turbofan
 * --no-sparkplug`: V8's baseline compiler (Sparkplug) and its optimizing compilers (Maglev and
 * TurboFan) stay off while Node starts, the modules load and the command starts, and
 * src/cli/main.ts turns them on again through the function this leaves on `process`: at once for
 * a command that is not `start`, once the server is ready for `start`. Loading some 400 modules
 * calls Node's own path and URL functions often enough for the compilers to compile them; that
 * touched about 10 MB of compiler code in the Node binary and left their output in memory, for
 * code that hardly runs again once the server listens (docs/performance.md, "Memory at start").
 * After start the server's hot code is compiled and optimized as before.
 *
 * bin/trellis leaves both out when TRELLIS_NODE_OPTIONS or NODE_OPTIONS choose a compiler.
 *
 * Plain JavaScript on purpose: a .ts file here would load Node's type stripper (see
 * load-built.mjs).
 */
import { setFlagsFromString } from 'node:v8';

process[Symbol.for('trellis.resumeOptimizingCompilers')] = () => {
  setFlagsFromString('--sparkplug');
  setFlagsFromString('--maglev');
  setFlagsFromString('--turbofan');
};
