/**
 * Loaded by bin/trellis with `--import`, before any of the program's modules: V8's optimizing
 * compilers (Maglev and TurboFan) stay off while the modules load and the command starts, and
 * src/cli/main.ts turns them on again, at once for a command that is not `start` and once the
 * server is ready for `start`. Loading some 400 modules calls Node's own path and URL functions
 * often enough for both compilers to compile them; that touched about 8 MB of compiler code in
 * the Node binary and left their output in memory, for code that hardly runs again once the
 * server listens (docs/performance.md, "Memory at start"). Interpreted and baseline code run as
 * always; after start the server's hot code is optimized as before.
 *
 * Nothing changes when the command line or NODE_OPTIONS already chooses the compilers.
 *
 * Plain JavaScript on purpose: a .ts file here would load Node's type stripper (see
 * load-built.mjs).
 */
import { setFlagsFromString } from 'node:v8';

const COMPILER_CHOICE = /^--(no-)?(maglev|turbofan|opt|jitless|lite-mode)(=|$)/;
const options = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];

if (!options.some((option) => COMPILER_CHOICE.test(option))) {
  setFlagsFromString('--no-maglev');
  setFlagsFromString('--no-turbofan');
  process[Symbol.for('trellis.resumeOptimizingCompilers')] = () => {
    setFlagsFromString('--maglev');
    setFlagsFromString('--turbofan');
  };
}
