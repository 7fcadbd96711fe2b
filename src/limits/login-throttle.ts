/**
 * Failed logins counted across streams (c2s.auth_failure_delay and c2s.max_auth_failures act on
 * one stream, which a guesser simply reopens). Three counters, each a sliding window over
 * `limits.auth.window`:
 *
 * - per address (IPv4, or IPv6 /64): past max_failures_per_address every login from it is
 *   refused with temporary-auth-failure (RFC 6120 section 6.5.11) for block_duration;
 * - per account and address: past max_failures_per_account_address that address may not try
 *   that account for block_duration;
 * - per account: each failure lengthens the delay before the next failure is answered, and past
 *   max_failures_per_account only addresses that logged in to the account successfully before
 *   may try it, for block_duration.
 *
 * The trade-off: a per-account lock on its own would let anyone lock the owner out by failing on
 * purpose. Blocking (account, address) pairs stops guessing from one place without touching the
 * owner elsewhere; the account-wide step only shuts out unknown addresses, and only for
 * block_duration, so the owner loses access at worst from a new address for a while, and never
 * for good. While blocked, the password is not checked at all (no oracle, no hashing cost).
 *
 * Every map is capped (least recently used dropped first), so many addresses cannot grow memory.
 */
import type { AuthLimitsConfig, LimitsConfig } from '../config/types.ts';
import { BoundedCache } from '../jid/bounded-cache.ts';
import { addressKey } from '../policy/address-key.ts';
import { SlidingWindowLimit } from '../util/sliding-window.ts';
import type { Logger } from '../util/log.ts';
import { Element } from '../xml/element.ts';
import { NS_SASL } from '../xml/namespaces.ts';
import type { Refusals } from './refusals.ts';

/** Keys each counter and block list keeps at most. */
const MAX_TRACKED = 100_000;
const MAX_FAILURE_DELAY_MS = 10_000;

type Scope = 'address' | 'account_address' | 'account';

/** The SASL outcomes of src/c2s/sasl-negotiation.ts, as far as the throttle looks at them. */
export type LoginOutcome =
  | { kind: 'reply'; element: Element }
  | { kind: 'success'; element: Element; username: string; mechanism: string }
  | { kind: 'failure'; element: Element; condition: string; mechanism?: string };

/** What a blocked attempt becomes (RFC 6120 section 6.5.11). */
export type BlockedLogin = { kind: 'failure'; element: Element; condition: 'temporary-auth-failure'; mechanism?: string };

export class LoginThrottle {
  readonly #config: () => AuthLimitsConfig;
  readonly #logger: Logger;
  readonly #refusals: Refusals;
  #windows: { address: SlidingWindowLimit; pair: SlidingWindowLimit; account: SlidingWindowLimit } | undefined;
  #windowsFor: AuthLimitsConfig | undefined;
  /** block key → until (ms since the epoch) */
  readonly #blocked = new BoundedCache<number>(MAX_TRACKED);
  /** account + address key → true, for addresses that logged in to the account */
  readonly #known = new BoundedCache<true>(MAX_TRACKED);

  constructor(config: () => LimitsConfig, logger: Logger, refusals: Refusals) {
    this.#config = () => config().auth;
    this.#logger = logger;
    this.#refusals = refusals;
  }

  /** One stream's view: the connection calls it around each SASL element. */
  forStream(address: string, domain: string): LoginGuard {
    return new LoginGuard(this, address, domain);
  }

