/**
 * Latency histogram with logarithmic buckets 1% wide: constant memory whatever the message count,
 * percentiles within 1%, and histograms from several generator processes merge by adding counts.
 */

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** values are microseconds; 1e9 µs (1000 s) is far beyond any bounded run */
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 1;

export interface HistogramData {
  /** [bucket index, count] pairs for the non-empty buckets */
  buckets: [number, number][];
  count: number;
  maxMicros: number;
}

export class LatencyHistogram {
  #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #maxMicros = 0;

  get count(): number {
    return this.#count;
  }

  recordMillis(millis: number): void {
    const micros = Math.max(1, millis * 1000);
    this.#counts[Math.min(BUCKETS - 1, Math.floor(Math.log(micros) / LOG_GROWTH))]++;
    this.#count++;
    if (micros > this.#maxMicros) this.#maxMicros = micros;
  }

  /** The value at quantile q (0..1) in milliseconds: the upper edge of the bucket that holds it. */
  percentileMillis(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.#counts[index]!;
      if (seen >= rank) return Math.min(GROWTH ** (index + 1), this.#maxMicros) / 1000;
    }
    return this.#maxMicros / 1000;
  }

  maxMillis(): number {
    return this.#count === 0 ? NaN : this.#maxMicros / 1000;
  }

  toJSON(): HistogramData {
    const buckets: [number, number][] = [];
    this.#counts.forEach((count, index) => {
      if (count > 0) buckets.push([index, count]);
    });
    return { buckets, count: this.#count, maxMicros: this.#maxMicros };
  }

  add(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.#counts[index] += count;
    this.#count += data.count;
    this.#maxMicros = Math.max(this.#maxMicros, data.maxMicros);
  }
}
