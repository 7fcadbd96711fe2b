/**
 * The Redis engine against a real redis-server (test/support/redis.ts): registrations and their
 * lapse, the session registry told to every live node, ordered inboxes whose unacknowledged
 * entries are read again by a restarted reader, inbox bounds, leases (claimed ones free once their
 * holder lapses), a take-over by a survivor, a session handed from one node to another,
 * and a Redis that restarts empty.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis, type TestRedis } from '../../test/support/redis.ts';
import { createLogger } from '../util/log.ts';
import type { NodeIdentity, SessionRecord } from './engine.ts';
import { RedisEngine } from './redis-engine.ts';

let redis: TestRedis;
const engines: RedisEngine[] = [];
const logger = createLogger({ level: 'error', format: 'text' });
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const engine of engines) await engine.close();
  await redis?.remove();
});

/** Engines sharing a key prefix of their own, so that tests do not see each other. */
async function cluster(count: number): Promise<RedisEngine[]> {
  const keyPrefix = `t${++prefixes}`;
  const made: RedisEngine[] = [];
  for (let i = 0; i < count; i++) {
    const engine = new RedisEngine({ url: redis.url, keyPrefix, logger });
    await engine.connect();
    engines.push(engine);
    made.push(engine);
  }
  return made;
}

const node = (name: string, incarnation = '1'): NodeIdentity => ({ name, incarnation });
const record = (jid: string, owner: NodeIdentity): SessionRecord => ({ jid, node: owner.name, incarnation: owner.incarnation, priority: 0, carbons: false, rosterRequested: false, directed: [] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a name is held by one live incarnation; session records reach every other live node in order', async () => {
  const [a, b] = await cluster(2);
  const [na, nb] = [node('a'), node('b')];
  assert.equal(await a!.join(na, 5000), true);
  assert.equal(await b!.join(node('a', '2'), 5000), false, 'a live incarnation holds the name');
  assert.equal(await b!.join(nb, 5000), true);
  assert.deepEqual(await a!.lapsed(), []);
  await a!.putSession(na, record('alice@x/1', na));
  await a!.putSession(na, { ...record('alice@x/1', na), priority: 5 });
  await a!.removeSession(na, 'alice@x/1');
  await a!.putSession(na, record('alice@x/2', na));
  const got = await b!.read(nb, 10, 100);
  assert.deepEqual(got.map((e) => e.entry.kind), ['session', 'session', 'session-gone', 'session']);
  assert.deepEqual(got[0]!.from, na);
  assert.deepEqual((await a!.sessions()).map((r) => r.jid), ['alice@x/2']);
  assert.deepEqual(await a!.read(na, 10, 50), [], 'a node is not told of its own sessions');
});

test('an inbox keeps order, holds unacknowledged entries for a restarted reader, and refuses past its bound', async () => {
  const [a, b] = await cluster(2);
  const [na, nb] = [node('a'), node('b')];
  await a!.join(na, 5000);
  await b!.join(nb, 5000);
  for (let i = 0; i < 50; i++) assert.equal(await a!.send(na, nb, { kind: 'stanza', to: 'bob@x/1', xml: `<m n='${i}'/>` }, 60), 'sent');
  const first = await b!.read(nb, 20, 100);
  assert.deepEqual(first.map((e) => (e.entry.kind === 'stanza' ? e.entry.xml : '')), Array.from({ length: 20 }, (_, i) => `<m n='${i}'/>`));
  await b!.acknowledge(nb, first.slice(0, 10).map((e) => e.id));
  // A new reader of the same node (the process's connection restarted) gets the ten it had not acknowledged first.
  const restarted = new RedisEngine({ url: redis.url, keyPrefix: `t${prefixes}`, logger });
  await restarted.connect();
  engines.push(restarted);
  const again = await restarted.read(nb, 100, 100);
  assert.deepEqual(again.map((e) => e.id), first.slice(10).map((e) => e.id));
  await restarted.acknowledge(nb, again.map((e) => e.id));
  const rest = await restarted.read(nb, 100, 100);
  assert.equal(rest.length, 30);
  assert.equal((rest[0]!.entry as { xml: string }).xml, `<m n='20'/>`);
  for (let i = 0; i < 30; i++) assert.equal(await a!.send(na, nb, { kind: 'stanza', to: 'bob@x/1', xml: '<m/>' }, 60), 'sent');
  assert.equal(await a!.send(na, nb, { kind: 'stanza', to: 'bob@x/1', xml: '<m/>' }, 60), 'full');
  assert.equal(await a!.send(na, node('c'), { kind: 'stanza', to: 'c@x/1', xml: '<m/>' }, 60), 'gone');
});

