/**
 * How many domain pairs were authorized and refused since the server started, by direction and
 * by the method that proved (or failed to prove) them, for the admin API's metrics. Inbound: the
 * peer asked and we decided; outbound: we asked and the peer decided. The method is whatever
 * string the pair's proof records (pair-proof.ts), so a new proof method is counted as it comes.
 */
import type { Direction } from './connection-table.ts';

export type PairOutcome = 'authorized' | 'refused';

/** Distinct (direction, outcome, method) series kept; methods come from code, never from peers, so this is never reached in practice. */
const MAX_SERIES = 256;

export interface PairCount {
  direction: Direction;
  outcome: PairOutcome;
  method: string;
  count: number;
}

export class PairCounters {
  readonly #counts = new Map<string, PairCount>();

  count(direction: Direction, outcome: PairOutcome, method: string): void {
    const key = `${direction} ${outcome} ${method}`;
    const entry = this.#counts.get(key);
    if (entry) entry.count++;
    else if (this.#counts.size < MAX_SERIES) this.#counts.set(key, { direction, outcome, method, count: 1 });
  }

  all(): PairCount[] {
    return [...this.#counts.values()].map((entry) => ({ ...entry }));
  }
}
