/**
 * What the lab's private XMPP peers (Prosody, ejabberd) have in common: how they are configured
 * and what a test can ask of a running one.
 */
import { tail } from './process.ts';

export interface PeerDomain {
  domain: string;
  /** PEM certificate (chain) and key presented for this domain on c2s and s2s */
  certFile: string;
  keyFile: string;
}

export interface PeerUser {
  user: string;
  domain: string;
  password: string;
}

export interface PeerOptions {
  /** the 127.x.y.z address it listens on, ports 5222 and 5269 */
  address: string;
  domains: PeerDomain[];
  /** CA bundle that peer certificates are verified against */
  caFile: string;
  /** only accept peers whose certificate is valid (no dialback on an unverified certificate) */
  s2sSecureAuth?: boolean;
  /** require TLS on s2s; default true */
  requireEncryption?: boolean;
  /** offer and use XEP-0220 dialback; default true */
  dialback?: boolean;
  users?: PeerUser[];
  /**
   * Also serve group chat (XEP-0045) at this domain, with its own MUC module (Prosody's
   * mod_muc component, ejabberd's mod_muc) and the first domain's certificate, which must name it.
   */
  muc?: string;
}

/** How the remote end of an s2s connection was authenticated. */
export type S2sAuthentication = 'sasl-external' | 'dialback' | 'none';

export interface S2sConnection {
  /** bidirectional: one connection carries both directions (XEP-0288) */
  direction: 'incoming' | 'outgoing' | 'bidirectional';
  localDomain: string;
  remoteDomain: string;
  /** TLS is in use */
  encrypted: boolean;
  authentication: S2sAuthentication;
  /** XEP-0198 is enabled on it, where the peer reports that; `unacknowledged` counts the stanzas this side sent that the other has not acknowledged */
  streamManagement?: { unacknowledged: number };
}

export interface RunningPeer {
  name: string;
  address: string;
  /** the peer's own log, for failure messages */
  logFile: string;
  s2sConnections(): Promise<S2sConnection[]>;
  stop(): Promise<void>;
}

/** For a failure message: the end of each running peer's log, then of Trellis's. */
export function labDiagnostics(peers: { name: string; running?: RunningPeer }[], trellisLog: string[] | undefined): string {
  const peerLogs = peers.map((peer) => (peer.running ? `--- ${peer.name} ---\n${tail(peer.running.logFile, 40)}` : '')).join('\n');
  return `${peerLogs}\n--- Trellis ---\n${trellisLog?.slice(-60).join('\n')}`;
}

export const C2S_PORT = 5222;
export const S2S_PORT = 5269;