test('a lapsed node is taken over once, with its sessions and what its inbox held; it is fenced if it wakes', async () => {
  const [a, b, c] = await cluster(3);
  const [na, nb, nc] = [node('a'), node('b'), node('c')];
  await a!.join(na, 300);
  await b!.join(nb, 5000);
  await c!.join(nc, 5000);
  await a!.putSession(na, record('alice@x/1', na));
  await b!.send(nb, na, { kind: 'stanza', to: 'alice@x/1', xml: '<m n="1"/>' }, 100);
  await b!.send(nb, na, { kind: 'stanza', to: 'alice@x/1', xml: '<m n="2"/>' }, 100);
  assert.equal((await a!.read(na, 1, 50)).length, 1, 'read, never acknowledged');
  await b!.read(nb, 100, 50);
  await c!.read(nc, 100, 50);
  assert.deepEqual(await b!.lapsed(), []);
  await sleep(400);
  assert.deepEqual(await b!.lapsed(), [na]);
  assert.equal(await b!.send(nb, na, { kind: 'stanza', to: 'alice@x/1', xml: '<m/>' }, 100), 'gone');
  const taken = await b!.takeOver(nb, na);
  assert.ok(taken);
  assert.deepEqual(taken.sessions.map((r) => r.jid), ['alice@x/1']);
  assert.deepEqual(taken.undelivered.map((e) => (e.entry as { xml: string }).xml), ['<m n="1"/>', '<m n="2"/>']);
  assert.equal(await c!.takeOver(nc, na), undefined, 'only one survivor takes it over');
  assert.deepEqual((await c!.read(nc, 10, 100)).map((e) => e.entry), [{ kind: 'node-gone', node: 'a', incarnation: '1' }]);
  assert.deepEqual(await b!.lapsed(), []);
  assert.equal(await a!.renew(na, 300), 'fenced');
  assert.equal(await a!.join(node('a', '2'), 5000), true, 'it joins again as a new incarnation');
});

test('a hand-over moves a session record to the taker, tells the others as from the taker, and gives the taker its entry, or does nothing', async () => {
  const [a, b, c] = await cluster(3);
  const [na, nb, nc] = [node('a'), node('b'), node('c')];
  for (const [engine, self] of [[a, na], [b, nb], [c, nc]] as const) await engine!.join(self, 5000);
  await a!.putSession(na, record('alice@x/1', na));
  await b!.read(nb, 10, 50);
  await c!.read(nc, 10, 50);
  const moved = record('alice@x/1', nb);
  const entry = { kind: 'resume-refused' as const, id: 'r1' };
  assert.equal(await a!.handOver(na, nb, moved, entry), 'sent');
  assert.deepEqual(await a!.sessions(), [moved], 'one record, the taker\'s');
  const atC = await c!.read(nc, 10, 50);
  assert.deepEqual(atC.map((e) => [e.from.name, e.entry]), [['b', { kind: 'session', record: moved }]]);
  const atA = await a!.read(na, 10, 50);
  assert.deepEqual(atA, [], 'the giver knows already');
  const atB = await b!.read(nb, 10, 50);
  assert.deepEqual(atB.map((e) => [e.from.name, e.entry]), [['a', entry]], 'the taker gets the hand-over, not the news');

  // A taker that is gone, or a giver that is no longer live: nothing moves.
  await c!.leave(nc);
  assert.equal(await b!.handOver(nb, nc, record('alice@x/1', nc), entry), 'gone');
  assert.deepEqual(await a!.sessions(), [moved], 'the record stays the giver\'s');
  await b!.leave(nb);
  assert.equal(await b!.handOver(nb, na, record('alice@x/1', na), entry), 'fenced');
  assert.deepEqual(await a!.read(na, 10, 50), [], 'nobody was told anything');
});

