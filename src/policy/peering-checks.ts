/**
 * The checks and actions of `s2s.peering` compiled (docs/peering.md, "Checks and actions"): for
 * each check key, the most specific rule that writes it decides, so a rule for one domain can
 * turn off what `"*"` turns on. What applies to one remote domain is resolved once and kept
 * (bounded) for the stanzas that follow.
 */
import { PEERING_CHECK_KEYS, type PeeringChecks, type S2sPeeringRule } from '../config/types.ts';
import type { DomainMatcher } from './domain-match.ts';
import { ruleMatcher } from './peering.ts';

export const CHECK_KEYS = PEERING_CHECK_KEYS;

export type CheckKey = (typeof CHECK_KEYS)[number];

/** One check as it applies to a domain: its value and the key path of the rule that set it. */
export interface Setting<K extends CheckKey> {
  value: NonNullable<PeeringChecks[K]>;
  at: string;
}

/** What applies to one remote domain; a key no rule writes is absent (not checked). */
export type DomainChecks = { readonly [K in CheckKey]?: Setting<K> };

/** Remote domains whose resolved checks are kept; past this the cache starts over. */
const CACHED_DOMAINS = 4096;

export class PeeringCheckRules {
  readonly #matchers = new Map<CheckKey, DomainMatcher<unknown>>();
  readonly #resolved = new Map<string, DomainChecks>();

  constructor(rules: readonly S2sPeeringRule[]) {
    for (const key of CHECK_KEYS) {
      const matcher = ruleMatcher<unknown>(rules, (rule) => (rule[key] === undefined ? undefined : { key, value: rule[key] }));
      if (matcher.size > 0 || matcher.match('') !== undefined) this.#matchers.set(key, matcher);
    }
  }

  /** Whether any rule writes any check: when none does, stanzas are not looked at. */
  get empty(): boolean {
    return this.#matchers.size === 0;
  }

  /** The checks that apply to stanzas to or from `remote`. */
  of(remote: string): DomainChecks {
    const domain = remote.toLowerCase();
    const known = this.#resolved.get(domain);
    if (known) return known;
    const checks: Record<string, Setting<CheckKey>> = {};
    for (const [key, matcher] of this.#matchers) {
      const entry = matcher.match(domain);
      if (entry) checks[key] = { value: entry.value as Setting<CheckKey>['value'], at: entry.at };
    }
    if (this.#resolved.size >= CACHED_DOMAINS) this.#resolved.clear();
    this.#resolved.set(domain, checks);
    return checks;
  }
}
