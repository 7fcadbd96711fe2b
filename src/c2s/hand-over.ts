/**
 * Stream management (XEP-0198 section 5) across the nodes of a cluster (docs/cluster.md,
 * "Stream management"): what a node gives up of a session a client resumes on another node, and
 * what the client side asks of the cluster to find it. The nodes find the holder by the id in
 * the session's published record; a resumption id made on a cluster node also names that node
 * after a dot (`<random>.<node>`; the random part is base64url, which has no dot), for a client
 * resuming before the record reached the node it resumes on.
 */

/** A session as one node hands it to another: everything its client may resume, nothing of its connection. */
export interface HandedOverSession {
  /** full JID */
  jid: string;
  /** its resumption id (XEP-0198 section 3), kept: the client resumes with it */
  id: string;
  /** seconds a detached session waits for its client */
  resumeSeconds: number;
  /** stanzas received from the client: our `h` (section 4) */
  received: number;
  /** stanzas sent to the client under stream management */
  sent: number;
  /** what the client has not acknowledged, in order, as written on its stream */
  unacknowledged: { seq: number; xml: string }[];
  /** stanzas held back while the client was inactive (XEP-0352), in order, not yet sent nor counted */
  held: string[];
  /** IM state (RFC 6121): the last available presence (serialized), priority, carbons, roster request, directed presence */
  presence?: string;
  priority: number;
  carbons: boolean;
  rosterRequested: boolean;
  directed: string[];
  /** messages for it waited in offline storage (their delivery starts again where it is installed) */
  offlineBacklog: boolean;
}

/** What the client side asks of the cluster for a resumption id this node does not hold. */
export interface ResumptionPeers {
  /** the resumption id for a new resumable session here, naming this node */
  newId(random: string): string;
  /**
   * Asks the node holding the session with id `previd` for it, for a client logged in to
   * `account` (bare JID). Resolves true once the session was handed over and installed here, waiting for the
   * client; false when no node gave it up in time (section 5: the client gets <failed/>).
   */
  fetch(previd: string, account: string): Promise<boolean>;
}

/** The node named in a resumption id made on a cluster node; undefined for one made elsewhere. */
export function nodeOfResumptionId(id: string): string | undefined {
  const dot = id.indexOf('.');
  return dot > 0 && dot < id.length - 1 ? id.slice(dot + 1) : undefined;
}
