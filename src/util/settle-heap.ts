/**
 * One full, compacting garbage collection once the server is ready. Starting a server reads the
 * configuration, compiles a few hundred modules and opens the database, which leaves V8's heap
 * grown (its young generation at its maximum size) with mostly garbage in it; V8 shrinks a heap
 * only in a collection made to reduce memory, which nothing in an idle Node process asks for.
 * Without this, a freshly started server kept about 8 MB more resident memory for as long as it
 * stayed idle (docs/performance.md, "Memory at start"). It takes some milliseconds, once.
 *
 * The `gc` function comes from a fresh context created after turning on `--expose-gc`, so the
 * server's own global scope never has it (the way Node's documentation of v8.setFlagsFromString
 * shows).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export function settleHeap(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as GcFunction;
  // "last-resort" is V8's collection of all available garbage: several full collections that
  // also give back the young generation's and the old generation's free pages.
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
