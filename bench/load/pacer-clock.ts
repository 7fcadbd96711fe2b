/**
 * A clock for open-loop senders that ticks more finely than a millisecond. Node's timers run on
 * libuv's millisecond clock, so a pacer on `setInterval(1)` sends each message up to a millisecond
 * or two after its scheduled time, and since every message carries its scheduled time that
 * lateness becomes part of every latency measured. Here a worker thread sleeps with
 * `Atomics.wait`, whose timeout takes fractions of a millisecond, and at each step wakes the
 * main thread's event loop with a message; a tick the main thread has not handled yet is not
 * posted again, so a busy main thread never finds ticks piled up.
 */
import { Worker } from 'node:worker_threads';

/** shared cells: whether to stop, whether a tick is waiting for the main thread, and the cell the worker sleeps on */
const STOP = 0;
const PENDING = 1;
const SLEEP = 2;

const CLOCK_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const cells = new Int32Array(workerData.shared);
while (Atomics.load(cells, ${STOP}) === 0) {
  Atomics.wait(cells, ${SLEEP}, 0, workerData.stepMs);
  if (Atomics.compareExchange(cells, ${PENDING}, 0, 1) === 0) parentPort.postMessage(0);
}
`;

export interface PacerClock {
  stop(): void;
}

/** Calls `onTick` on the main thread about every `stepMs` milliseconds (fractions allowed) until stopped. */
export function startPacerClock(stepMs: number, onTick: () => void): PacerClock {
  const cells = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  const worker = new Worker(CLOCK_SOURCE, { eval: true, workerData: { shared: cells.buffer, stepMs } });
  worker.on('message', () => {
    Atomics.store(cells, PENDING, 0);
    onTick();
  });
  worker.unref();
  return {
    stop() {
      Atomics.store(cells, STOP, 1);
      Atomics.notify(cells, SLEEP);
      worker.removeAllListeners('message');
    },
  };
}
