/**
 * Reads this node's inbox in order and hands each entry to the node, acknowledging a batch once
 * every entry in it was handled: an entry read and not acknowledged (the reader's connection
 * dropped, Redis restarted) is read again. An entry whose handling goes on after it returned (a
 * stanza for a remote domain, acknowledged once it is safe: docs/cluster.md, "Federation") is
 * held: it stays in the inbox, where a survivor finds it if this node dies, until the node
 * releases it.
 */
import type { Logger } from '../util/log.ts';
import type { ClusterEngine, NodeIdentity, ReceivedEntry } from './engine.ts';

/** entries read at once */
const BATCH = 256;
/** how long one read waits for an entry, which is also how long stopping may take */
const BLOCK_MS = 500;
/** pause after a failed read before the next */
const RETRY_MS = 250;
/** released entries are acknowledged together after this long */
const RELEASE_DELAY_MS = 20;

/** Keeps an entry in the inbox after its handler returned; call what it returns once the entry may go. */
export type HoldEntry = () => () => void;

export interface InboxReaderOptions {
  engine: ClusterEngine;
  self: NodeIdentity;
  handle: (entry: ReceivedEntry, hold: HoldEntry) => Promise<void> | void;
  /** false once the node is past its lease: it delivers nothing more, a survivor may be handling the same entries */
  mayDeliver: () => boolean;
  logger: Logger;
}

export class InboxReader {
  readonly #options: InboxReaderOptions;
  #running = true;
  readonly #loop: Promise<void>;
  /** entries held after their handler returned, not yet released: not handled again when read again (bounded by what waits for remote domains: s2s.queue_max_stanzas, s2s.output) */
  readonly #held = new Set<string>();
  /** entries released and not yet acknowledged */
  #released: string[] = [];
  #releaseTimer: NodeJS.Timeout | undefined;

  constructor(options: InboxReaderOptions) {
    this.#options = options;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const { engine, self, handle, mayDeliver, logger } = this.#options;
    while (this.#running) {
      let entries: ReceivedEntry[];
      try {
        entries = await engine.read(self, BATCH, BLOCK_MS);
      } catch (error) {
        if (this.#running) logger.debug('cluster inbox read failed', { error: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (!this.#running || !mayDeliver()) return;
      const done: string[] = [];
      for (const entry of entries) {
        // Read again after a reconnection while its handler still has it.
        if (this.#held.has(entry.id)) continue;
        let held = false;
        const hold: HoldEntry = () => {
          held = true;
          this.#held.add(entry.id);
          let released = false;
          return () => {
            if (released) return;
            released = true;
            this.#release(entry.id);
          };
        };
        try {
          await handle(entry, hold);
        } catch (error) {
          logger.error('cluster inbox entry failed', { from: entry.from.name, kind: entry.entry.kind, error: error instanceof Error ? error.stack : String(error) });
        }
        if (!held) done.push(entry.id);
      }
      await this.#acknowledge(done);
    }
  }

  #release(id: string): void {
    if (!this.#held.delete(id)) return;
    this.#released.push(id);
    this.#releaseTimer ??= setTimeout(() => {
      this.#releaseTimer = undefined;
      void this.#acknowledge(this.#released.splice(0));
    }, RELEASE_DELAY_MS);
  }

  async #acknowledge(ids: string[]): Promise<void> {
    try {
      await this.#options.engine.acknowledge(this.#options.self, ids);
    } catch (error) {
      this.#options.logger.warn('cluster inbox acknowledgement failed; the entries will be read again', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Stops after the read in progress; entries it returns are left unacknowledged, and so are those still held. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#releaseTimer);
    this.#releaseTimer = undefined;
    this.#held.clear();
    await this.#loop;
    if (this.#released.length > 0) await this.#acknowledge(this.#released.splice(0));
  }
}
