/**
 * `s2s.peering`: peering rules, one per remote domain pattern (docs/peering.md). This file reads
 * them into their resolved form and reports what cannot work, each problem at its key path: a
 * next hop that is not one or would route to ourselves, a rule that can never apply, two rules
 * that would decide the same thing for the same domains.
 */
import { isIP } from 'node:net';
import { prepareDomain } from '../jid/jid.ts';
import { entryPath } from './describe.ts';
import { parseJidPattern } from './jid-pattern.ts';
import { PEERING_CHECK_KEYS, type FederationLevel, type NextHopConfig, type PeeringChecks, type PeeringGroup, type PeeringScope, type S2sPeeringRule } from './types.ts';
import type { ConfigProblem } from './validate.ts';

/** A rule as the validator hands it over. */
export interface ValidatedPeeringRule extends PeeringChecks {
  subdomains: boolean;
  level?: FederationLevel;
  access?: 'allow' | 'deny';
  route?: 'direct' | 'reject';
  via?: string;
  link?: string;
  speaks_for?: readonly string[];
  front?: boolean;
}

/** The key of the default rule. */
export const DEFAULT_PEERING_KEY = '*';

/** A rule key: "*" for the default, "*.example.com" for the subdomains, else a domain. */
export function preparePeeringKey(key: string): string {
  if (key === DEFAULT_PEERING_KEY) return key;
  return key.startsWith('*.') ? `*.${prepareDomain(key.slice(2))}` : prepareDomain(key);
}

/**
 * A next hop as written: "host:port" or "[ipv6]:port" is reached at that address and port with
 * no SRV lookup; a domain (an IP address among them) is looked up as any remote domain is.
 * Throws with the reason when it is neither.
 */
