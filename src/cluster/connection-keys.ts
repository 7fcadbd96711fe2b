/**
 * The lease a cluster sends to a remote destination under (docs/cluster.md, "Federation"): where
 * `s2s.multiplex` lets one connection carry several remote domains of a host, the host and port
 * the destination's connection goes to first (`s2s-host:<host>:<port>`), so that one node owns the
 * one connection to that host; else the destination itself (`s2s:<domain>`): multiplexing off,
 * trunks, links, or no next hop found (said in a debug log).
 *
 * The host is found as the server connector finds it (S2sService `sharedHop`) and kept a while.
 * Stanzas for one destination are given their key in the order they came, also while it is being
 * looked up, so that each sender's stanzas reach the owner in the order sent.
 */
import type { Logger } from '../util/log.ts';

/** Where a destination's connection goes first (`host:port`), or why it is owned on its own. */
export type SharedHop = { hop: string } | { reason: string };

/** Destinations whose host is kept, at most; the oldest goes first. */
export const MAX_KEPT = 10_000;
/** Destinations being looked up at once, at most: stanzas for one more wait no longer, they bounce. */
export const MAX_LOOKING_UP = 1000;
/**
 * How long a destination's host is kept. The SRV answers it comes from have no TTL through
 * node:dns, so a time shorter than SRV records are usually kept for stands in: a host that moved
 * is followed within it (meanwhile the owner's own lookup still connects to the right host), and
 * a destination owned on its own for want of an answer is shared again within it.
 */
export const KEPT_MS = 30_000;

export interface ConnectionKeysOptions {
  sharedHop(remote: string): Promise<SharedHop>;
  /** stanzas that may wait for one destination's lookup */
  maxWaiting(): number;
  logger: Logger;
  now?: () => number;
}

interface Lookup {
  waiting: Array<(key: string) => void>;
}

export const domainKey = (remote: string): string => `s2s:${remote}`;
export const hostKey = (hop: string): string => `s2s-host:${hop}`;

export class ConnectionKeys {
  readonly #options: ConnectionKeysOptions;
  readonly #kept = new Map<string, { key: string; until: number }>();
  readonly #lookups = new Map<string, Lookup>();

  constructor(options: ConnectionKeysOptions) {
    this.#options = options;
  }

  /**
   * Calls `use` with the lease key of `remote`: at once when known, else once looked up, after
   * those asked before it for the same destination. False (and `use` never called) when too many
   * wait for it or too many destinations are being looked up.
   */
  with(remote: string, use: (key: string) => void): boolean {
    const lookup = this.#lookups.get(remote);
    if (lookup !== undefined) {
      if (lookup.waiting.length >= this.#options.maxWaiting()) return false;
      lookup.waiting.push(use);
      return true;
    }
    const kept = this.#kept.get(remote);
    if (kept !== undefined && kept.until > this.#now()) {
      use(kept.key);
      return true;
    }
    if (kept !== undefined) this.#kept.delete(remote);
    if (this.#lookups.size >= MAX_LOOKING_UP) return false;
    const started: Lookup = { waiting: [use] };
    this.#lookups.set(remote, started);
    void this.#lookUp(remote).then((key) => {
      this.#lookups.delete(remote);
      for (const waiting of started.waiting) waiting(key);
    });
    return true;
  }

  /** The lease key of `remote`, or undefined when too many wait for it (see `with`). */
  keyOf(remote: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      if (!this.with(remote, resolve)) resolve(undefined);
    });
  }

  /** The lease key shown as the destination it stands for: a domain, or a `host:port`. */
  static label(key: string): string {
    return key.slice(key.indexOf(':') + 1);
  }

  async #lookUp(remote: string): Promise<string> {
    let found: SharedHop;
    try {
      found = await this.#options.sharedHop(remote);
    } catch (error) {
      found = { reason: error instanceof Error ? error.message : String(error) };
    }
    let key: string;
    if ('reason' in found) {
      this.#options.logger.debug('cluster federation owned per domain, not per host', { remote, reason: found.reason });
      key = domainKey(remote);
    } else {
      key = hostKey(found.hop);
    }
    if (this.#kept.size >= MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    this.#kept.set(remote, { key, until: this.#now() + KEPT_MS });
    return key;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
