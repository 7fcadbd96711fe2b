/**
 * The live federation map's model (docs/console.md): this server, the remote hosts it has
 * connections with and the remote domains they carry as nodes; each server connection as an edge
 * with its direction, level, authentication, certificate, TLS, pairs and traffic; the routes
 * (`s2s.peering` rules with `via`, `link` or `route: reject`) and links of the configuration; the
 * peering rules' recent refusals by remote domain; and the error replies and failed connection
 * attempts since the start. Everything is read from the admin API's rows (src/admin/sources.ts),
 * so the console and `trellis s2s` never disagree.
 */
import { isIP } from 'node:net';
import { pairRows, s2sRows, type AdminSources } from '../admin/sources.ts';
import type { S2sRow } from '../admin/types.ts';
import type { LinkConfig, S2sPeeringRule } from '../config/types.ts';

export interface MapNode {
  id: string;
  kind: 'server' | 'host' | 'domain' | 'route' | 'link';
  label: string;
  /** for a domain: the peering rules' refusals of its stanzas among the recent alerts */
  refusals?: number;
  /** for a link: connected or not */
  up?: boolean;
}

export interface MapEdge {
  id: string;
  /** connection: a server connection; carries: a host serves a domain's pairs; route / link: from the configuration */
  kind: 'connection' | 'carries' | 'route' | 'link';
  source: string;
  target: string;
  /** for a connection: its row as `trellis s2s --json` gives it */
  connection?: S2sRow;
  /** for a route or link: what it says */
  label?: string;
}

export interface MapAlert {
  sequence: number;
  time: string;
  rule: string;
  direction: 'in' | 'out';
  from: string;
  to: string;
  kind: string;
  text: string;
  /** the remote domain the refusal concerns */
  domain: string;
}

export interface FederationMap {
  nodes: MapNode[];
  edges: MapEdge[];
  alerts: MapAlert[];
  /** error replies the server generated (bounces and refusals) since the start, by condition */
  bounces: { condition: string; count: number }[];
  /** server connections that could not be opened since the start, by reason */
  failedConnections: { reason: string; count: number }[];
}

export interface MapConfig {
  peering: readonly S2sPeeringRule[];
  links: readonly LinkConfig[];
}

const SERVER = 'server';

