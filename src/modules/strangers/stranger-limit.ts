/**
 * The count behind the stranger limit: at most `max` messages per sender (bare JID) within a
 * sliding window, and one warning per sender per window once it is over. Both maps are
 * SlidingWindowLimits, so memory stays bounded: at most `maxSenders` senders each, the least
 * recently active dropped first (a dropped sender starts again from zero, which only errs
 * towards delivering).
 */
import { SlidingWindowLimit } from '../../util/sliding-window.ts';

/** Senders tracked at once; beyond it the least recently active is forgotten. */
export const MAX_TRACKED_SENDERS = 10_000;

export interface StrangerDecision {
  /** whether the message may go on to delivery (it has been counted) */
  allowed: boolean;
  /** refused, and the first refusal of this sender in the window: the one to log */
  warn: boolean;
}

export class StrangerLimit {
  readonly max: number;
  readonly windowMs: number;
  readonly #sent: SlidingWindowLimit;
  readonly #warned: SlidingWindowLimit;

  constructor(max: number, windowMs: number, maxSenders = MAX_TRACKED_SENDERS) {
    this.max = max;
    this.windowMs = windowMs;
    this.#sent = new SlidingWindowLimit(max, windowMs, maxSenders);
    this.#warned = new SlidingWindowLimit(1, windowMs, maxSenders);
  }

  /** Counts one message from the sender if it is within the limit; a refused one is not counted. */
  check(sender: string, now = Date.now()): StrangerDecision {
    if (this.#sent.allows(sender, now)) {
      this.#sent.record(sender, now);
      return { allowed: true, warn: false };
    }
    const warn = this.#warned.allows(sender, now);
    if (warn) this.#warned.record(sender, now);
    return { allowed: false, warn };
  }

  /** Senders with messages counted in the window (for tests and diagnostics). */
  get size(): number {
    return this.#sent.size;
  }
}
