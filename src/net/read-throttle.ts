/**
 * A token bucket for the bytes a peer sends (after Prosody's mod_limits): reading pauses while
 * the peer is over its rate, so a flooder is slowed down at the socket and TCP pushes back on
 * it, while nothing it sent is dropped and nobody else waits.
 */
import type { RateConfig } from '../config/types.ts';

export interface ReadRate {
  /** sustained bytes per second */
  bytesPerSecond: number;
  /** bytes that may arrive at once after a quiet period */
  burstBytes: number;
}

export class ReadThrottle {
  readonly rate: ReadRate;
  #tokens: number;
  #updatedAt: number;
  /** times reading was paused, for metrics */
  pauses = 0;

  constructor(rate: ReadRate, now = Date.now()) {
    this.rate = rate;
    this.#tokens = rate.burstBytes;
    this.#updatedAt = now;
  }

  /** Counts `bytes` just read; returns how many milliseconds reading should pause (0: none). */
  take(bytes: number, now = Date.now()): number {
    const { bytesPerSecond, burstBytes } = this.rate;
    this.#tokens = Math.min(burstBytes, this.#tokens + ((now - this.#updatedAt) * bytesPerSecond) / 1000);
    this.#updatedAt = now;
    this.#tokens -= bytes;
    if (this.#tokens >= 0) return 0;
    this.pauses++;
    return Math.ceil((-this.#tokens * 1000) / bytesPerSecond);
  }
}

/** The read rate of a `rate` section of the configuration. */
export function readRateFrom(config: RateConfig): ReadRate {
  return { bytesPerSecond: config.bytes_per_second, burstBytes: config.burst_bytes };
}
