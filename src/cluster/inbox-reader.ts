/**
 * Reads this node's inbox in order and hands each entry to the node, acknowledging a batch once
 * every entry in it was handled: an entry read and not acknowledged (the reader's connection
 * dropped, Redis restarted) is read again.
 */
import type { Logger } from '../util/log.ts';
import type { ClusterEngine, NodeIdentity, ReceivedEntry } from './engine.ts';

/** entries read at once */
const BATCH = 256;
/** how long one read waits for an entry, which is also how long stopping may take */
const BLOCK_MS = 500;
/** pause after a failed read before the next */
const RETRY_MS = 250;

export interface InboxReaderOptions {
  engine: ClusterEngine;
  self: NodeIdentity;
  handle: (entry: ReceivedEntry) => Promise<void> | void;
  /** false once the node is past its lease: it delivers nothing more, a survivor may be handling the same entries */
  mayDeliver: () => boolean;
  logger: Logger;
}

export class InboxReader {
  readonly #options: InboxReaderOptions;
  #running = true;
  readonly #loop: Promise<void>;

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
      for (const entry of entries) {
        try {
          await handle(entry);
        } catch (error) {
          logger.error('cluster inbox entry failed', { from: entry.from.name, kind: entry.entry.kind, error: error instanceof Error ? error.stack : String(error) });
        }
      }
      try {
        await engine.acknowledge(self, entries.map((entry) => entry.id));
      } catch (error) {
        logger.warn('cluster inbox acknowledgement failed; the entries will be read again', { error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /** Stops after the read in progress; entries it returns are left unacknowledged. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}
