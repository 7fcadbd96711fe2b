/**
 * A client resource bound on another node, as this node's session registry holds it
 * (router/sessions.ts): its IM state mirrored from that node's record, and what is sent to it
 * handed to that node's inbox. Features deliver, broadcast presence and copy carbons to it
 * exactly as to a local session.
 */
import { parseJid, type Jid } from '../jid/jid.ts';
import { newImState, type BoundSession, type SessionEndCondition, type SessionImState } from '../router/sessions.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import type { NodeIdentity, SessionRecord } from './engine.ts';

/** Hands what is sent to a remote session to its node. */
export interface Courier {
  /** Resolves true once the node's inbox holds the stanza; false when it went elsewhere instead (offline storage, a bounce). */
  forward(session: RemoteSession, stanza: Element): Promise<boolean>;
  terminate(session: RemoteSession, condition: SessionEndCondition, text: string | undefined): void;
}

export class RemoteSession implements BoundSession {
  readonly jid: Jid;
  readonly node: NodeIdentity;
  readonly im: SessionImState = newImState();
  /** the owning node keeps the offline backlog of its own sessions */
  offlineBacklog = false;
  /** its resumption id (XEP-0198), when its client may resume it */
  streamManagementId: string | undefined;
  /** as its node last said (XEP-0352), so that push notifications are decided on any node */
  inactive = false;
  /** `detached` while its node keeps it for resumption (XEP-0198) */
  state: 'attached' | 'detached' = 'attached';
  readonly #courier: Courier;

  constructor(record: SessionRecord, courier: Courier) {
    this.jid = parseJid(record.jid);
    this.node = { name: record.node, incarnation: record.incarnation };
    this.#courier = courier;
    this.update(record);
  }

  get peer(): string {
    return `node ${this.node.name}`;
  }

  /** Takes the IM state of a newer record of the same session. */
  update(record: SessionRecord): void {
    const im = this.im;
    im.presence = record.presence === undefined ? undefined : parseElement(record.presence);
    this.streamManagementId = record.resumption;
    im.priority = record.priority;
    im.carbons = record.carbons;
    im.rosterRequested = record.rosterRequested;
    im.directedPresence.clear();
    for (const jid of record.directed) im.directedPresence.add(jid);
    this.inactive = record.inactive === true;
    this.state = record.detached === true ? 'detached' : 'attached';
  }

  send(stanza: Element): void {
    void this.#courier.forward(this, stanza);
  }

  /**
   * Resolves once the owning node's inbox holds the stanza: from there it reaches the client, or,
   * should the session end first, that node (or the survivor of it) handles it as undelivered.
   */
  sendTracked(stanza: Element): Promise<boolean> {
    return this.#courier.forward(this, stanza);
  }

  terminate(condition: SessionEndCondition, text?: string): void {
    this.#courier.terminate(this, condition, text);
  }
}

/** The record of a local session for the other nodes. */
export function recordOf(session: BoundSession, self: NodeIdentity): SessionRecord {
  const { im } = session;
  return {
    jid: session.jid.toString(),
    node: self.name,
    incarnation: self.incarnation,
    ...(im.presenceXml === undefined ? {} : { presence: im.presenceXml }),
    priority: im.priority,
    carbons: im.carbons,
    rosterRequested: im.rosterRequested,
    directed: [...im.directedPresence],
    ...(session.streamManagementId === undefined ? {} : { resumption: session.streamManagementId }),
    ...(session.inactive === true ? { inactive: true } : {}),
    ...(session.state === 'detached' ? { detached: true } : {}),
  };
}
