/**
 * Token buckets for what a peer sends (after Prosody's mod_limits, which counts bytes; here
 * stanzas too): reading pauses while the peer is over its rate, so a flooder is slowed down at
 * the socket and TCP pushes back on it, while nothing it sent is dropped and nobody else waits.
 */
import type { RateConfig } from '../config/types.ts';

export interface ReadRate {
  /** sustained bytes per second, and bytes that may arrive at once after a quiet period */
  bytesPerSecond: number;
  burstBytes: number;
  /** sustained top-level elements (stanzas and the like) per second, and how many at once */
  stanzasPerSecond: number;
  burstStanzas: number;
}

/** One bucket: `perSecond` units refill it, up to `burst`. */
export class TokenBucket {
  perSecond: number;
  burst: number;
  #tokens: number;
  #updatedAt: number;
  /** times the bucket ran dry, for metrics */
  pauses = 0;

  constructor(perSecond: number, burst: number, now = Date.now()) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Changes the rate from now on; the tokens already there stay (up to the new burst). */
  setRate(perSecond: number, burst: number, now = Date.now()): void {
    this.take(0, now);
    this.perSecond = perSecond;
    this.burst = burst;
    this.#tokens = Math.min(this.#tokens, burst);
  }

  /** `milliseconds`, or less if the bucket is full sooner: waiting longer would waste its rate. */
  refillMillis(milliseconds: number): number {
    return Math.min(milliseconds, (this.burst * 1000) / this.perSecond);
  }

  /** Takes `amount`; returns how many milliseconds to wait until the bucket is level again (0: none). */
  take(amount: number, now = Date.now()): number {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) * this.perSecond) / 1000);
    this.#updatedAt = now;
    this.#tokens -= amount;
    if (this.#tokens >= 0) return 0;
    this.pauses++;
    return Math.ceil((-this.#tokens * 1000) / this.perSecond);
  }
}

/** The byte and stanza buckets of one stream. */
export class ReadThrottle {
  readonly bytes: TokenBucket;
  readonly stanzas: TokenBucket;
  readonly #rate: ReadRate;
  #shares = 1;

  constructor(rate: ReadRate, now = Date.now()) {
    this.#rate = rate;
    this.bytes = new TokenBucket(rate.bytesPerSecond, rate.burstBytes, now);
    this.stanzas = new TokenBucket(rate.stanzasPerSecond, rate.burstStanzas, now);
  }

  /** How many times the configured rate (and burst) the stream gets: a shared server connection gets one share per domain pair it carries. */
  get shares(): number {
    return this.#shares;
  }

  setShares(shares: number, now = Date.now()): void {
    if (shares === this.#shares) return;
    this.#shares = shares;
    const rate = this.#rate;
    this.bytes.setRate(rate.bytesPerSecond * shares, rate.burstBytes * shares, now);
    this.stanzas.setRate(rate.stanzasPerSecond * shares, rate.burstStanzas * shares, now);
  }

  get pauses(): number {
    return this.bytes.pauses + this.stanzas.pauses;
  }
}

/** The read rate of a `rate` section of the configuration. */
export function readRateFrom(config: RateConfig): ReadRate {
  return { bytesPerSecond: config.bytes_per_second, burstBytes: config.burst_bytes, stanzasPerSecond: config.stanzas_per_second, burstStanzas: config.burst_stanzas };
}
