/**
 * The message archive contract (XEP-0313): one archive per user (the host's domain and the
 * username) or per group-chat room (the service's domain and the room's name). Every driver
 * implements `ArchiveStore` and passes src/storage/contract-archive.ts.
 */

/** Whose archive: a user (host domain, username) or a room (service domain, room name), prepared. */
export interface ArchiveOwner {
  domain: string;
  name: string;
}

/** One archived message. */
export interface ArchivedMessage {
  /** the archive's UID (XEP-0313 section 3: unpredictable, unique within the archive, never reused) */
  id: string;
  /**
   * the archive's order (XEP-0313 section 3.1) and the time the message was archived, in
   * microseconds since the epoch; increasing within an archive
   */
  position: number;
  /** the other party: a bare JID, or for a room the occupant JID of the sender */
  withBare: string;
  /** the other party's resource (for a room, the occupant's nickname), if it had one */
  withResource: string | undefined;
  /** the serialized stanza */
  stanza: string;
}

/** What a query matches (XEP-0313 section 4.1); every field narrows it. */
export interface ArchiveFilter {
  /** section 4.1.1: a bare JID matches every resource; a resource narrows to that one */
  with?: { bare: string; resource?: string };
  /** section 4.1.2: positions (microseconds), inclusive */
  start?: number;
  end?: number;
  /** section 4.1.3: positions of known messages, exclusive */
  after?: number;
  before?: number;
  /** section 4.1.3: only these UIDs */
  ids?: readonly string[];
}

/** One page of results (XEP-0059): forward from the start of the filtered set, or backward from its end. */
export interface ArchivePageRequest {
  max: number;
  backward: boolean;
}

export interface ArchivePage {
  /** in archive order, whichever the direction */
  messages: ArchivedMessage[];
  /** no more messages match beyond this page in the direction asked */
  complete: boolean;
}

export interface ArchiveStore {
  /** Adds a message; a position already taken in that archive moves to the next free microsecond. Returns the position kept. */
  append(owner: ArchiveOwner, message: ArchivedMessage): Promise<number>;
  /** The position of a message by its UID, or undefined when the archive has no such message. */
  positionOf(owner: ArchiveOwner, id: string): Promise<number | undefined>;
  query(owner: ArchiveOwner, filter: ArchiveFilter, page: ArchivePageRequest): Promise<ArchivePage>;
  /** How many messages match the filter (RSM count, XEP-0059 section 2.5). */
  count(owner: ArchiveOwner, filter: ArchiveFilter): Promise<number>;
  /** The oldest and newest message (XEP-0313 section 5, archive metadata); undefined for an empty archive. */
  bounds(owner: ArchiveOwner): Promise<{ first: ArchivedMessage; last: ArchivedMessage } | undefined>;
  /** Removes at most `limit` of the oldest messages older than `position` from the archives of a domain; returns how many went. */
  expire(domain: string, position: number, limit: number): Promise<number>;
  /** Removes the oldest messages of one archive beyond the newest `keep`; returns how many went. */
  trim(owner: ArchiveOwner, keep: number): Promise<number>;
  /**
   * Replaces the stanza of one message, found by its UID, keeping its place (a retraction's
   * tombstone, XEP-0425 section 4); false when the archive has no such message.
   */
  replace(owner: ArchiveOwner, id: string, stanza: string): Promise<boolean>;
  /** Removes a whole archive (a destroyed room); returns how many messages went. */
  clear(owner: ArchiveOwner): Promise<number>;
}