export function parseNextHop(text: string): NextHopConfig {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const withPort = bracketed ?? (isIP(text) === 0 ? /^([^:]+):(\d+)$/.exec(text) : null);
  if (withPort) {
    const port = Number(withPort[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`the port of ${JSON.stringify(text)} must be from 1 to 65535`);
    const host = withPort[1]!;
    if (bracketed && isIP(host) !== 6) throw new Error(`${JSON.stringify(host)} in brackets must be an IPv6 address`);
    return { kind: 'address', host: isIP(host) === 0 ? prepareDomain(host) : host, port };
  }
  if (isIP(text) !== 0) return { kind: 'domain', domain: text };
  return { kind: 'domain', domain: prepareDomain(text) };
}

/** How a next hop is written back, for messages and docs. */
export function formatNextHop(hop: NextHopConfig): string {
  if (hop.kind === 'domain') return hop.domain;
  return isIP(hop.host) === 6 ? `[${hop.host}]:${hop.port}` : `${hop.host}:${hop.port}`;
}

/** What a rule covers, from its key (src/policy/domain-match.ts matches it). */
export function peeringScope(rule: Pick<S2sPeeringRule, 'domain' | 'subdomains'>): { scope: PeeringScope; domain: string } {
  if (rule.domain === DEFAULT_PEERING_KEY) return { scope: 'default', domain: '' };
  if (rule.domain.startsWith('*.')) return { scope: 'subdomains', domain: rule.domain.slice(2) };
  return { scope: rule.subdomains ? 'domain-and-subdomains' : 'exact', domain: rule.domain };
}

const ASPECTS = ['level', 'access', 'route', ...PEERING_CHECK_KEYS] as const;

/**
 * The rules in the order written, with what cannot work reported: `hosted` are the domains
 * served here, `peers` the keys of `s2s.peers` (which also set levels).
 */
export function resolvePeering(
  rules: Readonly<Record<string, ValidatedPeeringRule>>,
  hosted: ReadonlySet<string>,
  peers: readonly string[],
  groups: readonly PeeringGroup[],
  problems: ConfigProblem[],
): S2sPeeringRule[] {
  const resolved: S2sPeeringRule[] = [];
  for (const [key, rule] of Object.entries(rules)) {
    const at = entryPath('s2s.peering', key);
    const { scope, domain } = peeringScope({ domain: key, subdomains: rule.subdomains });
    if (rule.subdomains && scope !== 'domain-and-subdomains') problems.push({ path: `${at}.subdomains`, message: `subdomains applies to a domain key; "${key}" already says what it covers` });
    const { subdomains: _, level, access, route, via: hop, link, speaks_for: speaksFor, front, ...checks } = rule;
    if (level === undefined && access === undefined && route === undefined && hop === undefined && link === undefined && speaksFor === undefined && front === undefined && Object.keys(checks).length === 0) {
      problems.push({ path: at, message: 'the rule sets none of level, access, route, via, link, speaks_for, front or a check, so it never decides anything' });
    }
    if (speaksFor !== undefined) reportSpeaksFor(speaksFor, { at, scope, hosted }, problems);
    if (front === true) reportFront(rule, { at, scope }, problems);
    if (link !== undefined && (hop !== undefined || route === 'reject')) problems.push({ path: `${at}.link`, message: 'a route is one of route, via or link; keep one' });
    reportUnknownGroups(checks, at, groups, problems);
    if (scope === 'default' && rule.level !== undefined) problems.push({ path: `${at}.level`, message: 'the level of every other domain is s2s.min_level; write it there' });
    if (scope === 'exact' && hosted.has(domain)) problems.push({ path: at, message: `${domain} is hosted here: nothing leaves for it and no server speaks for it, so the rule never applies` });
    let via: NextHopConfig | undefined;
    if (rule.via !== undefined) {
      via = parseNextHop(rule.via);
      if (rule.route === 'reject') problems.push({ path: `${at}.via`, message: 'route: reject sends nothing anywhere; remove via or the reject' });
      if (via.kind === 'domain' && hosted.has(via.domain)) problems.push({ path: `${at}.via`, message: `${via.domain} is hosted here: the next hop would route stanzas back to this server` });
    }
    resolved.push({
      domain: key,
      subdomains: rule.subdomains,
      ...(rule.level ? { level: rule.level } : {}),
      ...(rule.access ? { access: rule.access } : {}),
      ...(rule.route ? { route: rule.route } : {}),
      ...(via ? { via } : {}),
      ...(link ? { link } : {}),
      ...(speaksFor ? { speaks_for: speaksFor } : {}),
      ...(front ? { front } : {}),
      ...checks,
    });
  }
  reportOverlaps(resolved, peers, problems);
  reportTrunkChains(resolved, problems);
  reportFrontedHops(resolved, problems);
  return resolved;
}

/**
 * `front` (docs/peering.md, "Fronting a plain peer"): this server answers for one domain, named
 * in stream headers and certificates one by one (no pattern), and hands its stanzas on to the
 * domain's own server, which a `via` reaches: the domain's DNS records name this server. A trunk
 * (speaks_for) is a peer server of its own, not a domain fronted here.
 */
function reportFront(rule: ValidatedPeeringRule, where: { at: string; scope: PeeringScope }, problems: ConfigProblem[]): void {
  const at = `${where.at}.front`;
  if (where.scope !== 'exact') problems.push({ path: at, message: 'front names one domain this server answers for: write it on a rule for that domain alone (no pattern, no subdomains); a subdomain is fronted by a rule of its own' });
  if (rule.via === undefined) problems.push({ path: at, message: "a fronted domain's stanzas go on to its own server: give the rule a via (host:port or a domain), since the domain's DNS records name this server" });
  if (rule.speaks_for !== undefined) problems.push({ path: at, message: 'a trunk (speaks_for) is a peer server of its own; front is for a domain served behind this server: keep one' });
}

/** A fronted domain's next hop may not be another domain fronted here: its DNS records name this server (a loop). */
function reportFrontedHops(rules: readonly S2sPeeringRule[], problems: ConfigProblem[]): void {
  const fronted = new Set(rules.filter((rule) => rule.front === true).map((rule) => rule.domain));
  for (const rule of rules) {
    if (rule.via?.kind !== 'domain' || !fronted.has(rule.via.domain)) continue;
    problems.push({ path: `${entryPath('s2s.peering', rule.domain)}.via`, message: `${rule.via.domain} is fronted here: its DNS records name this server, so the next hop would route stanzas back to it` });
  }
}

/**
 * `speaks_for` names one peer server, so it sits on a domain key; a hosted domain is never spoken
 * for by a peer (that would let it send as our own users).
 */
function reportSpeaksFor(patterns: readonly string[], rule: { at: string; scope: PeeringScope; hosted: ReadonlySet<string> }, problems: ConfigProblem[]): void {
  if (rule.scope !== 'exact') problems.push({ path: `${rule.at}.speaks_for`, message: 'speaks_for names what one peer server speaks for: write it on a rule for that domain alone (no pattern, no subdomains)' });
  patterns.forEach((pattern, index) => {
    if (rule.hosted.has(pattern)) problems.push({ path: `${rule.at}.speaks_for[${index}]`, message: `${pattern} is hosted here: no peer speaks for it` });
  });
}

/**
 * A loop visible in one configuration: a trunk peer (a rule with speaks_for) is reached by its
 * own route, which must not lead through another trunk, or stanzas for the domains behind the
 * one would be handed to the other and back. The route read here is the trunk's own rule's, else
 * the default's (patterns between them are left to the run-time check of the relay trace).
 */
function reportTrunkChains(rules: readonly S2sPeeringRule[], problems: ConfigProblem[]): void {
  const routed = rules.filter((rule) => setsAspect(rule, 'route') !== undefined);
  for (const trunk of rules) {
    if (trunk.speaks_for === undefined) continue;
    const own = routed.find((rule) => rule.domain === trunk.domain) ?? routed.find((rule) => rule.domain === DEFAULT_PEERING_KEY);
    const hop = own?.via?.kind === 'domain' ? own.via.domain : undefined;
    if (hop === undefined || hop === trunk.domain) continue;
    if (rules.some((other) => other.domain === hop && other.speaks_for !== undefined)) {
      problems.push({ path: `${entryPath('s2s.peering', own!.domain)}.via`, message: `${trunk.domain} is a trunk (it has speaks_for) and its route leads through ${hop}, another trunk: a trunk is reached by its own route (a host:port, its DNS records or a link)` });
    }
  }
}

const PATTERN_LISTS = ['senders', 'recipients', 'deny_senders', 'deny_recipients'] as const;

/** A `group:NAME` pattern must name a group of `s2s.peering_groups`. */
function reportUnknownGroups(checks: PeeringChecks, at: string, groups: readonly PeeringGroup[], problems: ConfigProblem[]): void {
  for (const list of PATTERN_LISTS) {
    (checks[list] ?? []).forEach((written, index) => {
      const pattern = parseJidPattern(written);
      if (pattern.kind === 'group' && !groups.some((group) => group.name === pattern.name)) {
        problems.push({ path: `${at}.${list}[${index}]`, message: `no group "${pattern.name}" in s2s.peering_groups` });
      }
    });
  }
}

/** `s2s.peering_groups` in the order written; a member pattern may not name another group. */
export function resolvePeeringGroups(groups: Readonly<Record<string, { members: readonly string[] }>>, problems: ConfigProblem[]): PeeringGroup[] {
  return Object.entries(groups).map(([name, group]) => {
    group.members.forEach((member, index) => {
      if (parseJidPattern(member).kind === 'group') problems.push({ path: `${entryPath('s2s.peering_groups', name)}.members[${index}]`, message: 'a group lists accounts and address patterns, not other groups' });
    });
    return { name, members: group.members };
  });
}

/** The key of the aspect a rule sets: a route is written as route or as via. */
function setsAspect(rule: S2sPeeringRule, aspect: (typeof ASPECTS)[number]): string | undefined {
  if (aspect === 'route') return rule.link !== undefined ? 'link' : rule.via !== undefined ? 'via' : rule.route !== undefined ? 'route' : undefined;
  return rule[aspect] !== undefined ? aspect : undefined;
}

/**
 * Rules that decide the same thing for the same domains with neither more specific: "*.x" and
 * "x" with subdomains both cover x's subdomains equally; and a level set both here and in
 * `s2s.peers` for one key.
 */
function reportOverlaps(rules: readonly S2sPeeringRule[], peers: readonly string[], problems: ConfigProblem[]): void {
  for (const rule of rules) {
    const { scope, domain } = peeringScope(rule);
    if (scope !== 'subdomains') continue;
    const tree = rules.find((other) => other.subdomains && other.domain === domain);
    if (!tree) continue;
    for (const aspect of ASPECTS) {
      const written = setsAspect(rule, aspect);
      if (written === undefined || setsAspect(tree, aspect) === undefined) continue;
      problems.push({
        path: `${entryPath('s2s.peering', rule.domain)}.${written}`,
        message: `${entryPath('s2s.peering', tree.domain)} (with subdomains) sets the ${aspect} of the same subdomains and neither is more specific; keep one`,
      });
    }
  }
  for (const rule of rules) {
    if (rule.level !== undefined && peers.includes(rule.domain)) {
      problems.push({ path: `${entryPath('s2s.peering', rule.domain)}.level`, message: `${entryPath('s2s.peers', rule.domain)}.level sets it too; write it in one place (s2s.peering)` });
    }
  }
}