test('a lease has one holder at a time', async () => {
  const [a, b] = await cluster(2);
  assert.equal(await a!.acquireLease('cleanup:x', 'a', 5000), true);
  assert.equal(await b!.acquireLease('cleanup:x', 'b', 5000), false);
  assert.equal(await a!.acquireLease('cleanup:x', 'a', 5000), true, 'the holder extends it');
  await b!.releaseLease('cleanup:x', 'b');
  assert.equal(await b!.acquireLease('cleanup:x', 'b', 5000), false, 'only the holder releases it');
  await a!.releaseLease('cleanup:x', 'a');
  assert.equal(await b!.acquireLease('cleanup:x', 'b', 5000), true);
});

test('a claimed lease names its holder to the others, is renewed by it, and is free once its holder lapses', async () => {
  const [a, b] = await cluster(2);
  const [na, nb] = [node('a'), node('b')];
  await a!.join(na, 300);
  await b!.join(nb, 5000);
  assert.equal(await a!.claimLease('s2s:remote.example', 'a:1', 300), 'a:1');
  assert.equal(await b!.claimLease('s2s:remote.example', 'b:1', 5000), 'a:1', 'the live holder is named');
  assert.deepEqual(await a!.renewLeases(['s2s:remote.example', 's2s:other.example'], 'a:1', 300), [], 'an absent lease is taken again by its holder');
  assert.deepEqual(await b!.renewLeases(['s2s:remote.example'], 'b:1', 5000), ['s2s:remote.example'], 'another holds it');
  // a stops renewing its registration: its leases are free at once, whatever time they had left.
  await a!.renewLeases(['s2s:remote.example'], 'a:1', 60_000);
  await sleep(400);
  assert.equal(await b!.claimLease('s2s:remote.example', 'b:1', 5000), 'b:1');
  assert.deepEqual(await a!.renewLeases(['s2s:remote.example'], 'a:1', 300), ['s2s:remote.example']);
});

test('members are listed live or lapsed with what each published at its last renewal', async () => {
  const [a, b] = await cluster(2);
  const [na, nb] = [node('a'), node('b')];
  await a!.join(na, 300);
  await b!.join(nb, 5000);
  const status = { addresses: ['c2s 10.0.0.11:5222'], sessions: 2, federates: ['remote.example'], at: 1234 };
  assert.equal(await a!.renew(na, 300, status), 'renewed');
  let members = await b!.members();
  assert.deepEqual(members.map((m) => [m.name, m.incarnation, m.live, m.status]), [['a', '1', true, status], ['b', '1', true, undefined]]);
  await sleep(400);
  members = await b!.members();
  assert.deepEqual(members.map((m) => [m.name, m.live]), [['a', false], ['b', true]], 'a lapsed and waits for a survivor');
  await b!.takeOver(nb, na);
  assert.deepEqual((await b!.members()).map((m) => m.name), ['b']);
});

test('after Redis restarts empty, a renewal writes the registration again and the inbox works', async () => {
  const [a, b] = await cluster(2);
  const [na, nb] = [node('a'), node('b')];
  await a!.join(na, 5000);
  await b!.join(nb, 5000);
  await redis.stop(true);
  await redis.start();
  // The clients reconnect on their own; a command issued meanwhile waits for that.
  let outcome: string | undefined;
  for (let tries = 0; outcome === undefined && tries < 50; tries++) outcome = await a!.renew(na, 5000).catch(() => sleep(100).then(() => undefined));
  assert.equal(outcome, 'restored');
  assert.equal(await a!.renew(na, 5000), 'renewed');
  for (let tries = 0; (await b!.renew(nb, 5000).catch(() => 'down')) === 'down' && tries < 50; tries++) await sleep(100);
  assert.equal(await a!.send(na, nb, { kind: 'stanza', to: 'bob@x/1', xml: '<m/>' }, 100), 'sent');
  let got: unknown[] = [];
  for (let tries = 0; got.length === 0 && tries < 20; tries++) got = await b!.read(nb, 10, 100).catch(() => []);
  assert.equal(got.length, 1);
});
