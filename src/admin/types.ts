/**
 * What the admin API answers, as JSON. The CLI and any dashboard read these shapes; fields are
 * only ever added, and a breaking change gets a new version prefix (/v2).
 */
import type { ClusterNodeRow } from '../cluster/node.ts';
import type { AuthMethod, S2sBindingInfo } from '../s2s/context.ts';

export type { ClusterNodeRow };

export interface TlsInfo {
  /** "TLSv1.3" */
  protocol: string;
  /** OpenSSL cipher name, e.g. "TLS_AES_256_GCM_SHA384" */
  cipher: string;
}

/** GET /v1/status */
export interface StatusReport {
  version: string;
  pid: number;
  /** ISO 8601 */
  startedAt: string;
  uptimeSeconds: number;
  hosts: string[];
  /** bound addresses as "address:port", per listener */
  listeners: { c2s: string[]; c2s_direct_tls: string[]; s2s: string[]; s2s_direct_tls: string[]; component: string[] };
  /** the federation level required by default, or "off" */
  federation: string;
  c2s: { connections: number; sessions: number };
  s2s: { connections: number; incoming: number; outgoing: number };
  /** every configured external component (XEP-0114), connected or not */
  components: ComponentRow[];
  /** each group-chat service (XEP-0045) with its counts */
  muc: MucServiceRow[];
  /** every configured link (docs/links.md), up or not */
  links: LinkRow[];
  /** with a `cluster` section: every node of the cluster (docs/cluster.md), as of the last heartbeat */
  cluster?: ClusterNodeRow[];
}

/** One link to a peer server (in GET /v1/status). */
export interface LinkRow {
  name: string;
  /** its connection for sending is open */
  up: boolean;
  /** xep0361 (zero handshake) or s2s (server-to-server streams) */
  protocol: 'xep0361' | 's2s';
  connect: 'out' | 'in' | 'both';
  /** the peer's "host:port" (connect: out or both), or where this side listens (connect: in) */
  address: string;
  /** messages waiting in storage for it */
  queued: number;
  /** stanzas read and written since the server started */
  stanzasIn: number;
  stanzasOut: number;
  /** bytes of XML read and written since the server started */
  bytesIn: number;
  bytesOut: number;
  /** the last failure of its connections (refused, dropped, unreachable), null when none */
  lastError: { at: string; text: string } | null;
}

/** One group-chat service (in GET /v1/status and GET /v1/rooms). */
export interface MucServiceRow {
  /** the service's domain, e.g. conference.example.com */
  service: string;
  /** the hosted domain it belongs to */
  host: string;
  rooms: number;
  /** occupants (nicknames) in all its rooms */
  occupants: number;
}

/** One room (GET /v1/rooms). */
export interface RoomRow {
  /** the room's bare JID */
  room: string;
  /** occupants (nicknames) */
  occupants: number;
  /** occupants' resources in the room (one occupant may enter from several) */
  sessions: number;
  persistent: boolean;
  /** a new room its owner has not configured yet (XEP-0045 section 10.1.1) */
  locked: boolean;
  /** messages kept for newcomers */
  history: number;
}

/** One external component (in GET /v1/status and GET /v1/components). */
export interface ComponentRow {
  domain: string;
  connected: boolean;
  /** the connection's "address:port", null while not connected */
  address: string | null;
  /** ISO 8601, null while not connected */
  connectedAt: string | null;
  idleSeconds: number | null;
  /** stanzas on the current connection, from and to the component */
  stanzasIn: number;
  stanzasOut: number;
  /** stanzas held for it while it reconnects */
  held: number;
  /** stanzas bounced because it was not connected, since the server started */
  bounced: number;
  /** successful handshakes since the server started */
  connects: number;
}

/** One server connection (GET /v1/s2s); docs/admin.md explains each field. */
export interface S2sRow {
  id: string;
  direction: 'in' | 'out';
  remoteDomain: string | null;
  remoteAddress: string;
  /** the peer's IP address alone (the host at the other end, whichever side opened the connection) */
  remoteIp: string;
  /** for "out": the host name DNS led to (SRV target, or the domain itself); null for "in" */
  remoteHost: string | null;
  tls: TlsInfo | null;
  certificate: string;
  authentication: AuthMethod | 'pending';
  level: string | null;
  /** XEP-0288: stanzas go both ways on this connection */
  bidi: boolean;
  /** "local -> remote" (sent on it) or "local <- remote" (received on it) */
  domains: string[];
  /** the connection table: names the peer's certificate proved, and domains it proved otherwise (dialback, delegation) */
  serverNames: string[];
  delegatedNames: string[];
  /** the pairs bound to it, in the order they were bound, with how each was proven */
  pairs: S2sBindingInfo[];
  /** ISO 8601 */
  connectedAt: string;
  idleSeconds: number;
  bytesIn: number;
  bytesOut: number;
  /** stanzas carried each way since it opened, and how many of them were errors (type='error') */
  stanzasIn: number;
  stanzasOut: number;
  errorsIn: number;
  errorsOut: number;
  /** stanzas a second the peer may send on it (s2s.rate for each pair it sends for, up to s2s.rate_pairs_max); absent when unlimited */
  readStanzasPerSecond?: number;
}

/**
 * A pair bound to a connection in one direction (S2sRow.pairs), and a row of the binding table
 * (GET /v1/s2s, `pairs`): a pair of domains with the connections it is sent on (`outbound`, in
 * order: the first is used) and accepted from (`inbound`), each with how it was proven there
 * (sasl-external, dialback, certificate, dane, dnssec-srv, unsigned-srv, posh, none, ...). The
 * API gives them as the s2s layer keeps them.
 */
export type { S2sBindingInfo as S2sBindingRow, S2sPairInfo as S2sPairRow } from '../s2s/context.ts';

/** DELETE /v1/s2s/pairs/<local>/<remote> */
export interface RevokeAnswer {
  revoked: { local: string; remote: string };
  /** connections the revocation was sent on */
  connections: number;
}

/** One bound client session (GET /v1/c2s). */
export interface C2sRow {
  jid: string;
  address: string;
  tls: TlsInfo | null;
  /** ISO 8601 */
  connectedAt: string;
  idleSeconds: number;
  bytesIn: number;
  bytesOut: number;
}

/** Every error answer: a status code and this body. */
export interface ErrorBody {
  error: string;
}

/** One banned address or range (GET /v1/bans, `trellis ban list`). */
export interface BanRow {
  /** "192.0.2.7" or "2001:db8::/32" */
  address: string;
  reason: string | null;
  /** ISO 8601 */
  createdAt: string;
}

/** One blocked remote domain (GET /v1/blocked-domains, `trellis s2s blocked`). */
export interface DomainBlockRow {
  domain: string;
  reason: string | null;
  /** ISO 8601 */
  createdAt: string;
}
