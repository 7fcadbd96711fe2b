/**
 * What the limits refuse, counted for the admin API's metrics and logged without flooding: a
 * warning for the same limit and address at most once per `limits.log_interval`; refusals in
 * between are counted and the next warning says how many there were.
 */
import { BoundedCache } from '../jid/bounded-cache.ts';
import type { LogFields, Logger, RefusalLog } from '../util/log.ts';

/** Distinct (limit, address) pairs remembered for rate limiting the log; older ones are forgotten. */
const LOG_KEYS = 10_000;

interface LogState {
  at: number;
  suppressed: number;
}

export class Refusals implements RefusalLog {
  readonly #logger: Logger;
  readonly #intervalMs: () => number;
  readonly #logged = new BoundedCache<LogState>(LOG_KEYS);
  /** counter name + labels → value */
  readonly #counters = new Map<string, { name: string; labels: Record<string, string>; value: number }>();

  constructor(logger: Logger, intervalMs: () => number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  count(name: string, labels: Record<string, string>): void {
    const key = `${name}${JSON.stringify(labels)}`;
    const counter = this.#counters.get(key);
    if (counter) counter.value++;
    else this.#counters.set(key, { name, labels, value: 1 });
  }

  /** Warns about `key` unless it was warned about within the interval, on `logger` (by default the server's). */
  warn(key: string, message: string, fields: LogFields, logger: Logger = this.#logger): void {
    const now = Date.now();
    const state = this.#logged.get(key);
    if (state && now - state.at < this.#intervalMs()) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.#logged.set(key, { at: now, suppressed: 0 });
    logger.warn(message, suppressed > 0 ? { ...fields, not_logged_since_last: suppressed } : fields);
  }

  /** The counters with this name, for the metrics. */
  samples(name: string): { labels: Record<string, string>; value: number }[] {
    return [...this.#counters.values()].filter((counter) => counter.name === name).map(({ labels, value }) => ({ labels, value }));
  }
}
