/** What server streams share: configuration, secrets, trust anchors and the router. */
import type { X509Certificate } from 'node:crypto';
import type { S2sConfig } from '../config/types.ts';
import type { DnsLookup } from '../net/dns.ts';
import type { TlsContextStore } from '../net/tls-contexts.ts';
import type { Router } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import type { LivePolicy } from '../policy/snapshot.ts';
import type { Limits } from '../limits/limits.ts';
import type { OutputBudget } from '../net/output-budget.ts';
import type { DelegationChecks } from '../delegation/from-config.ts';
import type { PairMethod } from './pair-authorization.ts';
import type { S2sLinks } from './link-profile.ts';

export interface S2sContext {
  config: S2sConfig;
  /** the dialback secret (XEP-0185 section 2) */
  secret: string;
  /** CA certificates peers' certificates must chain to */
  anchors: readonly X509Certificate[];
  /** our certificates, by hosted domain */
  tls: TlsContextStore;
  dns: DnsLookup;
  router: Router;
  /** peering policy in force (src/policy); each decision asks `policy.current` */
  policy: LivePolicy;
  logger: Logger;
  /** connection limits and run-time bans (src/limits) */
  limits: Limits;
  /** what server connections hold until their peers have it (s2s.output) */
  output: OutputBudget;
  /** the proofs of delegation `s2s.delegation` turns on (src/delegation); none when absent */
  delegation?: DelegationChecks;
  /** our host's name, when host-named streams are on (`s2s.host_streams`); its certificate is in `tls` */
  hostName?: string;
  /** the links of protocol s2s (src/links): their domains' streams follow the link's settings (link-profile.ts) */
  links?: S2sLinks;
}

/** How a pair was authorized: SASL EXTERNAL, dialback, or a keyless request granted on a proof (pair-authorization.ts). */
export type AuthMethod = 'sasl-external' | 'dialback' | 'none' | PairMethod;

/** One pair bound to a connection in one direction, and how it was proven there (pair-proof.ts). */
export interface S2sBindingInfo {
  local: string;
  remote: string;
  direction: 'in' | 'out';
  method: AuthMethod;
  level: string;
}

/** One row of the binding table for `trellis s2s`: a pair and its connections in list order (the first outbound one carries it). */
export interface S2sPairInfo {
  local: string;
  remote: string;
  outbound: { connection: string; method: AuthMethod; level: string }[];
  inbound: { connection: string; method: AuthMethod; level: string }[];
}

/** One row of `trellis s2s`: what a server connection is and how it was secured. */
export interface S2sConnectionInfo {
  id: string;
  direction: 'in' | 'out';
  /** the remote domain the connection is for (the stream's `to` outbound, `from` inbound) */
  remoteDomain: string | undefined;
  remoteAddress: string;
  /** the peer's IP address alone: the host at the other end, the same whichever side opened the connection */
  remoteIp: string;
  /** for 'out', the host name DNS led to (the SRV target, or the domain itself); undefined for 'in' */
  remoteHost: string | undefined;
  tls: { protocol: string; cipher: string } | undefined;
  certificate: string;
  authentication: AuthMethod | 'pending';
  level: string | undefined;
  /** XEP-0288: the connection carries stanzas both ways */
  bidi: boolean;
  /** the stream is named after the two hosts (docs/protocols/host-named-streams.md); `remoteDomain` is then the peer's host name */
  hostNamed?: boolean;
  /** authorized domain pairs carried, as "local -> remote" (sent on it) or "local <- remote" (received on it) */
  domains: string[];
  /** the connection table's row: the names the peer's certificate proved for the pairs it asked, and the domains it proved otherwise */
  serverNames: string[];
  delegatedNames: string[];
  /** the binding table's entries for this connection, in the order they were bound, with how each was proven */
  pairs: S2sBindingInfo[];
  connectedAt: number;
  idleSeconds: number;
  bytesIn: number;
  bytesOut: number;
  /** stanzas carried each way, and how many of them were errors */
  stanzasIn: number;
  stanzasOut: number;
  errorsIn: number;
  errorsOut: number;
  /** stanzas a second the peer may send on it: s2s.rate for each inbound pair, up to s2s.rate_pairs_max of them */
  readStanzasPerSecond: number | undefined;
}

/**
 * Whether this server answers for `domain` toward other servers (stream `to`, dialback, SASL):
 * a domain it hosts, or one it fronts for plain peers (docs/peering.md, "Fronting a plain peer").
 */
export function answersFor(context: Pick<S2sContext, 'router' | 'policy'>, domain: string): boolean {
  return context.router.hosts.has(domain) || context.policy.current.fronts(domain);
}
