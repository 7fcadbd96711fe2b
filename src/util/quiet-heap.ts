/**
 * When to give memory back after a busy spell. A burst of work (logins, a flood of messages, an
 * import) grows V8's heap; once the burst is over most of that heap is garbage, but V8 returns
 * pages to the system only in a collection made to reduce memory, which it starts by itself only
 * after some tens of seconds of low allocation, if at all. The server asks for one itself once it
 * has been quiet for a while and its heap has grown since it last did: an operator then sees the
 * memory of the sessions that stay, not of the work that passed.
 *
 * This is the decision alone, fed one sample a second by the watcher in settle-heap.ts, so that it
 * can be tested without a garbage collector.
 */

export interface HeapSample {
  /** when the sample was taken, in milliseconds */
  atMs: number;
  /** the share of the time since the previous sample the event loop was busy, 0 to 1 */
  busyShare: number;
  /** V8's committed heap (`heapTotal`) */
  heapTotalBytes: number;
}

export interface QuietHeapOptions {
  /** a sample at or above this busy share is not quiet */
  quietBelowShare: number;
  /** how long the server must have been quiet */
  quietForMs: number;
  /** how much the heap must have grown since it was last at its smallest */
  grownByBytes: number;
}

const QUIET_HEAP_DEFAULTS: QuietHeapOptions = {
  quietBelowShare: 0.05,
  quietForMs: 3000,
  grownByBytes: 16 * 1024 * 1024,
};

export class QuietHeapTrigger {
  readonly #options: QuietHeapOptions;
  /** the smallest committed heap seen since the last settling (or since the start) */
  #smallestBytes: number;
  #quietSinceMs: number | undefined;
  #lastSampleMs: number;

  constructor(startMs: number, heapTotalBytes: number, options: QuietHeapOptions = QUIET_HEAP_DEFAULTS) {
    this.#options = options;
    this.#smallestBytes = heapTotalBytes;
    this.#lastSampleMs = startMs;
  }

  /** Whether to settle the heap now. */
  observe(sample: HeapSample): boolean {
    const sampleStartMs = this.#lastSampleMs;
    this.#lastSampleMs = sample.atMs;
    // V8's own memory reducer may have shrunk the heap: growth counts from the smallest size.
    this.#smallestBytes = Math.min(this.#smallestBytes, sample.heapTotalBytes);
    if (sample.busyShare >= this.#options.quietBelowShare) {
      this.#quietSinceMs = undefined;
      return false;
    }
    // A quiet sample says the loop was quiet since the previous one.
    this.#quietSinceMs ??= sampleStartMs;
    return sample.atMs - this.#quietSinceMs >= this.#options.quietForMs && sample.heapTotalBytes - this.#smallestBytes >= this.#options.grownByBytes;
  }

  /** The heap was settled and is now this size: growth counts from here. */
  settled(heapTotalBytes: number): void {
    this.#smallestBytes = heapTotalBytes;
  }
}
