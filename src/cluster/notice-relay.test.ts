/**
 * Notices and questions between the nodes of a cluster (notice-relay.ts) over the Redis engine
 * against a real redis-server: a notice is in every other live node's inbox when `publish`
 * resolves and its topic's handler takes it there; a question gets every other node's answer,
 * a handler's failure as an error, and a node that does not read its inbox as a timeout.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis, type TestRedis } from '../../test/support/redis.ts';
import { NodeNotices } from '../router/node-notices.ts';
import { createLogger } from '../util/log.ts';
import type { NodeIdentity } from './engine.ts';
import { NoticeRelay } from './notice-relay.ts';
import { RedisEngine } from './redis-engine.ts';

let redis: TestRedis;
const engines: RedisEngine[] = [];
const logger = createLogger({ level: 'error', format: 'text' });

before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const engine of engines) await engine.close();
  await redis?.remove();
});

interface TestNode {
  self: NodeIdentity;
  engine: RedisEngine;
  notices: NodeNotices;
  relay: NoticeRelay;
  /** reads the node's inbox once and hands what came to its relay */
  readInbox(): Promise<void>;
}

async function nodes(names: string[], answerTimeoutMs: number): Promise<TestNode[]> {
  const made: TestNode[] = [];
  for (const name of names) {
    const engine = new RedisEngine({ url: redis.url, keyPrefix: 'relay', logger });
    await engine.connect();
    engines.push(engine);
    const self = { name, incarnation: '1' };
    assert.equal(await engine.join(self, 60_000), true);
    const notices = new NodeNotices();
    const relay = new NoticeRelay({ engine, self: () => self, others: () => made.filter((other) => other.self !== self).map((other) => other.self), notices, answerTimeoutMs, logger });
    notices.transport = relay;
    const readInbox = async (): Promise<void> => {
      const entries = await engine.read(self, 100, 50);
      for (const { from, entry } of entries) if (entry.kind === 'notice' || entry.kind === 'ask' || entry.kind === 'answer') await relay.receive(from, entry);
      await engine.acknowledge(self, entries.map((entry) => entry.id));
    };
    made.push({ self, engine, notices, relay, readInbox });
  }
  return made;
}

test('a notice reaches every other node\'s handler; a question gets each node\'s answer, its failure, or a timeout', async () => {
  const [a, b, c] = await nodes(['a', 'b', 'c'], 1000);
  const seen: string[] = [];
  for (const node of [b!, c!]) node.notices.on('blocking:example.com', (user) => void seen.push(`${node.self.name} ${user}`));
  await a!.notices.publish('blocking:example.com', 'alice@example.com');
  await Promise.all([b!.readInbox(), c!.readInbox()]);
  assert.deepEqual(seen.sort(), ['b alice@example.com', 'c alice@example.com']);

  b!.notices.on('count', (body) => String(body.length));
  c!.notices.on('count', () => {
    throw new Error('not here');
  });
  const asked = a!.notices.ask('count', 'four');
  await Promise.all([b!.readInbox(), c!.readInbox()]);
  await a!.readInbox();
  assert.deepEqual(await asked, [{ node: 'b', body: '4' }, { node: 'c', error: 'not here' }]);

  // Node c no longer reads its inbox: its answer times out; node b's still comes.
  const late = a!.notices.ask('count', 'xy');
  await b!.readInbox();
  await a!.readInbox();
  assert.deepEqual(await late, [{ node: 'b', body: '2' }, { node: 'c', error: 'no answer within 1000 ms' }]);
});

test('without a cluster, publishing does nothing and asking gets no answers', async () => {
  const notices = new NodeNotices();
  await notices.publish('topic', 'body');
  assert.deepEqual(await notices.ask('topic', 'body'), []);
  await assert.rejects(notices.received('unknown', ''), /no handler for the cluster notice topic "unknown"/);
});
