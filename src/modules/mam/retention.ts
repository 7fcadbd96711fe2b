/**
 * Retention of a domain's archives (XEP-0313 section 3.2: only the oldest messages go, so an
 * archive never has holes): messages older than `max_age_days`, and beyond `max_messages` in
 * an archive. A pass runs at most every `retention_interval` seconds, started by an archived
 * message rather than a timer, so a host that is rebuilt or a server that stops leaves nothing
 * running. Archives are trimmed when they received messages since the last pass.
 */
import type { MamSettings } from '../../config/types.ts';
import type { ArchiveStore } from '../../storage/archive-types.ts';
import type { Logger } from '../../util/log.ts';

/** Messages one expiry statement removes, so a large backlog never holds the database long. */
const EXPIRY_BATCH = 1000;

export class Retention {
  readonly #domain: string;
  readonly #store: ArchiveStore;
  readonly #settings: () => MamSettings;
  readonly #logger: Logger;
  /** archives (names at the domain) that received messages since the last pass: at most the domain's accounts or rooms */
  #written = new Set<string>();
  #lastPass = Date.now();
  #running: Promise<void> | undefined;

  constructor(domain: string, store: ArchiveStore, settings: () => MamSettings, logger: Logger) {
    this.#domain = domain;
    this.#store = store;
    this.#settings = settings;
    this.#logger = logger;
  }

  /** Notes an archived message; starts a pass when one is due. */
  noteWritten(name: string, now = Date.now()): void {
    this.#written.add(name);
    if (this.#running === undefined && now - this.#lastPass >= this.#settings().retention_interval * 1000) void this.run(now);
  }

  /** One pass now (a test or an operator can wait for it); a second call while one runs joins it. */
  run(now = Date.now()): Promise<void> {
    this.#running ??= this.#pass(now)
      .catch((error: unknown) => this.#logger.error('archive retention pass failed', { domain: this.#domain, error: error instanceof Error ? error.message : String(error) }))
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  async #pass(now: number): Promise<void> {
    this.#lastPass = now;
    const { max_age_days: maxAgeDays, max_messages: maxMessages } = this.#settings();
    let expired = 0;
    if (maxAgeDays > 0) {
      const before = (now - maxAgeDays * 86_400_000) * 1000;
      for (;;) {
        const removed = await this.#store.expire(this.#domain, before, EXPIRY_BATCH);
        expired += removed;
        if (removed < EXPIRY_BATCH) break;
      }
    }
    const written = this.#written;
    this.#written = new Set();
    let trimmed = 0;
    for (const name of written) trimmed += await this.#store.trim({ domain: this.#domain, name }, maxMessages);
    if (expired + trimmed > 0) this.#logger.info('archive retention', { domain: this.#domain, expired, trimmed });
  }
}
