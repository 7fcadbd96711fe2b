/**
 * Stream management resumption (XEP-0198 section 5) across the nodes (docs/cluster.md, "Stream
 * management"). A client resumes on node B a session node A holds (A's record of it carries the
 * resumption id; a new id also names the node that made it, c2s/hand-over.ts): B asks A through A's inbox; A stops the session (what is sent to it waits),
 * and in one engine step moves its record to B, tells the other nodes it is B's now, and hands
 * B its state (`h` counts, unacknowledged stanzas in order, IM state); then A forwards to B
 * whatever waited or still arrives for it. B installs the session, detached, and resumes it
 * as any of its own. If A does not answer within a lease (it is dead, or stalled and about to
 * fence itself) B answers <failed/>: the session stays A's, and a survivor of A handles what it
 * held (takeover.ts).
 */
import { randomBytes } from 'node:crypto';
import type { ClientSession } from '../c2s/client-session.ts';
import { nodeOfResumptionId, type HandedOverSession, type ResumptionPeers } from '../c2s/hand-over.ts';
import { parseJid } from '../jid/jid.ts';
import type { SessionRegistry } from '../router/sessions.ts';
import type { Logger } from '../util/log.ts';
import type { ClusterEngine, ClusterMember, InboxEntry, NodeIdentity, SessionRecord } from './engine.ts';
import type { SessionMirror } from './mirror.ts';
import { RemoteSession } from './remote-session.ts';

/** What resumption needs of the client side of this server (c2s/listener.ts). */
export interface ResumableClients {
  /** stops a session of `account` for another node to take it (ClientSession.beginHandOver) */
  handOver(previd: string, account: string): ReturnType<ClientSession['beginHandOver']>;
  /** installs a session another node gave up, detached, for its client to resume here */
  install(state: HandedOverSession, from: string): void;
}

export interface ClusterResumptionOptions {
  engine: ClusterEngine;
  /** this node's name, in every resumption id made here */
  name: string;
  /** this incarnation while it is live by its own clock */
  self: () => NodeIdentity | undefined;
  /** the members as of the last heartbeat */
  members: () => readonly ClusterMember[];
  clients: ResumableClients;
  mirror: SessionMirror;
  registry: SessionRegistry;
  /** how long a node is waited for: within a lease a live node answers or fences itself */
  waitMs: number;
  logger: Logger;
}

/** requests for sessions awaiting an answer at once; beyond, a resumption fails (the client binds anew) */
const MAX_WAITING = 10_000;

export class ClusterResumption implements ResumptionPeers {
  readonly #options: ClusterResumptionOptions;
  /** request id → settles the request */
  readonly #waiting = new Map<string, (installed: boolean) => void>();
  /** local sessions given to another node: their removal from the registry is no news to the others */
  readonly #movedAway = new WeakSet<object>();

  constructor(options: ClusterResumptionOptions) {
    this.#options = options;
  }

  newId(random: string): string {
    return `${random}.${this.#options.name}`;
  }

  /** Whether `session` left the registry because another node took it over. */
  movedAway(session: object): boolean {
    return this.#movedAway.has(session);
  }

  async fetch(previd: string, account: string): Promise<boolean> {
    const { engine, self: selfNow, members, logger } = this.#options;
    const self = selfNow();
    if (self === undefined || this.#waiting.size >= MAX_WAITING) return false;
    // The node holding it now, as its record says (it may have moved since the id was made), else the node that made the id.
    const published = this.#options.registry.resourcesOf(parseJid(account)).find((session) => session instanceof RemoteSession && session.streamManagementId === previd);
    const name = published instanceof RemoteSession ? published.node.name : nodeOfResumptionId(previd);
    const holder = published instanceof RemoteSession ? published.node : members().find((member) => member.live && member.name === name && name !== self.name);
    if (holder === undefined) return false;
    const id = randomBytes(9).toString('base64url');
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), this.#options.waitMs);
      const settle = (installed: boolean): void => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(installed);
      };
      this.#waiting.set(id, settle);
    });
    let outcome: string;
    try {
      outcome = await engine.send(self, holder, { kind: 'resume', id, previd, account }, Number.MAX_SAFE_INTEGER);
    } catch (error) {
      outcome = error instanceof Error ? error.message : String(error);
    }
    if (outcome !== 'sent') this.#waiting.get(id)?.(false);
    const installed = await answered;
    if (!installed) logger.info('c2s resumption on another node failed', { previd, node: name, outcome: outcome === 'sent' ? 'no answer' : outcome });
    return installed;
  }

  /** An entry of this node's inbox about resumption. */
  async receive(from: NodeIdentity, entry: InboxEntry & { kind: 'resume' | 'resume-refused' | 'hand-over' }): Promise<void> {
    switch (entry.kind) {
      case 'resume':
        return this.#giveUp(from, entry.id, entry.previd, entry.account);
      case 'resume-refused':
        return this.#waiting.get(entry.id)?.(false);
      case 'hand-over':
        // Installed even when the client stopped waiting: it may resume it again, or it ends as any detached session.
        this.#options.clients.install(entry.session, `node ${from.name}`);
        return this.#waiting.get(entry.id)?.(true);
    }
  }

  /** Another node asks for a session of this one: it moves there, or it stays and the asker is told no. */
  async #giveUp(to: NodeIdentity, id: string, previd: string, account: string): Promise<void> {
    const { engine, self: selfNow, clients, mirror, registry, logger } = this.#options;
    const self = selfNow();
    if (self === undefined) return;
    const handOver = clients.handOver(previd, account);
    if (handOver === undefined) {
      await engine.send(self, to, { kind: 'resume-refused', id }, Number.MAX_SAFE_INTEGER);
      return;
    }
    const { state } = handOver;
    const record: SessionRecord = {
      jid: state.jid,
      node: to.name,
      incarnation: to.incarnation,
      resumption: state.id,
      ...(state.presence === undefined ? {} : { presence: state.presence }),
      priority: state.priority,
      carbons: state.carbons,
      rosterRequested: state.rosterRequested,
      directed: state.directed,
    };
    let outcome: string;
    try {
      outcome = await engine.handOver(self, to, record, { kind: 'hand-over', id, session: state });
    } catch (error) {
      outcome = error instanceof Error ? error.message : String(error);
    }
    if (outcome !== 'sent') {
      handOver.abort();
      logger.warn('c2s session not handed over to another node; it stays here', { jid: state.jid, node: to.name, outcome });
      return;
    }
    const jid = parseJid(state.jid);
    const local = registry.get(jid);
    if (local !== undefined) this.#movedAway.add(local);
    const waited = handOver.commit();
    // From now on it is a session of the other node here too: what arrives for it is forwarded there, in order.
    mirror.apply(record);
    const moved = registry.get(jid);
    for (const stanza of waited) moved?.send(stanza);
    logger.info('c2s session handed over to another node', { jid: state.jid, node: to.name, forwarded: waited.length || undefined });
  }

}
