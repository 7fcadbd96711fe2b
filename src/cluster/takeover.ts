/**
 * What one survivor does after a dead node (docs/cluster.md, "When a node dies"), under a lease
 * so that exactly one does it: the engine removes the dead incarnation's registration, session
 * records and inbox in one step and tells the other nodes; this node then removes its sessions
 * from its own registry, tells their contacts they are unavailable (the features' `session/closed`,
 * as when a client's stream ends, RFC 6121 section 4.5.3), and handles every stanza the dead
 * node's inbox still held as sent to a resource that went offline: a message goes to another
 * resource of its account or to offline storage, an IQ request bounces; so do the stanzas of a
 * session another node handed it that it never installed. Stanzas it held for remote
 * domains (it federated with them) go to whichever node federates with them now (federation.ts),
 * and those for rooms it ran to whichever node runs them now, once this node's occupants of those
 * rooms were told the room stopped (rooms.ts).
 */
import { rerouteUndelivered } from '../c2s/undelivered.ts';
import { parseJid } from '../jid/jid.ts';
import type { Router } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import type { ClusterEngine, NodeIdentity } from './engine.ts';
import type { ClusterFederation } from './federation.ts';
import type { SessionMirror } from './mirror.ts';
import { RemoteSession, type Courier } from './remote-session.ts';
import type { ClusterRooms } from './rooms.ts';

export interface TakeOverContext {
  engine: ClusterEngine;
  router: Router;
  mirror: SessionMirror;
  self: NodeIdentity;
  dead: NodeIdentity;
  leaseMs: number;
  /** for the sessions this node had not mirrored yet */
  courier: Courier;
  /** sends again what the dead node was to send to remote domains */
  federation: ClusterFederation;
  /** the rooms it ran: released, their occupants here told, what was for them handed on */
  rooms: ClusterRooms;
  logger: Logger;
}

/** Resolves true when this node took the dead node over, false when another did or it renewed after all. */
export async function takeOver({ engine, router, mirror, self, dead, leaseMs, courier, federation, rooms, logger }: TakeOverContext): Promise<boolean> {
  const lease = `takeover:${dead.name}:${dead.incarnation}`;
  const holder = `${self.name}:${self.incarnation}`;
  if (!(await engine.acquireLease(lease, holder, leaseMs))) return false;
  try {
    const taken = await engine.takeOver(self, dead);
    if (taken === undefined) return false;
    const mirrored = new Map(mirror.dropNode(dead).map((session) => [session.jid.toString(), session]));
    // A record this node had not mirrored yet still had contacts to tell.
    const sessions = taken.sessions.map((record) => mirrored.get(record.jid) ?? new RemoteSession(record, courier));
    for (const session of sessions) {
      const host = router.hosts.get(session.jid.domain);
      if (host) await host.events.emit('session/closed', { session, host });
    }
    rooms.nodeGone(dead);
    let rerouted = 0;
    let federated = 0;
    let roomed = 0;
    for (const { entry } of taken.undelivered) {
      if (entry.kind === 's2s') {
        // It was the node federating with that domain: whichever node does now sends it.
        federation.resend(entry);
        federated++;
      }
      if (entry.kind === 'hand-over') {
        // A session handed to it that it never installed (XEP-0198 section 5): what its client had not acknowledged.
        const { session } = entry;
        const stanzas = [...session.unacknowledged.map(({ xml }) => xml), ...session.held].map((xml) => parseElement(xml, undefined, NS_CLIENT));
        await rerouteUndelivered(router, parseJid(session.jid), stanzas);
        rerouted += stanzas.length;
      }
      if (entry.kind === 'muc') {
        // It ran that room: whichever node runs it now handles it.
        rooms.resend(entry);
        roomed++;
      }
      if (entry.kind !== 'stanza') continue;
      await rerouteUndelivered(router, parseJid(entry.to), [parseElement(entry.xml)]);
      rerouted++;
    }
    logger.warn('took over after a dead node', { dead: dead.name, incarnation: dead.incarnation, sessions: sessions.length, rerouted, federated, rooms: roomed });
    return true;
  } finally {
    await engine.releaseLease(lease, holder);
  }
}