  #counters() {
    const config = this.#config();
    if (this.#windows === undefined || this.#windowsFor !== config) {
      const windowMs = config.window * 1000;
      const window = (limit: number) => new SlidingWindowLimit(Math.max(1, limit), windowMs, MAX_TRACKED);
      this.#windows = { address: window(config.max_failures_per_address), pair: window(config.max_failures_per_account_address), account: window(config.max_failures_per_account) };
      this.#windowsFor = config;
    }
    return this.#windows;
  }

  #until(key: string, now: number): number | undefined {
    const until = this.#blocked.get(key);
    return until !== undefined && until > now ? until : undefined;
  }

  /** Why this attempt is refused, if it is. */
  blockFor(key: string, account: string | undefined, now = Date.now()): { scope: Scope; until: number } | undefined {
    const address = this.#until(`a ${key}`, now);
    if (address !== undefined) return { scope: 'address', until: address };
    if (account === undefined) return undefined;
    const pair = this.#until(`p ${account} ${key}`, now);
    if (pair !== undefined) return { scope: 'account_address', until: pair };
    const wide = this.#until(`A ${account}`, now);
    if (wide !== undefined && this.#known.get(`${account} ${key}`) === undefined) return { scope: 'account', until: wide };
    return undefined;
  }

  /** Counts a failure; starts blocks whose threshold it reaches. Returns the account's failures in the window. */
  recordFailure(key: string, account: string | undefined, now = Date.now()): number {
    const config = this.#config();
    const counters = this.#counters();
    const until = now + config.block_duration * 1000;
    const block = (scope: Scope, blockKey: string, failures: number): void => {
      this.#blocked.set(blockKey, until);
      this.#refusals.count('trellis_auth_blocks_total', { scope });
      this.#logger.warn('c2s login blocked after repeated failures', { scope, address: key, account, failures, seconds: config.block_duration });
    };
    if (config.max_failures_per_address > 0) {
      const failures = counters.address.record(key, now);
      if (failures >= config.max_failures_per_address) {
        counters.address.clear(key);
        block('address', `a ${key}`, failures);
      }
    }
    if (account === undefined) return 0;
    if (config.max_failures_per_account_address > 0) {
      const pairKey = `${account} ${key}`;
      const failures = counters.pair.record(pairKey, now);
      if (failures >= config.max_failures_per_account_address) {
        counters.pair.clear(pairKey);
        block('account_address', `p ${pairKey}`, failures);
      }
    }
    const accountFailures = counters.account.record(account, now);
    if (config.max_failures_per_account > 0 && accountFailures >= config.max_failures_per_account && this.#until(`A ${account}`, now) === undefined) {
      block('account', `A ${account}`, accountFailures);
    }
    return accountFailures;
  }

  recordSuccess(key: string, account: string): void {
    this.#known.set(`${account} ${key}`, true);
    this.#counters().pair.clear(`${account} ${key}`);
  }

  refused(scope: Scope, key: string, account: string | undefined, until: number): void {
    this.#refusals.count('trellis_auth_refused_total', { scope });
    this.#refusals.warn(`auth ${scope} ${key} ${account ?? ''}`, 'c2s login refused: blocked after repeated failures', { scope, address: key, account, until: new Date(until).toISOString() });
  }
}

/** The throttle as one stream sees it. */
export class LoginGuard {
  readonly #throttle: LoginThrottle;
  readonly #key: string;
  readonly #domain: string;
  /** the account the current exchange names, once the mechanism has looked it up */
  #account: string | undefined;

  constructor(throttle: LoginThrottle, address: string, domain: string) {
    this.#throttle = throttle;
    this.#key = addressKey(address);
    this.#domain = domain;
  }

  /**
   * Wraps the account lookup of a SASL exchange: it learns which account is tried, and a blocked
   * attempt gets no credentials, so no password is checked for it.
   */
  lookup<T>(username: string, get: () => Promise<T | undefined>): Promise<T | undefined> {
    this.#account = `${username}@${this.#domain}`;
    if (this.#throttle.blockFor(this.#key, this.#account)) return Promise.resolve(undefined);
    return get();
  }

  /** the account the last exchange named, as user@domain */
  get account(): string | undefined {
    return this.#account;
  }

  /** The outcome to send: a blocked attempt becomes temporary-auth-failure; failures and successes are counted. */
  review<T extends LoginOutcome>(outcome: T): T | BlockedLogin {
    if (outcome.kind === 'failure' && outcome.condition === 'aborted') return outcome;
    const block = this.#throttle.blockFor(this.#key, this.#account);
    if (block) {
      this.#throttle.refused(block.scope, this.#key, this.#account, block.until);
      const element = new Element('failure', NS_SASL);
      element.c('temporary-auth-failure');
      const what = block.scope === 'address' ? `logins from ${this.#key}` : `logins to this account${block.scope === 'account_address' ? ` from ${this.#key}` : ' from new addresses'}`;
      element.c('text', { 'xml:lang': 'en' }).t(`too many failed logins: ${what} are refused until ${new Date(block.until).toISOString()}`);
      return { kind: 'failure', element, condition: 'temporary-auth-failure', mechanism: 'mechanism' in outcome ? outcome.mechanism : undefined } satisfies BlockedLogin;
    }
    if (outcome.kind === 'success') this.#throttle.recordSuccess(this.#key, `${outcome.username}@${this.#domain}`);
    return outcome;
  }

  /**
   * Counts a failed login and returns how long to wait before answering it: the per-stream
   * doubling of c2s.auth_failure_delay, or the account's failures across streams when more.
   */
  failed(outcome: LoginOutcome & { kind: 'failure' }, streamFailures: number, baseDelayMs: number): number {
    if (outcome.condition === 'temporary-auth-failure') return baseDelayMs;
    // A failure that names no account and is not a wrong password (an unknown mechanism, bad
    // base64) is a broken client, not a guess: it does not count against its address.
    if (this.#account === undefined && outcome.condition !== 'not-authorized') return Math.min(baseDelayMs * 2 ** Math.min(streamFailures - 1, 30), MAX_FAILURE_DELAY_MS);
    const accountFailures = this.#throttle.recordFailure(this.#key, this.#account);
    const exponent = Math.max(streamFailures, accountFailures) - 1;
    return Math.min(baseDelayMs * 2 ** Math.min(exponent, 30), MAX_FAILURE_DELAY_MS);
  }
}