export function federationMap(sources: AdminSources, config: MapConfig): FederationMap {
  const nodes = new Map<string, MapNode>();
  const edges: MapEdge[] = [];
  const node = (value: MapNode): string => {
    if (!nodes.has(value.id)) nodes.set(value.id, value);
    return value.id;
  };
  node({ id: SERVER, kind: 'server', label: sources.hosts().join(', ') || 'this server' });
  const carried = new Set<string>();
  const carries = (host: string, domain: string): void => {
    const id = `carries ${host} ${domain}`;
    if (host === domain || carried.has(id)) return;
    carried.add(id);
    edges.push({ id, kind: 'carries', source: host, target: domain });
  };
  for (const row of s2sRows(sources)) {
    const host = node({ id: `host:${row.remoteIp}`, kind: 'host', label: row.remoteHost ?? row.remoteIp });
    edges.push({ id: `connection:${row.id}`, kind: 'connection', source: SERVER, target: host, connection: row });
    const remotes = new Set(row.pairs.map((pair) => pair.remote));
    if (row.remoteDomain !== undefined && row.remoteDomain !== null) remotes.add(row.remoteDomain);
    for (const remote of remotes) carries(host, node({ id: `domain:${remote}`, kind: 'domain', label: remote }));
  }
  // A pair whose connections are gone leaves its domain on the map until the binding table forgets it.
  for (const pair of pairRows(sources)) node({ id: `domain:${pair.remote}`, kind: 'domain', label: pair.remote });
  // Routes: a rule for one domain starts at that domain's node, a pattern at a node of its own;
  // a next hop that is an address is the same node as a connection to that address.
  for (const rule of config.peering) {
    if (rule.via === undefined && rule.link === undefined && rule.route !== 'reject') continue;
    const pattern = rule.domain === '*' || rule.domain.startsWith('*.') || rule.subdomains;
    const label = rule.domain === '*' ? '* (every other domain)' : rule.subdomains ? `${rule.domain} and subdomains` : rule.domain;
    const from = node(pattern ? { id: `route:${rule.domain}`, kind: 'route', label } : { id: `domain:${rule.domain}`, kind: 'domain', label });
    let to: string;
    if (rule.link !== undefined) to = `link:${rule.link}`;
    else if (rule.via?.kind === 'address') to = node({ id: isIp(rule.via.host) ? `host:${rule.via.host}` : `hop:${rule.via.host}`, kind: 'host', label: rule.via.host });
    else if (rule.via?.kind === 'domain') to = node({ id: `hop:${rule.via.domain}`, kind: 'host', label: `${rule.via.domain} (by DNS)` });
    else to = node({ id: 'rejected', kind: 'route', label: 'rejected' });
    const what = rule.link !== undefined ? `over link ${rule.link}` : rule.via?.kind === 'address' ? `via ${rule.via.host}:${rule.via.port}` : rule.via ? `via ${rule.via.domain}` : 'route: reject';
    // A trunk peer (docs/peering.md, "Trunks and relaying") carries the domains it speaks for.
    const trunk = rule.speaks_for === undefined ? '' : `; trunk speaking for ${rule.speaks_for.join(', ')}`;
    // A fronted domain (docs/peering.md, "Fronting a plain peer"): this server answers for it toward other servers.
    const front = rule.front === true ? '; fronted here for other servers' : '';
    edges.push({ id: `route ${rule.domain}`, kind: 'route', source: from, target: to, label: `${what}${trunk}${front}` });
  }
  const rows = new Map((sources.links?.rows() ?? []).map((row) => [row.name, row]));
  for (const link of config.links) {
    const row = rows.get(link.name);
    const id = node({ id: `link:${link.name}`, kind: 'link', label: `link ${link.name} (${link.address})`, up: row?.up ?? false });
    const state = row === undefined ? '' : `; ${row.queued} queued${row.lastError ? `; last error: ${row.lastError.text}` : ''}`;
    edges.push({ id: `link ${link.name}`, kind: 'link', source: SERVER, target: id, label: `${link.transport}, ${CONNECTS[link.connect]}; ${link.remote_domains.join(', ')}${state}` });
  }
  // The map is of other servers: refusals between users of this server (security labels) are not on it.
  const alerts = (sources.audit?.alerts(0) ?? []).flatMap((alert): MapAlert[] => {
    if (alert.direction === 'local') return [];
    const remote = domainOf(alert.direction === 'in' ? alert.from : alert.to);
    return [{ sequence: alert.sequence, time: new Date(alert.time).toISOString(), rule: alert.rule, direction: alert.direction, from: alert.from, to: alert.to, kind: alert.kind, text: alert.text, domain: remote }];
  });
  for (const alert of alerts) {
    const id = node({ id: `domain:${alert.domain}`, kind: 'domain', label: alert.domain });
    const target = nodes.get(id)!;
    target.refusals = (target.refusals ?? 0) + 1;
    if (!edges.some((edge) => edge.target === id)) edges.push({ id: `refused ${alert.domain}`, kind: 'route', source: SERVER, target: id, label: 'refused by policy' });
  }
  const traffic = sources.traffic;
  return {
    nodes: [...nodes.values()],
    edges,
    alerts,
    bounces: (traffic?.errorReplies.series() ?? []).map((series) => ({ condition: series.labels.condition ?? '', count: series.value })),
    failedConnections: (traffic?.s2sAttempts.series() ?? []).filter((series) => series.labels.result === 'failed').map((series) => ({ reason: series.labels.reason ?? '', count: series.value })),
  };
}

const CONNECTS: Record<LinkConfig['connect'], string> = { out: 'we connect', in: 'peer connects', both: 'both connect' };

const isIp = (host: string): boolean => isIP(host) !== 0;

/** The domain of a JID as the audit trail records it (user@domain/resource). */
function domainOf(jid: string): string {
  const slash = jid.indexOf('/');
  const bare = slash < 0 ? jid : jid.slice(0, slash);
  const at = bare.indexOf('@');
  return at < 0 ? bare : bare.slice(at + 1);
}
