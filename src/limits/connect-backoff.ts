/**
 * New incoming server connections per remote address (IPv4 address or IPv6 /64,
 * src/policy/address-key.ts), `limits.s2s_new_connections`: a token bucket of `per_address`
 * connections, refilled at `per_address` per `window` seconds. An address that empties it is
 * refused for `backoff` seconds, twice as long each further time (at most `backoff_max`), and
 * starts over once it has kept under the rate for `backoff_max` after its last refusal period.
 *
 * A peer whose connections fail and that reconnects at once (jabberd2 2.7 did: 8,000 connections
 * in 20 s) costs a TLS handshake and a stream each time; refusing it at accept costs almost
 * nothing and leaves every other address alone. Remembered addresses are bounded (least recently
 * used dropped first), like the login counters.
 */
import type { NewConnectionsConfig } from '../config/types.ts';
import { BoundedCache } from '../jid/bounded-cache.ts';
import { addressKey } from '../policy/address-key.ts';

/** Addresses remembered; a flood from more addresses forgets the least recently seen. */
const ADDRESSES = 100_000;

interface AddressState {
  tokens: number;
  /** when `tokens` was last brought up to date (ms) */
  at: number;
  /** refusal periods in a row: the next lasts backoff * 2^level seconds */
  level: number;
  /** end of the current refusal period (ms), 0 when none */
  until: number;
}

export type BackoffVerdict =
  | { refused: false }
  | {
      refused: true;
      key: string;
      /** end of the refusal period (ms) */
      until: number;
      /** its length in seconds */
      seconds: number;
      /** this connection started the period (the moment to log) */
      started: boolean;
    };

export class ConnectBackoff {
  readonly #config: () => NewConnectionsConfig;
  readonly #states = new BoundedCache<AddressState>(ADDRESSES);
  /** addresses in a refusal period and its end, for the gauge; pruned as periods end */
  readonly #refusing = new Map<string, number>();

  constructor(config: () => NewConnectionsConfig) {
    this.#config = config;
  }

  /** The end of the address's refusal period, when it is in one; counts nothing (for screening before TLS). */
  refusedUntil(address: string, now = Date.now()): number | undefined {
    const until = this.#states.get(addressKey(address))?.until ?? 0;
    return now < until ? until : undefined;
  }

  /** Counts a new connection from `address` and says whether it is refused. */
  admit(address: string, now = Date.now()): BackoffVerdict {
    const config = this.#config();
    if (config.per_address === 0) return { refused: false };
    const key = addressKey(address);
    const state = this.#states.get(key) ?? { tokens: config.per_address, at: now, level: 0, until: 0 };
    if (now < state.until) return { refused: true, key, until: state.until, seconds: Math.round((state.until - state.at) / 1000), started: false };
    if (state.level > 0 && now - state.until >= config.backoff_max * 1000) state.level = 0;
    state.tokens = Math.min(config.per_address, state.tokens + ((now - state.at) * config.per_address) / (config.window * 1000));
    state.at = now;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      this.#states.set(key, state);
      return { refused: false };
    }
    const seconds = Math.min(config.backoff_max, config.backoff * 2 ** state.level);
    state.level++;
    state.until = now + seconds * 1000;
    this.#states.set(key, state);
    this.#refusing.set(key, state.until);
    if (this.#refusing.size > ADDRESSES) this.#refusing.delete(this.#refusing.keys().next().value!);
    return { refused: true, key, until: state.until, seconds, started: true };
  }

  /** Addresses in a refusal period now. */
  refusing(now = Date.now()): number {
    for (const [key, until] of this.#refusing) if (until <= now) this.#refusing.delete(key);
    return this.#refusing.size;
  }
}
