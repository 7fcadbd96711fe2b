/**
 * A rolling restart of a three-node cluster (docs/cluster.md, "Rolling restarts"): each node in
 * turn stopped cleanly and started again while a user keeps sending numbered messages to a user
 * on another node; clients move to a running node as theirs goes. Every message arrives once:
 * live, or from offline storage when its recipient is online again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runningCluster, waitPresence } from './support/cluster.ts';
import type { RawClient } from './support/raw-client.ts';
import { sleep } from './support/server-process.ts';

const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };

/** The numbers of the messages with ids `r<n>` in what a client received. */
function numbers(received: string): number[] {
  return [...received.matchAll(/<message\b[^>]*\bid=["']r(\d+)["']/g)].map((match) => Number(match[1]));
}

describe('a rolling restart of three nodes', () => {
  const running = runningCluster(3, TIMINGS, ['alice', 'bob'], [['alice', 'bob']]);

  // The timeout ends a step that never returns: the test fails, and the hooks kill the nodes and close the clients.
  test('each node stopped cleanly and started again in turn, while messages flow: every one arrives, once', { timeout: 120_000 }, async (t) => {
    const cluster = running.cluster();
    let alice = await running.connect(0, 'alice', 'desk');
    const bobs: RawClient[] = [await running.connect(1, 'bob', 'phone')];
    await waitPresence(alice, 'bob@localhost/phone', '');

    let sent = 0;
    let sending = true;
    // A failure below must stop the senders too: their 10 ms timers would keep this process alive for ever.
    t.after(() => (sending = false));
    const sender = (async () => {
      while (sending) {
        sent++;
        alice.send(`<message to='bob@localhost' type='chat' id='r${sent}'><body>${sent}</body></message>`);
        await sleep(10);
      }
    })();
    const restart = async (node: number): Promise<void> => {
      await cluster.kill(node, 'SIGTERM');
      await cluster.start(node);
    };

    // The node with no clients.
    await sleep(300);
    await restart(2);
    // Bob's node: he is told system-shutdown and logs in on node 3 at once; what came meanwhile waits offline.
    await sleep(300);
    await cluster.kill(1, 'SIGTERM');
    bobs.push(await running.connect(2, 'bob', 'phone'));
    await cluster.start(1);
    // Alice's node: she moves to node 2 first (a client with a stream to close ends it cleanly), then it restarts.
    await sleep(300);
    sending = false;
    await sender;
    const moved = await running.connect(1, 'alice', 'laptop');
    alice.send('</stream:stream>');
    await alice.waitFor(/<\/stream:stream>/);
    alice = moved;
    sending = true;
    const resumed = (async () => {
      while (sending) {
        sent++;
        alice.send(`<message to='bob@localhost' type='chat' id='r${sent}'><body>${sent}</body></message>`);
        await sleep(10);
      }
    })();
    await restart(0);
    await sleep(300);
    sending = false;
    await resumed;

    const expected = Array.from({ length: sent }, (_, index) => index + 1);
    const deadline = Date.now() + 20_000;
    let got: number[] = [];
    while (Date.now() < deadline) {
      got = bobs.flatMap((bob) => numbers(bob.received));
      if (new Set(got).size >= sent) break;
      await sleep(100);
    }
    const missing = expected.filter((n) => !got.includes(n));
    assert.deepEqual(missing, [], `${missing.length} of ${sent} messages never arrived`);
    assert.equal(got.length, sent, 'none arrived twice');
    // Those sent while Bob's node was stopping and he was not yet online again came from offline storage (XEP-0203 stamp).
    assert.match(bobs[1]!.received, /<delay xmlns=["']urn:xmpp:delay["']/, 'some messages waited offline while Bob moved');
    assert.ok(sent > 100, `${sent} messages sent`);
  });
});
