/**
 * What the admin API answers, as JSON. The CLI and any dashboard read these shapes; fields are
 * only ever added, and a breaking change gets a new version prefix (/v2).
 */
import type { AuthMethod } from '../s2s/context.ts';

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
  listeners: { c2s: string[]; c2s_direct_tls: string[]; s2s: string[]; s2s_direct_tls: string[] };
  /** the federation level required by default, or "off" */
  federation: string;
  c2s: { connections: number; sessions: number };
  s2s: { connections: number; incoming: number; outgoing: number };
}

/** One server connection (GET /v1/s2s); docs/admin.md explains each field. */
export interface S2sRow {
  id: string;
  direction: 'in' | 'out';
  remoteDomain: string | null;
  remoteAddress: string;
  tls: TlsInfo | null;
  certificate: string;
  authentication: AuthMethod | 'pending';
  level: string | null;
  /** XEP-0288: stanzas go both ways on this connection */
  bidi: boolean;
  /** "local -> remote" (sent on it) or "local <- remote" (received on it) */
  domains: string[];
  /** ISO 8601 */
  connectedAt: string;
  idleSeconds: number;
  bytesIn: number;
  bytesOut: number;
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
