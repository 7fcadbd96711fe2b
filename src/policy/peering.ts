/**
 * `s2s.peering` compiled (docs/peering.md): for each of level, access and route, a domain
 * matcher over the rules that set it, so that the most specific rule setting that aspect
 * decides. Each entry keeps its key path, `s2s.peering["*.example.org"].via`.
 */
import { peeringScope } from '../config/peering.ts';
import type { FederationLevel, NextHopConfig, S2sPeeringRule } from '../config/types.ts';
import { DomainMatcher, type DomainEntry } from './domain-match.ts';

/** A route as a rule sets it. */
export type PeeringRoute = 'direct' | 'reject' | { via: NextHopConfig } | { link: string };

interface Aspects {
  level: FederationLevel;
  access: 'allow' | 'deny';
  route: PeeringRoute;
}

/** What a rule sets of `aspect`, and the key it is written at; undefined when it sets nothing of it. */
function aspectOf<K extends keyof Aspects>(rule: S2sPeeringRule, aspect: K): { key: string; value: Aspects[K] } | undefined {
  if (aspect === 'route') {
    if (rule.link !== undefined) return { key: 'link', value: { link: rule.link } as Aspects[K] };
    if (rule.via !== undefined) return { key: 'via', value: { via: rule.via } as Aspects[K] };
    return rule.route === undefined ? undefined : { key: 'route', value: rule.route as Aspects[K] };
  }
  const value = rule[aspect as 'level' | 'access'];
  return value === undefined ? undefined : { key: aspect, value: value as Aspects[K] };
}

/** The entries of the rules that set `aspect`, with the default rule's as the fallback. */
export function peeringMatcher<K extends keyof Aspects>(rules: readonly S2sPeeringRule[], aspect: K): DomainMatcher<Aspects[K]> {
  return ruleMatcher(rules, (rule) => aspectOf(rule, aspect));
}

/**
 * A matcher over the rules that set something `read` finds (its key under the rule, and its
 * value), each entry at `s2s.peering["<key>"].<key>`, the default rule's as the fallback.
 */
export function ruleMatcher<T>(rules: readonly S2sPeeringRule[], read: (rule: S2sPeeringRule) => { key: string; value: T } | undefined): DomainMatcher<T> {
  const entries: DomainEntry<T>[] = [];
  let fallback: DomainEntry<T> | undefined;
  for (const rule of rules) {
    const set = read(rule);
    if (set === undefined) continue;
    const { scope, domain } = peeringScope(rule);
    const entry = { pattern: { scope: scope === 'default' ? ('exact' as const) : scope, domain }, at: `s2s.peering[${JSON.stringify(rule.domain)}].${set.key}`, written: rule.domain, value: set.value };
    if (scope === 'default') fallback ??= entry;
    else entries.push(entry);
  }
  return new DomainMatcher(entries, fallback);
}
