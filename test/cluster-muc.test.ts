/**
 * Group chat across three Trellis processes of one cluster (docs/cluster.md, "Group chat"), on a
 * PostgreSQL and a Redis of their own: occupants of one room on three nodes see each other's
 * presence and every groupchat message, numbered, in order, each once; a private message
 * between occupants on two nodes; then `kill -9` of the node running the room: the occupants on
 * the survivors are told (status code 332), a message sent while it died bounces instead of
 * vanishing, and they join again and chat again through the node that runs the room now.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runningCluster, waitCount } from './support/cluster.ts';
import type { RawClient } from './support/raw-client.ts';

const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };
const ROOM = 'lobby@conference.localhost';
/** groupchat messages each occupant sends in each round */
const MESSAGES = 100;
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

describe('group chat across a cluster of three nodes', () => {
  const running = runningCluster(3, TIMINGS, ['alice', 'bob', 'carol'], []);
  /** by nickname: alice on node 1, bob on node 2 (he creates the room, so node 2 runs it), carol on node 3 */
  const occupants: Record<string, RawClient> = {};

  const connect = (node: number, user: string): Promise<RawClient> => running.connect(node, user, 'pc');

  /** Enters the room and resolves with the room's self-presence (status code 110). */
  const join = async (client: RawClient, nick: string): Promise<string> => {
    client.send(`<presence to='${ROOM}/${nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const self = new RegExp(`<presence\\b(?=[^>]*from=["']${ROOM}/${nick}["'])(?![^>]*type=)[^>]*>(?:(?!</presence>)[\\s\\S])*status code=["']110["'][\\s\\S]*?</presence>`);
    return self.exec(await client.waitFor(self, 10_000))![0];
  };

  const holderOfRoom = async (): Promise<string> => {
    const { stdout } = await promisify(execFile)('/usr/bin/redis-cli', ['-p', String(running.redis().port), 'get', `trellis:lease:muc:${ROOM}`]);
    return stdout.trim();
  };

  /** Every occupant sends MESSAGES numbered groupchat messages with ids `<prefix><nick initial><n>`; each occupant must get all, in order per sender, once. */
  const chat = async (prefix: string, nicks: string[]): Promise<void> => {
    for (let n = 1; n <= MESSAGES; n++) {
      for (const nick of nicks) occupants[nick]!.send(`<message to='${ROOM}' type='groupchat' id='${prefix}${nick[0]}${n}'><body>${nick} ${n}</body></message>`);
    }
    const expected = Array.from({ length: MESSAGES }, (_, i) => i + 1);
    for (const receiver of nicks) {
      for (const sender of nicks) {
        const seen = await waitCount(occupants[receiver]!, `${prefix}${sender[0]}`, MESSAGES, 30_000);
        assert.deepEqual(seen, expected, `${receiver} gets every message of ${sender}, once, in the order sent`);
      }
    }
    // Nothing arrives twice late either.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const receiver of nicks) {
      for (const sender of nicks) assert.equal((occupants[receiver]!.received.match(new RegExp(`\\bid=["']${prefix}${sender[0]}\\d+["']`, 'g')) ?? []).length, MESSAGES);
    }
  };

  test('occupants on three nodes see each other and every message, in order, once; a private message crosses nodes', async () => {
    const bob = (occupants.bob = await connect(1, 'bob'));
    assert.match(await join(bob, 'bob'), /status code=["']201["']/, 'bob created the room');
    // XEP-0045 section 10.1.3: a persistent room, so that the node that runs it after a failure finds it in storage.
    bob.send(`<iq type='set' to='${ROOM}' id='config'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>`);
    await bob.waitFor(/<iq\b(?=[^>]*id=["']config["'])(?=[^>]*type=["']result["'])/, 10_000);
    assert.match(await holderOfRoom(), /^node2:/, 'the node the room was created on runs it');

    const alice = (occupants.alice = await connect(0, 'alice'));
    await join(alice, 'alice');
    const carol = (occupants.carol = await connect(2, 'carol'));
    await join(carol, 'carol');
    // Each sees the others in the room, wherever they are connected.
    for (const [viewer, others] of [[alice, ['bob', 'carol']], [bob, ['alice', 'carol']], [carol, ['alice', 'bob']]] as const) {
      for (const nick of others) await viewer.waitFor(new RegExp(`<presence\\b(?=[^>]*from=["']${ROOM}/${nick}["'])(?![^>]*type=)`), 10_000);
    }

    await chat('g', ['alice', 'bob', 'carol']);

    // Section 7.5: a private message through the room, from node 1 to node 3, from the sender's occupant JID.
    alice.send(`<message to='${ROOM}/carol' type='chat' id='pm1'><body>just between us</body></message>`);
    await carol.waitFor(new RegExp(`<message\\b(?=[^>]*from=["']${ROOM}/alice["'])(?=[^>]*id=["']pm1["'])[\\s\\S]*?just between us`), 10_000);
    assert.doesNotMatch(bob.received, /just between us/);
  });

  test('kill -9 of the node running the room: the others are told (332), a message sent meanwhile bounces, and they join again and chat', async () => {
    const { alice, carol } = occupants as Record<'alice' | 'carol', RawClient>;
    alice.clear();
    carol.clear();
    await running.cluster().kill(1, 'SIGKILL');
    // Sent while the room's node is dead and not yet declared so: not lost, bounced by the node that runs the room next.
    alice.send(`<message to='${ROOM}' type='groupchat' id='while-dead'><body>anyone?</body></message>`);

    // XEP-0045 section 15.6.2: removed because the service shut down, about themselves (110).
    for (const [client, nick] of [[alice, 'alice'], [carol, 'carol']] as const) {
      const told = new RegExp(`<presence\\b(?=[^>]*from=["']${ROOM}/${nick}["'])(?=[^>]*type=["']unavailable["'])[^>]*>(?:(?!</presence>)[\\s\\S])*<x xmlns=["']${NS_MUC_USER.replace(/[#/.]/g, '\\$&')}["'](?:(?!</presence>)[\\s\\S])*status code=["']332["']`);
      await client.waitFor(told, 10_000);
    }
    await alice.waitFor(/<message\b(?=[^>]*id=["']while-dead["'])(?=[^>]*type=["']error["'])/, 10_000);
    assert.equal((alice.received.match(/id=["']while-dead["']/g) ?? []).length, 1, 'the message bounces once and is not delivered');
    assert.doesNotMatch(carol.received, /while-dead/);

    // They join again at once; a survivor runs the room now, from storage (it is persistent).
    const self = await join(alice, 'alice');
    assert.doesNotMatch(self, /status code=["']201["']/, 'the room was not created anew: it came from storage');
    await join(carol, 'carol');
    assert.match(await holderOfRoom(), /^node[13]:/);
    await alice.waitFor(new RegExp(`<presence\\b(?=[^>]*from=["']${ROOM}/carol["'])(?![^>]*type=)`), 10_000);
    await carol.waitFor(new RegExp(`<presence\\b(?=[^>]*from=["']${ROOM}/alice["'])(?![^>]*type=)`), 10_000);
    await chat('h', ['alice', 'carol']);
  });
});
