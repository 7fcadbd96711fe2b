/**
 * The sessions of the other nodes in this node's session registry (router/sessions.ts), kept
 * in step with their records: a record that arrives adds or updates a `RemoteSession`, one that
 * goes removes it, and a node that is gone takes all of its sessions with it.
 */
import type { SessionRegistry } from '../router/sessions.ts';
import type { NodeIdentity, SessionRecord } from './engine.ts';
import { RemoteSession, type Courier } from './remote-session.ts';

const keyOf = (node: NodeIdentity): string => `${node.name}:${node.incarnation}`;

export class SessionMirror {
  readonly #registry: SessionRegistry;
  readonly #courier: Courier;
  /** node incarnation → full JID → its session here */
  readonly #byNode = new Map<string, Map<string, RemoteSession>>();

  constructor(registry: SessionRegistry, courier: Courier) {
    this.#registry = registry;
    this.#courier = courier;
  }

  /** Adds or updates the session of a record. A newer login on the same resource replaces whatever the registry held for it. */
  apply(record: SessionRecord): void {
    const node = { name: record.node, incarnation: record.incarnation };
    let sessions = this.#byNode.get(keyOf(node));
    if (sessions === undefined) this.#byNode.set(keyOf(node), (sessions = new Map()));
    const known = sessions.get(record.jid);
    if (known !== undefined && this.#registry.get(known.jid) === known) return known.update(record);
    const session = new RemoteSession(record, this.#courier);
    sessions.set(record.jid, session);
    this.#registry.add(session);
  }

  /** A session of `node` ended; returns it when it was still registered here. */
  drop(node: NodeIdentity, jid: string): RemoteSession | undefined {
    const sessions = this.#byNode.get(keyOf(node));
    const session = sessions?.get(jid);
    if (session === undefined) return undefined;
    sessions!.delete(jid);
    if (sessions!.size === 0) this.#byNode.delete(keyOf(node));
    return this.#registry.remove(session) ? session : undefined;
  }

  /** A node is gone: its sessions leave the registry; returns those that were still registered. */
  dropNode(node: NodeIdentity): RemoteSession[] {
    const sessions = this.#byNode.get(keyOf(node));
    this.#byNode.delete(keyOf(node));
    return [...(sessions?.values() ?? [])].filter((session) => this.#registry.remove(session));
  }

  /** Every remote session leaves the registry (this node left the cluster). */
  clear(): void {
    for (const sessions of this.#byNode.values()) for (const session of sessions.values()) this.#registry.remove(session);
    this.#byNode.clear();
  }

  /** The registry takes exactly these records' sessions of the other nodes (a snapshot). */
  replaceAll(records: readonly SessionRecord[]): void {
    const current = new Set(records.map((record) => `${record.node}:${record.incarnation}/${record.jid}`));
    for (const [node, sessions] of this.#byNode) {
      for (const [jid, session] of sessions) {
        if (current.has(`${node}/${jid}`)) continue;
        sessions.delete(jid);
        this.#registry.remove(session);
      }
      if (sessions.size === 0) this.#byNode.delete(node);
    }
    for (const record of records) this.apply(record);
  }

  /** How many sessions of other nodes are mirrored here. */
  get size(): number {
    let count = 0;
    for (const sessions of this.#byNode.values()) count += sessions.size;
    return count;
  }
}
