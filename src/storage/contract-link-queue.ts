/** The storage contract for link queues (LinkQueueStore), run by storageContract. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Storage } from './types.ts';

type OpenFor = (t: TestContext) => Promise<Storage>;

const roomy = { maxMessages: 100, maxBytes: 1_000_000 };

export function linkQueueTests(openFor: OpenFor): void {
  test('messages come back in the order queued, and stay until removed', async (t) => {
    const storage = await openFor(t);
    const link = `link-${randomUUID()}`;
    for (const n of [1, 2, 3]) assert.equal(await storage.linkQueues.push(link, `<message id="m${n}"/>`, 1000 + n, roomy), 'stored');
    const first = await storage.linkQueues.peek(link, 2);
    assert.deepEqual(first.map((message) => [message.stanza, message.queuedAt]), [['<message id="m1"/>', 1001], ['<message id="m2"/>', 1002]]);
    assert.equal(await storage.linkQueues.remove(link, first.map((message) => message.id)), 2);
    assert.deepEqual((await storage.linkQueues.peek(link, 10)).map((message) => message.stanza), ['<message id="m3"/>']);
    assert.equal(await storage.linkQueues.count(link), 1);
    assert.equal(await storage.linkQueues.count(`other-${link}`), 0);
    assert.ok((await storage.linkQueues.links()).includes(link));
    await storage.linkQueues.remove(link, (await storage.linkQueues.peek(link, 10)).map((message) => message.id));
    assert.ok(!(await storage.linkQueues.links()).includes(link), 'a link whose queue is empty is not listed');
  });

  test('a push over the message or byte limit stores nothing', async (t) => {
    const storage = await openFor(t);
    const link = `link-${randomUUID()}`;
    assert.equal(await storage.linkQueues.push(link, 'a', 1, { maxMessages: 2, maxBytes: 100 }), 'stored');
    assert.equal(await storage.linkQueues.push(link, 'b', 2, { maxMessages: 2, maxBytes: 100 }), 'stored');
    assert.equal(await storage.linkQueues.push(link, 'c', 3, { maxMessages: 2, maxBytes: 100 }), 'full');
    assert.equal(await storage.linkQueues.push(link, 'x'.repeat(99), 4, { maxMessages: 10, maxBytes: 100 }), 'full');
    assert.equal(await storage.linkQueues.count(link), 2);
  });

  test('expired messages are taken out in order, the others stay', async (t) => {
    const storage = await openFor(t);
    const link = `link-${randomUUID()}`;
    for (const [stanza, at] of [['old1', 10], ['new', 50], ['old2', 20]] as const) await storage.linkQueues.push(link, stanza, at, roomy);
    assert.deepEqual((await storage.linkQueues.takeExpired(link, 30)).map((message) => message.stanza), ['old1', 'old2']);
    assert.deepEqual((await storage.linkQueues.peek(link, 10)).map((message) => message.stanza), ['new']);
  });
}
