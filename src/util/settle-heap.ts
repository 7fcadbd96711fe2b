/**
 * Full, compacting garbage collections that give memory back to the system: once when the server
 * is ready, and again whenever it goes quiet after its heap grew (quiet-heap.ts says when).
 *
 * Starting a server reads the configuration, compiles a few hundred modules and opens the
 * database, which leaves V8's heap grown (its young generation at its maximum size) with mostly
 * garbage in it; V8 shrinks a heap only in a collection made to reduce memory, which nothing in a
 * quiet Node process asks for soon. Without the first one, a freshly started server kept about
 * 8 MB more resident memory for as long as it stayed idle (docs/performance.md, "Memory at
 * start"); without the later ones, a server kept the heap of a burst of logins or messages for
 * tens of seconds after it ended (docs/performance.md, "Memory per session").
 *
 * The `gc` function comes from a fresh context created after turning on `--expose-gc`, so the
 * server's own global scope never has it (the way Node's documentation of v8.setFlagsFromString
 * shows).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance } from 'node:perf_hooks';
import type { Logger } from './log.ts';
import { QuietHeapTrigger } from './quiet-heap.ts';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

const SAMPLE_EVERY_MS = 1000;

let gcFunction: GcFunction | undefined;

function settleHeap(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as GcFunction;
  }
  // "last-resort" is V8's collection of all available garbage: several full collections that
  // also give back the young generation's and the old generation's free pages.
  gcFunction({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Settles the heap now, then whenever the server goes quiet after its heap grew; returns the stop. */
export function settleHeapWhenQuiet(logger: Logger): () => void {
  settleHeap();
  const trigger = new QuietHeapTrigger(performance.now(), process.memoryUsage().heapTotal);
  let utilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const spell = performance.eventLoopUtilization(now, utilization);
    utilization = now;
    const heapTotalBytes = process.memoryUsage().heapTotal;
    if (!trigger.observe({ atMs: performance.now(), busyShare: spell.utilization, heapTotalBytes })) return;
    const startMs = performance.now();
    settleHeap();
    const after = process.memoryUsage();
    trigger.settled(after.heapTotal);
    logger.debug('heap settled after a busy spell', {
      heap_before_mb: Math.round(heapTotalBytes / 1048576),
      heap_after_mb: Math.round(after.heapTotal / 1048576),
      rss_mb: Math.round(after.rss / 1048576),
      pause_ms: Math.round(performance.now() - startMs),
    });
    // The collection's own time is not a busy spell of the server's.
    utilization = performance.eventLoopUtilization();
  }, SAMPLE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
