/**
 * Peering policy compiled once from the configuration (DESIGN: policy returns verdicts), with
 * an entry point for each question the server asks: may this connection stay, may this pair
 * be authenticated with what it proved, may this stanza come in or go out, and which way a
 * stanza for a remote domain goes. `trellis reload` compiles a new snapshot and swaps it in
 * (LivePolicy); nothing here keeps state beyond the operator's run-time bans and blocks.
 */
import type { FederationLevel, ForeignAccessRules, HostConfig, S2sConfig, TrellisConfig } from '../config/types.ts';
import type { Element } from '../xml/element.ts';
import { describeBan, describeBlock, type AbuseList } from './abuse-list.ts';
import type { DomainMatcher } from './domain-match.ts';
import { ForeignAccess, type ForeignAccessKeys } from './foreign-access.ts';
import { demandsOf, meetsLevel, RequiredLevels, type LevelDemands, type LevelRequirement } from './levels.ts';
import { PeerAccess, type PeerDecision, type PeerQuery } from './peer-access.ts';
import type { JidPattern } from '../config/jid-pattern.ts';
import { compileGroups } from './jid-rules.ts';
import { PeeringCheckRules } from './peering-checks.ts';
import { peeringMatcher, type PeeringRoute } from './peering.ts';
import type { Crossing, StanzaJudgement } from './stanza-checks.ts';
import { judgeCrossing } from './crossing.ts';
import { SecurityLabels, type Clearance } from './labels.ts';
import { Trunks } from './trunks.ts';
import { close, proceed, reject, route, type Admission, type Routing, type StanzaVerdict, type Verdict } from './verdict.ts';

/** What a policy is compiled from: the peering keys of the configuration. */
export type PolicySource = Pick<TrellisConfig, 'foreign_access'> & {
  s2s: Pick<S2sConfig, 'min_level' | 'peers' | 'peering' | 'access'> & Partial<Pick<S2sConfig, 'peering_groups' | 'relay_hop_limit' | 'security_labels'>>;
  hosts: readonly Pick<HostConfig, 'domain' | 'foreign_access'>[];
};

export interface PeerFacts extends PeerQuery {
  direction: 'in' | 'out';
}

/** What is known of a pair when it asks to be authenticated, or when it is checked again. */
export interface PairFacts {
  local: string;
  remote: string;
  /** the peer's IP address */
  address?: string;
  /** the level its proof reached; undefined before the proof is done */
  reached?: FederationLevel;
  /** whether the connection is TLS-protected, once known */
  tls?: boolean;
  /** how the pair was proven: "sasl-external", "dialback", ... (src/s2s/context.ts AuthMethod) */
  method?: string;
}

/** Servers a relayed stanza may cross when `s2s.relay_hop_limit` is not given. */
const DEFAULT_HOP_LIMIT = 8;

/** The judgement of every stanza when no rule has a check and no labels are configured: one object, not one per stanza. */
const NO_CHECKS: StanzaJudgement = Object.freeze({ verdict: Object.freeze(proceed('s2s.peering', 'no check applies')), steps: Object.freeze([]) });

export class PolicySnapshot {
  readonly #access: PeerAccess;
  readonly #peeringAccess: DomainMatcher<'allow' | 'deny'>;
  readonly #routes: DomainMatcher<PeeringRoute>;
  readonly #levels: RequiredLevels;
  readonly #foreign = new Map<string, ForeignAccess>();
  readonly #foreignDefault: ForeignAccess;
  readonly #abuse: AbuseList | undefined;
  readonly #checks: PeeringCheckRules;
  readonly #groups: Map<string, JidPattern[]>;
  readonly #trunks: Trunks;
  readonly #hosted: ReadonlySet<string>;
  /** domains this server fronts for plain peers (`front`), lower case */
  readonly fronted: ReadonlySet<string>;
  readonly #hopLimit: number;
  /** the domain this server relays as: its first hosted domain */
  readonly relayDomain: string | undefined;
  /** `s2s.security_labels` compiled; undefined when labels are not configured */
  readonly labels: SecurityLabels | undefined;

