/**
 * The table of bound client resources (RFC 6120 section 7): full JID → session, and bare JID
 * → its resources. The router reads it; c2s writes it on bind and close.
 */
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { textInOnePiece } from '../util/text-in-one-piece.ts';

/** IM state of a bound resource, kept by the roster and presence features (RFC 6121). */
export interface SessionImState {
  /**
   * The last available presence this resource broadcast (RFC 6121 section 4.2), without
   * `to`; undefined until initial presence and after unavailable presence. It is kept as its
   * text (about a third of the memory of its elements, for every session's lifetime), so each
   * read parses a new copy, which the reader may change: read `available` to know whether there
   * is one.
   */
  presence: Element | undefined;
  /** whether the resource is available (`presence` is not undefined), without parsing it */
  readonly available: boolean;
  /** that presence as `serialize` writes it */
  readonly presenceXml: string | undefined;
  /** priority of that presence, -128..127, 0 when absent (RFC 6121 section 4.7.2.3) */
  priority: number;
  /** the resource asked for its roster, so it gets roster pushes (RFC 6121 section 2.1.6) */
  rosterRequested: boolean;
  /** full or bare JIDs this resource sent directed presence to (RFC 6121 section 4.6) */
  directedPresence: Set<string>;
  /** the resource enabled message carbons (XEP-0280 section 4); kept while the session is resumed */
  carbons: boolean;
}

/** Stream errors a session may be ended with by the server's features. */
export type SessionEndCondition = 'conflict' | 'system-shutdown' | 'policy-violation' | 'not-authorized' | 'host-gone';

/**
 * What the router needs from a bound client resource. A session is not its connection: with
 * stream management (XEP-0198) it stays while its client reconnects, and it keeps what was sent
 * to it until the client has it.
 */
export interface BoundSession {
  readonly jid: Jid;
  /** "address:port" of the client, for logs */
  readonly peer: string;
  readonly im: SessionImState;
  /**
   * Sends a stanza to the client. A session that cannot take it (its output budget is spent, or
   * it is being sent an offline backlog) stores a message offline or bounces it instead.
   */
  send(stanza: Element): void;
  /**
   * Sends a stanza outside the output budget (the caller paces itself) and resolves true once the
   * client has it (written to its socket, or acknowledged with stream management), false if the
   * session ended first.
   */
  sendTracked(stanza: Element): Promise<boolean>;
  /** true while messages for this resource wait in offline storage: new ones follow them, so order holds */
  offlineBacklog: boolean;
  /**
   * Settles once the messages this session is handing to offline storage are stored; undefined
   * when it is handing none. Offline delivery waits for it before it takes the store for empty.
   */
  readonly spilling?: Promise<void> | undefined;
  /** the client said it is inactive (XEP-0352); absent on sessions that are not client streams */
  readonly inactive?: boolean;
  /** detached: the connection dropped and stream management keeps the session for resumption (XEP-0198) */
  readonly state?: 'attached' | 'detached' | 'ended';
  /** the id its client may resume it with (XEP-0198 section 3); absent when it may not */
  readonly streamManagementId?: string | undefined;
  /** Ends the session with a stream error (for example `conflict` when another login takes the resource). */
  terminate(condition: SessionEndCondition, text?: string): void;
}

/** Hears every change of a session's IM state (a cluster tells the other nodes). */
export interface ImStateOwner {
  imChanged(): void;
}

/**
 * The IM state of a new session; most sessions never send directed presence, so its set is made
 * on first use. `owner`, when given, hears every change.
 */
class ImState implements SessionImState {
  #presenceXml: string | undefined = undefined;
  #priority = 0;
  #rosterRequested = false;
  #carbons = false;
  #directedPresence: Set<string> | undefined;
  readonly #owner: ImStateOwner | undefined;

  constructor(owner?: ImStateOwner) {
    this.#owner = owner;
  }

  get presence(): Element | undefined {
    return this.#presenceXml === undefined ? undefined : parseElement(this.#presenceXml);
  }
  set presence(value: Element | undefined) {
    this.#presenceXml = value === undefined ? undefined : textInOnePiece(serialize(value));
    this.#owner?.imChanged();
  }
  get available(): boolean {
    return this.#presenceXml !== undefined;
  }
  get presenceXml(): string | undefined {
    return this.#presenceXml;
  }
  get priority(): number {
    return this.#priority;
  }
  set priority(value: number) {
    this.#priority = value;
    this.#owner?.imChanged();
  }
  get rosterRequested(): boolean {
    return this.#rosterRequested;
  }
  set rosterRequested(value: boolean) {
    this.#rosterRequested = value;
    this.#owner?.imChanged();
  }
  get carbons(): boolean {
    return this.#carbons;
  }
  set carbons(value: boolean) {
    this.#carbons = value;
    this.#owner?.imChanged();
  }
  get directedPresence(): Set<string> {
    return (this.#directedPresence ??= this.#owner === undefined ? new Set() : new ObservedSet(this.#owner));
  }
}

/** A set that reports additions, deletions and clearing. */
class ObservedSet extends Set<string> {
  readonly #owner: ImStateOwner;

  constructor(owner: ImStateOwner) {
    super();
    this.#owner = owner;
  }

