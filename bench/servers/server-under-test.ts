/** What the scenarios need of a server under test, whichever implementation it is. */

export interface ServerOptions {
  address: string;
  port: number;
  domain: string;
  usernames: string[];
  /** every account gets this password */
  password: string;
  /** PBKDF2 iterations of the stored SCRAM verifiers */
  scramIterations: number;
  /** when set, the server writes a CPU profile there on exit (Trellis only) */
  profileDir?: string;
  /** rosters written before the server starts: each owner has every contact, subscription both */
  rosters?: RosterSpec[];
  /** serve group chat (XEP-0045) at conference.<domain>, with room for this many occupants in a room */
  muc?: { maxOccupants: number };
  /**
   * Trellis keeps its message archive (XEP-0313, on by default) on; otherwise it runs without it,
   * as Prosody and ejabberd run here without mod_mam, so every server does the same work.
   */
  archive?: boolean;
}

/** One user's roster; owner and contacts are usernames on the same domain. */
export interface RosterSpec {
  owner: string;
  contacts: string[];
}

export interface ServerUnderTest {
  name: string;
  /** implementation and runtime versions, as recorded in results */
  version: string;
  pid: number;
  /**
   * the processes whose CPU time is the server's, by part, when it is more than `pid` (the nodes
   * of a cluster and the services they share); memory is still read from `pid` alone
   */
  parts?: ServerPart[];
  /** the settings that differ from the server's defaults, for the results and the docs */
  settings: string[];
  stop(): Promise<void>;
}

export interface ServerPart {
  name: string;
  /** the part's processes now (a server that forks a process per connection has several) */
  pids(): number[];
}

export type ServerStarter = (options: ServerOptions) => Promise<ServerUnderTest>;
