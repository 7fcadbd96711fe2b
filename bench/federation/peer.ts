/** What the federation benchmark needs of a federating server, whichever implementation it is. */

export interface FederationHost {
  domain: string;
  /** PEM certificate and key from the lab CA; without them the host's links use dialback */
  certFile?: string;
  keyFile?: string;
  usernames: string[];
}

export interface FederationPeerOptions {
  /** names the process in messages and results, e.g. "trellis-a" */
  name: string;
  /** the 127.x.y.z address it listens on: ports 5222 (clients: plain TCP, or STARTTLS with client TLS on), 5269 (STARTTLS) and 5270 (direct TLS) */
  address: string;
  hosts: FederationHost[];
  /** every account gets this password */
  password: string;
  /** the lab CA certificate, the only one trusted for peers */
  caFile: string;
  /** the lab's DNS resolver */
  resolver: string;
  logLevel?: 'warn' | 'info' | 'debug';
  /** when set, the server's log is copied there (as <name>.log) when it stops */
  keepLogIn?: string;
  /**
   * Each server's default limits, as a fresh install has them: Prosody loads mod_limits with the
   * rates Debian's /etc/prosody/prosody.cfg.lua ships (`limits = { c2s = { rate = "10kb/s" },
   * s2sin = { rate = "30kb/s" } }`), Trellis keeps its default read rates (without this they are
   * lifted, as Prosody runs without mod_limits); ejabberd ignores it.
   */
  debianLimits?: boolean;
}

export interface FederationPeer {
  name: string;
  software: 'trellis' | 'prosody' | 'ejabberd';
  pid: number;
  address: string;
  outputFile: string;
  stop(): Promise<void>;
}

export type FederationPeerStarter = (options: FederationPeerOptions) => Promise<FederationPeer>;

export const C2S_PORT = 5222;
export const S2S_PORT = 5269;
/** XEP-0368: TLS from the first byte, announced by `_xmpps-server._tcp` SRV records */
export const S2S_DIRECT_TLS_PORT = 5270;