  /**
   * Throws when the source holds what the config validator refuses (a bad address range).
   * `abuse`: the operator's run-time bans and blocks (`trellis ban`, `trellis s2s block`),
   * checked before the configured lists.
   */
  constructor(source: PolicySource, abuse?: AbuseList) {
    this.#access = new PeerAccess(source.s2s.access);
    this.#peeringAccess = peeringMatcher(source.s2s.peering, 'access');
    this.#routes = peeringMatcher(source.s2s.peering, 'route');
    this.#levels = new RequiredLevels(source.s2s);
    this.#foreignDefault = new ForeignAccess(source.foreign_access);
    for (const host of source.hosts) this.#foreign.set(host.domain, new ForeignAccess(host.foreign_access, foreignKeys(host, source.foreign_access)));
    this.#abuse = abuse;
    this.#checks = new PeeringCheckRules(source.s2s.peering);
    this.#groups = compileGroups(source.s2s.peering_groups ?? []);
    this.#hosted = new Set(source.hosts.map((host) => host.domain));
    this.#trunks = new Trunks(source.s2s.peering, this.#hosted);
    this.fronted = new Set(source.s2s.peering.filter((rule) => rule.front === true).map((rule) => rule.domain.toLowerCase()));
    this.#hopLimit = source.s2s.relay_hop_limit ?? DEFAULT_HOP_LIMIT;
    this.relayDomain = source.hosts[0]?.domain;
    this.labels = source.s2s.security_labels === undefined ? undefined : new SecurityLabels(source.s2s.security_labels, this.#groups);
  }

  /**
   * Whether this server fronts `domain` for plain peers (docs/peering.md, "Fronting a plain
   * peer"): it takes their streams, dialback and SASL for it and authenticates as it toward them,
   * while the domain's stanzas are relayed to its own server behind.
   */
  fronts(domain: string): boolean {
    return this.fronted.has(domain.toLowerCase());
  }

  /** Whether the authenticated peer `peer` may send stanzas whose `from` is at `domain` (its rule's speaks_for). */
  speaksFor(peer: string, domain: string): Admission {
    return this.#trunks.speaksFor(peer, domain);
  }

  /**
   * Whether this server relays a stanza from a remote domain to another remote domain: both must
   * be routed by a rule (route: direct, via or link, the default rule included), so that this
   * server stands between them by its operator's choice. Refused with remote-server-not-found
   * when no rule routes one of them (RFC 6120 section 10.4 stands: nothing is forwarded to a
   * third domain), with not-allowed when a rule rejects it (the stanza bounces).
   */
  relay(from: string, to: string): Admission {
    for (const domain of [to, from]) {
      const entry = this.#routes.match(domain);
      if (entry === undefined) return reject('s2s.peering', 'remote-server-not-found', `this server does not relay for ${domain}: no s2s.peering rule routes it`);
      if (entry.value === 'reject') return reject(entry.at, 'not-allowed', `${entry.at} (reject) refuses stanzas for ${domain}`);
    }
    return proceed(this.#routes.match(to)!.at, `${from} -> ${to} relayed`);
  }

  /** Whether `peer` is a trunk: an s2s.peering rule gives it domains to speak for. */
  isTrunk(peer: string): boolean {
    return this.#trunks.isTrunk(peer);
  }

  /**
   * The trunk a stanza for `remote` travels to: when its route goes via a domain whose rule has
   * speaks_for, the stream is with that peer (the pair names it), not with `remote`.
   */
  trunkFor(remote: string): string | undefined {
    const way = this.#routes.match(remote)?.value;
    if (way === undefined || typeof way === 'string' || !('via' in way) || way.via.kind !== 'domain') return undefined;
    const peer = way.via.domain;
    return peer !== remote.toLowerCase() && this.#trunks.isTrunk(peer) ? peer : undefined;
  }

  /**
   * A relayed stanza's trace (the relay domains of the servers it crossed, oldest first): it may
   * not come back to this server, nor have crossed more than `s2s.relay_hop_limit` servers.
   * Refused: undefined-condition with a routing-loop condition, never sent on.
   */
  relayTrace(hops: readonly string[], to: string): Admission {
    const back = hops.find((hop) => this.#hosted.has(hop));
    const rule = this.#routes.match(to)?.at ?? 's2s.peering';
    if (back !== undefined) return reject(rule, 'undefined-condition', `routing loop: the stanza for ${to} came back to ${back} (crossed ${hops.join(', ')})`, { type: 'cancel' });
    if (hops.length >= this.#hopLimit) return reject('s2s.relay_hop_limit', 'undefined-condition', `routing loop: the stanza for ${to} crossed ${hops.length} servers (${hops.join(', ')}), at most ${this.#hopLimit} relay it`, { type: 'cancel' });
    return proceed(rule, `${hops.length} servers crossed`);
  }

  /**
   * A server connection, in either direction, by what is known of it: the peer's address and
   * the domain its stream names. Refused: the stream ends (or, outgoing, is not opened) with
   * policy-violation (RFC 6120 section 4.9.3.14).
   */
  connection(peer: PeerFacts): Verdict {
    const decision = this.#peer(peer);
    if (!decision.allowed) return close(decision.rule, 'policy-violation', decision.reason);
    return proceed(decision.rule, `${peer.domain ?? peer.address ?? 'the peer'} may federate`);
  }

  /** The level a remote domain must reach (before the domain is known, `s2s.min_level`), the rule that says so, and what it demands. */
  requirement(remote: string | undefined): LevelRequirement & { demands: LevelDemands } {
    const required = this.#levels.of(remote);
    return { ...required, demands: demandsOf(required.level) };
  }

  /**
   * A pair (local domain, remote domain) on a connection: allowed by the lists, and, once its
   * proof is done, proven at the level its remote domain must reach. Refused: the pair is
   * refused with policy-violation and the connection's other pairs live.
   */
  authenticate(pair: PairFacts): Admission {
    const decision = this.#peer({ domain: pair.remote, address: pair.address });
    if (!decision.allowed) return reject(decision.rule, 'policy-violation', decision.reason, { type: 'cancel' });
    if (pair.reached === undefined) return proceed(decision.rule, `${pair.remote} may federate`);
    const required = this.#levels.of(pair.remote);
    if (!meetsLevel(pair.reached, required.level)) {
      return reject(required.rule, 'policy-violation', `${pair.remote} reached ${pair.reached} where ${required.rule} requires ${required.level}`, { type: 'cancel' });
    }
    return this.#connectionChecks(pair) ?? proceed(required.rule, `${pair.remote} reached ${pair.reached}, ${required.level} is required`);
  }

  /** What the pair's rule demands of its connection, for `trellis policy explain`: each demand and its key path. */
  pairDemands(remote: string): { demand: string; rule: string }[] {
    const checks = this.#checks.of(remote);
    const demands: { demand: string; rule: string }[] = [];
    if (checks.require_tls?.value) demands.push({ demand: 'a TLS-protected connection', rule: checks.require_tls.at });
    if (checks.require_strong_auth?.value) demands.push({ demand: 'SASL EXTERNAL with a trusted certificate', rule: checks.require_strong_auth.at });
    return demands;
  }

  /** `require_tls` and `require_strong_auth` of the pair's rule, once its proof is done (docs/peering.md). */
  #connectionChecks(pair: PairFacts): Admission | undefined {
    const checks = this.#checks.of(pair.remote);
    if (checks.require_tls?.value && pair.tls === false) {
      return reject(checks.require_tls.at, 'policy-violation', `${pair.remote} is on a connection without TLS where ${checks.require_tls.at} requires it`, { type: 'cancel' });
    }
    const strong = checks.require_strong_auth;
    // Strong: SASL EXTERNAL (RFC 6120 section 6.4, XEP-0178) with a certificate that chains to a trusted CA, which is what reaches trusted.
    if (strong?.value && pair.method !== undefined && !(pair.method === 'sasl-external' && pair.reached === 'trusted')) {
      return reject(strong.at, 'policy-violation', `${pair.remote} was proven by ${pair.method} at ${pair.reached} where ${strong.at} requires SASL EXTERNAL with a trusted certificate`, { type: 'cancel' });
    }
    return undefined;
  }

  /**
   * The checks and actions of the peering rule of a stanza's remote domain, for a stanza that
   * crosses to it (`out`) or from it (`in`), at every server it crosses: each check's step with
   * its key path, and the verdict (docs/peering.md, "Checks and actions"). The steps of checks
   * that passed are there only when `explain` asks for them.
   */
  stanzaCrossing(stanza: Element, crossing: Crossing, explain = false): StanzaJudgement {
    if (this.#checks.empty && this.labels === undefined) return NO_CHECKS;
    const remote = crossing.direction === 'out' ? crossing.to.domain : crossing.from.domain;
    return judgeCrossing(stanza, crossing, this.#checks.of(remote), this.#groups, this.labels, explain);
  }

  /** The clearance of the servers of a remote domain (docs/labels.md): its rule's `clearance`, else the governing policy's default; undefined without labels. */
  peerClearance(remote: string): Clearance | undefined {
    return this.labels?.peerClearance(this.#checks.of(remote).clearance);
  }

  /** A stanza from a remote server to a local host (or a service host under it, by its parent's settings). */
  stanzaIn(stanza: Element, hostDomain: string): StanzaVerdict {
    return (this.#foreign.get(hostDomain) ?? this.#foreignDefault).judge(stanza);
  }

  /** A stanza for a remote domain: whether it may leave. Refused: it bounces with not-allowed (RFC 6120 section 8.3.3.10). */
  stanzaOut(remote: string): Admission {
    const decision = this.#peer({ domain: remote });
    if (!decision.allowed) return reject(decision.rule, 'not-allowed', decision.reason);
    return proceed(decision.rule, `${remote} may federate`);
  }

  /**
   * Which way a stanza for a remote domain goes, by the most specific `s2s.peering` rule with a
   * route: its own servers found by DNS (RFC 6120 section 3.2, also when no rule says), a next
   * hop, or nowhere (it bounces with not-allowed, RFC 6120 section 8.3.3.10).
   */
  route(remote: string): Routing {
    const entry = this.#routes.match(remote);
    if (entry === undefined) return route('s2s.peering', { kind: 'direct' }, `${remote} by its own DNS records (no route configured)`);
    const way = entry.value;
    if (way === 'reject') return reject(entry.at, 'not-allowed', `${entry.at} (reject) refuses stanzas for ${remote}`);
    if (way === 'direct') return route(entry.at, { kind: 'direct' }, `${remote} by its own DNS records`);
    if ('link' in way) return route(entry.at, { kind: 'link', link: way.link }, `${remote} over the link ${way.link}`);
    const hop = way.via;
    return route(entry.at, hop, `${remote} via ${hop.kind === 'domain' ? hop.domain : `${hop.host}:${hop.port}`}`);
  }

  /** The run-time blocks and bans, the allow and deny lists of `s2s.access`, then `s2s.peering` access. */
  #peer(query: PeerQuery): PeerDecision {
    const block = query.domain === undefined ? undefined : this.#abuse?.blockFor(query.domain);
    if (block) return { allowed: false, rule: 'trellis s2s block', reason: describeBlock(block) };
    const ban = query.address === undefined ? undefined : this.#abuse?.banFor(query.address);
    if (ban) return { allowed: false, rule: 'trellis ban', reason: describeBan(ban) };
    const listed = this.#access.check(query);
    if (!listed.allowed || query.domain === undefined) return listed;
    const rule = this.#peeringAccess.match(query.domain);
    if (rule?.value === 'deny') return { allowed: false, rule: rule.at, reason: `${rule.at} (deny) refuses ${query.domain.toLowerCase()}` };
    return rule ? { allowed: true, rule: rule.at } : listed;
  }
}

/**
 * Where a host's foreign access keys were written: in its own section, or inherited from the
 * top level. A host that repeats the top-level value is named at the top-level key.
 */
function foreignKeys(host: Pick<HostConfig, 'domain' | 'foreign_access'>, defaults: ForeignAccessRules): ForeignAccessKeys {
  const at = (key: keyof ForeignAccessRules): string =>
    JSON.stringify(host.foreign_access[key]) === JSON.stringify(defaults[key]) ? `foreign_access.${key}` : `hosts[${JSON.stringify(host.domain)}].foreign_access.${key}`;
  return { default: at('default'), deny: at('deny'), allow: at('allow') };
}

/** The snapshot in force; `trellis reload` swaps in a new one, and every decision after that uses it. */
export class LivePolicy {
  #current: PolicySnapshot;

  constructor(snapshot: PolicySnapshot) {
    this.#current = snapshot;
  }

  get current(): PolicySnapshot {
    return this.#current;
  }

  replace(next: PolicySnapshot): void {
    this.#current = next;
  }
}
