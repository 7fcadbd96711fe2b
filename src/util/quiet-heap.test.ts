import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuietHeapTrigger, type QuietHeapOptions } from './quiet-heap.ts';

const MB = 1024 * 1024;
const OPTIONS: QuietHeapOptions = { quietBelowShare: 0.05, quietForMs: 3000, grownByBytes: 16 * MB };

/**
 * Feeds one sample a second from t=1000, starting from a 40 MB heap; returns the seconds at which it
 * said settle. A settling here finds the heap all live: it stays the size the sample gave.
 */
function settlesAt(samples: { busy: number; heapMb: number }[]): number[] {
  const trigger = new QuietHeapTrigger(0, 40 * MB, OPTIONS);
  const at: number[] = [];
  samples.forEach(({ busy, heapMb }, index) => {
    const second = index + 1;
    if (trigger.observe({ atMs: second * 1000, busyShare: busy, heapTotalBytes: heapMb * MB })) {
      at.push(second);
      trigger.settled(heapMb * MB);
    }
  });
  return at;
}

const busy = (seconds: number, heapMb: number) => Array.from({ length: seconds }, () => ({ busy: 0.9, heapMb }));
const quiet = (seconds: number, heapMb: number) => Array.from({ length: seconds }, () => ({ busy: 0.01, heapMb }));

const cases: { name: string; samples: { busy: number; heapMb: number }[]; expected: number[] }[] = [
  { name: 'a quiet server whose heap did not grow is left alone', samples: quiet(20, 41), expected: [] },
  { name: 'after a burst that grew the heap, settles once 3 s of quiet have passed', samples: [...busy(5, 90), ...quiet(10, 90)], expected: [8] },
  { name: 'a burst that grew the heap by less than the threshold is left alone', samples: [...busy(5, 55), ...quiet(10, 55)], expected: [] },
  { name: 'busy samples restart the quiet time', samples: [...busy(5, 90), ...quiet(2, 90), ...busy(1, 90), ...quiet(3, 90)], expected: [11] },
  { name: 'settles once per growth, not every quiet second after', samples: [...busy(3, 90), ...quiet(10, 90), ...busy(3, 90), ...quiet(5, 90)], expected: [6] },
  { name: 'a second burst that grows the heap again settles again', samples: [...busy(3, 90), ...quiet(4, 90), ...busy(3, 130), ...quiet(4, 130)], expected: [6, 13] },
  { name: 'a busy server is never settled however large its heap', samples: busy(30, 300), expected: [] },
  { name: 'a share just under the bound counts as quiet', samples: [...busy(2, 90), ...Array.from({ length: 3 }, () => ({ busy: 0.049, heapMb: 90 }))], expected: [5] },
];

for (const { name, samples, expected } of cases) {
  test(name, () => assert.deepEqual(settlesAt(samples), expected));
}

test('growth counts from the smallest heap seen, so a heap V8 shrank by itself and that grows again is settled', () => {
  const trigger = new QuietHeapTrigger(0, 80 * MB, OPTIONS);
  // V8's own reducer took the heap from 80 to 30 MB; then it grows back to 50 MB while quiet.
  assert.equal(trigger.observe({ atMs: 1000, busyShare: 0, heapTotalBytes: 30 * MB }), false);
  assert.equal(trigger.observe({ atMs: 2000, busyShare: 0, heapTotalBytes: 40 * MB }), false);
  assert.equal(trigger.observe({ atMs: 3000, busyShare: 0, heapTotalBytes: 50 * MB }), true);
});