  override add(value: string): this {
    const had = this.has(value);
    super.add(value);
    if (!had) this.#owner.imChanged();
    return this;
  }

  override delete(value: string): boolean {
    const deleted = super.delete(value);
    if (deleted) this.#owner.imChanged();
    return deleted;
  }

  override clear(): void {
    const had = this.size > 0;
    super.clear();
    if (had) this.#owner.imChanged();
  }
}

export function newImState(owner?: ImStateOwner): SessionImState {
  return new ImState(owner);
}

/** Told of the sessions registered here, apart from the ones it adds itself (a cluster mirrors them to the other nodes). */
export interface SessionObserver {
  /** whether the observer itself manages this session (one on another node); such sessions are not reported */
  owns(session: BoundSession): boolean;
  added(session: BoundSession): void;
  removed(session: BoundSession): void;
  /** the session's IM state changed (presence, priority, carbons, roster request, directed presence), whether it is inactive or detached, or it became resumable */
  changed(session: BoundSession): void;
}

export class SessionRegistry {
  #byFullJid = new Map<string, BoundSession>();
  /** bare JID → its session, or resource → session once the account has several (most have one: no Map for them) */
  #byBareJid = new Map<string, BoundSession | Map<string, BoundSession>>();
  #observer: SessionObserver | undefined;

  /** Sets the one observer (a cluster); undefined stops reporting. */
  observe(observer: SessionObserver | undefined): void {
    this.#observer = observer;
  }

  /** A session's IM state changed: reported when the session is the one registered under its JID. */
  imChanged(session: BoundSession): void {
    if (this.#observer === undefined || this.#byFullJid.get(session.jid.toString()) !== session || this.#observer.owns(session)) return;
    this.#observer.changed(session);
  }

  #report(event: 'added' | 'removed', session: BoundSession): void {
    if (this.#observer !== undefined && !this.#observer.owns(session)) this.#observer[event](session);
  }

  /** Adds a session; returns the session it replaced on the same full JID, if any. */
  add(session: BoundSession): BoundSession | undefined {
    const full = session.jid.toString();
    const previous = this.#byFullJid.get(full);
    this.#byFullJid.set(full, session);
    const bare = session.jid.bare().toString();
    const resource = resourceOf(session);
    const entry = this.#byBareJid.get(bare);
    if (entry instanceof Map) entry.set(resource, session);
    else if (entry === undefined || resourceOf(entry) === resource) this.#byBareJid.set(bare, session);
    else this.#byBareJid.set(bare, new Map([[resourceOf(entry), entry], [resource, session]]));
    if (previous !== undefined && previous !== session) this.#report('removed', previous);
    this.#report('added', session);
    return previous;
  }

  /** Removes a session if it is still the one registered under its JID. */
  remove(session: BoundSession): boolean {
    const full = session.jid.toString();
    if (this.#byFullJid.get(full) !== session) return false;
    this.#byFullJid.delete(full);
    const bare = session.jid.bare().toString();
    const entry = this.#byBareJid.get(bare);
    if (!(entry instanceof Map)) this.#byBareJid.delete(bare);
    else {
      entry.delete(resourceOf(session));
      if (entry.size === 1) this.#byBareJid.set(bare, entry.values().next().value!);
    }
    this.#report('removed', session);
    return true;
  }

  get(fullJid: Jid): BoundSession | undefined {
    return this.#byFullJid.get(fullJid.toString());
  }

  /** Sessions of an account that sent available presence, highest priority first (RFC 6121 section 8.5.2.1.1). */
  availableResourcesOf(bareJid: Jid): BoundSession[] {
    return this.resourcesOf(bareJid)
      .filter((session) => session.im.available)
      .sort((a, b) => b.im.priority - a.im.priority);
  }

  /** The sessions of an account (bare JID), in bind order. */
  resourcesOf(bareJid: Jid): BoundSession[] {
    const entry = this.#byBareJid.get(bareJid.bare().toString());
    if (entry instanceof Map) return [...entry.values()];
    return entry ? [entry] : [];
  }

  /** The session of a full JID, or every session of a bare JID's account. */
  sessionsOf(jid: Jid): BoundSession[] {
    if (jid.resource === undefined) return this.resourcesOf(jid);
    const one = this.get(jid);
    return one ? [one] : [];
  }

  /** Whether a session of the account other than those in `except` passes `test`; makes no list (every message asks, for carbons). */
  someOtherResource(bareJid: Jid, except: readonly BoundSession[], test: (session: BoundSession) => boolean): boolean {
    const entry = this.#byBareJid.get(bareJid.bare().toString());
    if (entry === undefined) return false;
    if (!(entry instanceof Map)) return !except.includes(entry) && test(entry);
    for (const session of entry.values()) if (!except.includes(session) && test(session)) return true;
    return false;
  }

  hasResource(bareJid: Jid, resource: string): boolean {
    const entry = this.#byBareJid.get(bareJid.bare().toString());
    return entry instanceof Map ? entry.has(resource) : entry !== undefined && resourceOf(entry) === resource;
  }

  get size(): number {
    return this.#byFullJid.size;
  }

  all(): IterableIterator<BoundSession> {
    return this.#byFullJid.values();
  }
}

function resourceOf(session: BoundSession): string {
  return session.jid.resource ?? '';
}
