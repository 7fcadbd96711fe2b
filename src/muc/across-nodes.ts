/**
 * What the group-chat services of this server do for a cluster (docs/cluster.md, "Group chat";
 * cluster/rooms.ts decides which node runs each room): start running a room from storage, give
 * one up to another node with its occupants told, and, for this node's client sessions in rooms
 * run elsewhere, learn which rooms they are in and tell them when the node running one is gone
 * (XEP-0045 section 15.6.2, status code 332) so that their clients join again.
 */
import type { LocalRooms } from '../cluster/rooms.ts';
import { RemoteSession } from '../cluster/remote-session.ts';
import { tryParseJid } from '../jid/jid.ts';
import type { Router } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { JoinedRooms, shutdownPresence } from './joined-rooms.ts';
import { mucServiceOf } from './module.ts';
import type { MucService } from './service.ts';

/** Rooms run elsewhere this node's sessions are remembered to be in, at most. */
const MAX_JOINED = 1_000_000;

export class MucAcrossNodes implements LocalRooms {
  readonly #router: Router;
  /** the rooms run on other nodes this node's sessions are in, by the node running each */
  readonly #joined = new JoinedRooms<string>(MAX_JOINED);

  constructor(router: Router) {
    this.#router = router;
  }

  #split(room: string): { service: MucService | undefined; name: string } {
    const jid = tryParseJid(room);
    return { service: mucServiceOf(this.#router.hosts.get(jid?.domain ?? '')), name: jid?.local ?? '' };
  }

  occupied(room: string): boolean {
    const { service, name } = this.#split(room);
    return (service?.rooms.get(name)?.occupants.size ?? 0) > 0;
  }

  async adopt(room: string): Promise<void> {
    const { service, name } = this.#split(room);
    await service?.adopt(name);
  }

  release(room: string): void {
    const { service, name } = this.#split(room);
    service?.release(name, 'this room moved to another server of the cluster; join it again');
  }

  delivered(session: string, stanza: Element, runner: string): void {
    this.#joined.saw(session, stanza, runner, (domain) => mucServiceOf(this.#router.hosts.get(domain)) !== undefined);
  }

  sessionGone(session: string): void {
    this.#joined.sessionGone(session);
  }

  runnerGone(runner: string): number {
    let told = 0;
    for (const [jid, membership] of this.#joined.takeWhere((which) => which === runner)) {
      const address = tryParseJid(jid);
      const session = address && this.#router.sessions.get(address);
      if (session === undefined || session instanceof RemoteSession) continue;
      session.send(shutdownPresence(jid, membership, 'the server running this room stopped; join it again'));
      told++;
    }
    return told;
  }

  clear(): void {
    this.#joined.clear();
  }
}
