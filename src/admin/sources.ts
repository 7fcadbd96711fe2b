/**
 * What the admin API reads from a running server, and the rows it makes of it. The composition
 * root (src/server.ts) supplies the sources; nothing here changes server state except closing a
 * server connection on request.
 */
import type { TrafficCounters } from '../router/traffic-counters.ts';
import type { AuditSources } from './audit-routes.ts';
import { readFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { C2sConnection } from '../c2s/connection.ts';
import type { Limits, MetricFamily } from '../limits/limits.ts';
import type { BoundAddress } from '../net/listener.ts';
import type { S2sConnectionInfo, S2sPairInfo } from '../s2s/context.ts';
import type { PairCount } from '../s2s/pair-counters.ts';
import type { ComponentRoute } from '../component/service.ts';
import type { MucService } from '../muc/service.ts';
import type { OperatorSources } from './operator-routes.ts';
import type { NodeAnswer } from '../router/node-notices.ts';
import type { C2sRow, ClusterNodeRow, ComponentRow, LinkRow, MucServiceRow, RoomRow, S2sPairRow, S2sRow, StatusReport, TlsInfo } from './types.ts';

export const SERVER_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface AdminSources {
  /** ms since the epoch */
  startedAt: number;
  /** the hosted domains now (they change on reload) */
  hosts(): string[];
  listening: { c2s: BoundAddress[]; c2sDirectTls: BoundAddress[]; s2s: BoundAddress[]; s2sDirectTls: BoundAddress[]; component?: BoundAddress[] };
  /** the default federation level, or "off" */
  federation(): string;
  c2s: {
    readonly connections: ReadonlySet<C2sConnection>;
    /** sessions, attached or waiting for resumption (XEP-0198); absent in unit tests */
    readonly sessions?: ReadonlySet<{ readonly state: string }>;
    /** bytes held for clients, and stanzas that did not fit (src/c2s/output-budget.ts) */
    readonly budget?: { readonly used: number; readonly globalLimit: number; readonly overflows: number };
  };
  s2s: {
    connections(): S2sConnectionInfo[];
    closeConnection(id: string): boolean;
    /** the binding table: each pair with its connections */
    pairs(): S2sPairInfo[];
    /** revokes an inbound pair on the connections with per-pair authorization that carry it; how many */
    revokePair(pair: { local: string; remote: string }): number;
    /** pairs authorized and refused since the start, by direction and method; absent in unit tests */
    readonly pairCounters?: { all(): PairCount[] };
    /** stanzas a dropped server connection had not confirmed: sent again, or bounced */
    readonly resends?: { readonly resent: number; readonly bounced: number };
    /** bytes held for peers, and stanzas that did not fit (src/net/output-budget.ts) */
    readonly output?: { readonly used: number; readonly globalLimit: number; readonly overflows: number };
    /** stanzas waiting for a remote domain's pair to be authorized; absent in unit tests */
    queued?(): number;
  };
  /** external components (src/component); absent in unit tests */
  components?: { readonly routes: ReadonlyMap<string, ComponentRoute> };
  /** the group-chat services now (they change on reload); absent in unit tests */
  mucServices?(): Iterable<Pick<MucService, 'domain' | 'parent' | 'rooms'>>;
  /** links to peer servers (src/links): their rows and metrics; absent in unit tests */
  links?: { rows(): LinkRow[]; metrics(): MetricFamily[] };
  /** limits, bans and blocks (src/limits); absent in unit tests of the read-only endpoints */
  limits?: Pick<Limits, 'bans' | 'blocks' | 'ban' | 'unban' | 'block' | 'unblock' | 'metrics'>;
  /** reload, kicking sessions, deleting accounts (operator-routes.ts); absent in unit tests of the read-only endpoints */
  operations?: OperatorSources;
  /** what crossed the router since the start (src/router/traffic-counters.ts); absent in unit tests */
  traffic?: TrafficCounters;
  /** messages waiting in every offline mailbox: asked of storage before each scrape (socket-server.ts); absent in unit tests */
  offlineMessages?(): Promise<number>;
  /** its answer for the scrape being rendered */
  offlineMessagesNow?: number;
  /** the nodes of the cluster, when this server is one (src/cluster); `ask` puts a question to every other node (router/node-notices.ts) */
  cluster?: { nodes(): ClusterNodeRow[]; ask?(topic: string, body: string): Promise<NodeAnswer[]> };
  /** the peering rules' audit trail and alerts (audit-routes.ts, src/audit) */
  audit?: AuditSources & { metrics(): MetricFamily[] };
}

export function statusReport(sources: AdminSources, now = Date.now()): StatusReport {
  const s2s = sources.s2s.connections();
  const listening = sources.listening;
  return {
    version: SERVER_VERSION,
    pid: process.pid,
    startedAt: new Date(sources.startedAt).toISOString(),
    uptimeSeconds: Math.floor((now - sources.startedAt) / 1000),
    hosts: sources.hosts(),
    listeners: {
      c2s: listening.c2s.map(formatAddress),
      c2s_direct_tls: listening.c2sDirectTls.map(formatAddress),
      s2s: listening.s2s.map(formatAddress),
      s2s_direct_tls: listening.s2sDirectTls.map(formatAddress),
      component: (listening.component ?? []).map(formatAddress),
    },
    federation: sources.federation(),
    c2s: { connections: sources.c2s.connections.size, sessions: c2sRows(sources).length },
    s2s: { connections: s2s.length, incoming: s2s.filter((row) => row.direction === 'in').length, outgoing: s2s.filter((row) => row.direction === 'out').length },
    components: componentRows(sources, now),
    muc: mucServiceRows(sources),
    links: sources.links?.rows() ?? [],
    ...(sources.cluster === undefined ? {} : { cluster: sources.cluster.nodes() }),
  };
}

/** Each group-chat service with its room and occupant counts, by domain. */
export function mucServiceRows(sources: AdminSources): MucServiceRow[] {
  return [...(sources.mucServices?.() ?? [])]
    .map((service) => {
      let occupants = 0;
      for (const room of service.rooms.values()) occupants += room.occupants.size;
      return { service: service.domain, host: service.parent, rooms: service.rooms.size, occupants };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** The rooms of every group-chat service, by service and then by room. */
export function roomRows(sources: AdminSources): { service: string; rooms: RoomRow[] }[] {
  return [...(sources.mucServices?.() ?? [])]
    .sort((a, b) => a.domain.localeCompare(b.domain))
    .map((service) => ({
      service: service.domain,
      rooms: [...service.rooms.values()]
        .map((room) => {
          let sessions = 0;
          for (const occupant of room.occupants.values()) sessions += occupant.sessions.size;
          return { room: room.jid.toString(), occupants: room.occupants.size, sessions, persistent: room.config.persistent, locked: room.locked, history: room.history.length };
        })
        .sort((a, b) => a.room.localeCompare(b.room)),
    }));
}

/** One row per configured component, connected or not. */
export function componentRows(sources: AdminSources, now = Date.now()): ComponentRow[] {
  return [...(sources.components?.routes.values() ?? [])].map((route) => {
    const connection = route.connection;
    return {
      domain: route.domain,
      connected: connection !== undefined,
      address: connection?.stream.peer ?? null,
      connectedAt: connection ? new Date(connection.connectedAt).toISOString() : null,
      idleSeconds: connection ? Math.round((now - connection.stream.lastActivity) / 1000) : null,
      stanzasIn: connection?.stanzasIn ?? 0,
      stanzasOut: connection?.stanzasOut ?? 0,
      held: route.held.length,
      bounced: route.bounced,
      connects: route.connects,
    };
  });
}

export function s2sRows(sources: AdminSources): S2sRow[] {
  return sources.s2s.connections().map((info) => ({
    id: info.id,
    direction: info.direction,
    remoteDomain: info.remoteDomain ?? null,
    remoteAddress: info.remoteAddress,
    remoteIp: info.remoteIp,
    remoteHost: info.remoteHost ?? null,
    tls: info.tls ?? null,
    certificate: info.certificate,
    authentication: info.authentication,
    level: info.level ?? null,
    bidi: info.bidi,
    domains: info.domains,
    serverNames: info.serverNames,
    delegatedNames: info.delegatedNames,
    pairs: info.pairs,
    connectedAt: new Date(info.connectedAt).toISOString(),
    idleSeconds: info.idleSeconds,
    bytesIn: info.bytesIn,
    bytesOut: info.bytesOut,
    stanzasIn: info.stanzasIn,
    stanzasOut: info.stanzasOut,
    errorsIn: info.errorsIn,
    errorsOut: info.errorsOut,
    readStanzasPerSecond: info.readStanzasPerSecond,
  }));
}

/** The binding table's rows, by local domain, then remote domain (p2 before p10). */
export function pairRows(sources: AdminSources): S2sPairRow[] {
  const order = (a: S2sPairRow, b: S2sPairRow) => a.local.localeCompare(b.local, 'en', { numeric: true }) || a.remote.localeCompare(b.remote, 'en', { numeric: true });
  return sources.s2s.pairs().sort(order);
}

/** Bound client sessions only: a connection still negotiating has no JID yet. */
export function c2sRows(sources: AdminSources, now = Date.now()): C2sRow[] {
  const rows: C2sRow[] = [];
  for (const connection of sources.c2s.connections) {
    const session = connection.session;
    if (connection.phase !== 'bound' || !session || connection.stream.closing) continue;
    rows.push({
      jid: session.jid.toString(),
      address: connection.peer,
      tls: tlsInfo(connection.stream.socket),
      connectedAt: new Date(connection.connectedAt).toISOString(),
      idleSeconds: Math.round((now - connection.stream.lastActivity) / 1000),
      bytesIn: connection.stream.bytesIn,
      bytesOut: connection.stream.bytesOut,
    });
  }
  return rows;
}

function tlsInfo(socket: Socket): TlsInfo | null {
  if (!(socket instanceof TLSSocket) || !socket.encrypted) return null;
  return { protocol: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' };
}

function formatAddress(address: BoundAddress): string {
  return address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
