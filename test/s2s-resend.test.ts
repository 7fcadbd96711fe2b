/**
 * A server connection that drops mid-stream loses nothing: between Trellis servers stream
 * management (XEP-0198) tells the sender which stanzas the peer processed, and the rest is sent
 * again on a new connection, or bounced to its sender when no new connection can be made. Every
 * stanza is counted: delivered, or bounced.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginFederated, startFederatedServer } from './support/federation.ts';
import type { RawClient } from './support/raw-client.ts';
import { join } from 'node:path';
import { openSqliteStorage } from '../src/storage/sqlite.ts';

const COUNT = 300;
/** The receiving server: it reads slowly, and takes the whole flood from a sender its user has no roster item for. */
const SLOW_READER = 's2s: { min_level: encrypted, rate: { bytes_per_second: 30000, burst_bytes: 16384 } }\nstrangers: { max_messages: 0 }';
/** The sending client floods on purpose: no read rate for it. */
const FAST_CLIENT = 'c2s: { scram_iterations: 4096, rate: { bytes_per_second: 104857600, burst_bytes: 104857600, stanzas_per_second: 1000000, burst_stanzas: 1000000 } }';

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** ids of the numbered messages a client received (or had bounced, with `type='error'`). */
function numbered(client: RawClient, bounced: boolean): Set<string> {
  const ids = new Set<string>();
  for (const match of client.received.matchAll(/<message ([^>]*)>/g)) {
    const id = /\bid=["'](n\d+)["']/.exec(match[1]!)?.[1];
    const isError = /type=["']error["']/.test(match[1]!);
    if (id && isError === bounced) ids.add(id);
  }
  return ids;
}

function flood(client: RawClient, to: string, count = COUNT): void {
  let batch = '';
  for (let n = 0; n < count; n++) batch += `<message to='${to}' type='chat' id='n${n}'><body>${'x'.repeat(200)} ${n}</body></message>`;
  client.send(batch);
}

describe('server connections that drop mid-stream', () => {
  test('stream management is enabled between Trellis servers, and what the peer did not confirm is sent again on a new connection', async () => {
    const a = await startFederatedServer('127.0.0.91', `s2s: { min_level: encrypted }\n${FAST_CLIENT}`);
    const b = await startFederatedServer('127.0.0.92', SLOW_READER);
    try {
      await a.addUser('alice', a.domain, 'secret');
      await b.addUser('bob', b.domain, 'secret');
      const alice = await loginFederated(a, 'alice');
      const bob = await loginFederated(b, 'bob');
      flood(alice, `bob@${b.domain}/r`);
      await until(() => numbered(bob, false).size >= 50, 'the first 50 messages at bob');
      // The receiving side ends the stream: what it had not processed yet is never acknowledged.
      const incoming = b.server.s2s.connections().find((row) => row.direction === 'in');
      assert.ok(incoming);
      b.server.s2s.closeConnection(incoming.id);
      await until(() => numbered(bob, false).size === COUNT, 'every message at bob');
      const resends = a.server.s2s.resends;
      assert.ok(resends.resent > 0, 'stanzas were sent again');
      assert.equal(resends.bounced, 0);
      assert.equal(numbered(alice, true).size, 0, 'nothing bounced');
      console.log(`# connection closed after ${50}+ of ${COUNT}: ${resends.resent} sent again, all ${COUNT} delivered`);
      alice.close();
      bob.close();
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test('when the peer is gone for good, what it did not confirm bounces to the sender: every stanza is delivered, stored there, or bounced', async () => {
    // A connection the stopping peer accepted at the last moment is given up after negotiation_timeout.
    const a = await startFederatedServer('127.0.0.93', `s2s: { min_level: encrypted, connect_timeout: 2, negotiation_timeout: 5 }\n${FAST_CLIENT}`);
    const b = await startFederatedServer('127.0.0.94', SLOW_READER);
    let bStopped = false;
    try {
      await a.addUser('alice', a.domain, 'secret');
      await b.addUser('bob', b.domain, 'secret');
      const alice = await loginFederated(a, 'alice');
      const bob = await loginFederated(b, 'bob');
      flood(alice, `bob@${b.domain}/r`);
      await until(() => numbered(bob, false).size >= 50, 'the first 50 messages at bob');
      // The peer stops: what it processed and bob did not read yet, it stores for him offline.
      await b.server.close();
      const delivered = numbered(bob, false);
      const bStorage = await openSqliteStorage(join(b.dataDir, 'trellis.sqlite'));
      for (const message of await bStorage.offline.peek(b.domain, 'bob', 10_000, Number.MAX_SAFE_INTEGER)) {
        const id = /\bid=["'](n\d+)["']/.exec(message.stanza)?.[1];
        if (id) delivered.add(id);
      }
      await bStorage.close();
      await b.stop();
      bStopped = true;
      await until(() => new Set([...delivered, ...numbered(alice, true)]).size === COUNT, 'every message delivered, stored or bounced', 30_000);
      const bounced = numbered(alice, true);
      assert.ok(bounced.size > 0, 'some were bounced');
      assert.match(alice.received, /<remote-server-timeout xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
      const resends = a.server.s2s.resends;
      assert.equal(resends.bounced, bounced.size, 'every bounce counted');
      console.log(`# peer stopped with ${delivered.size} of ${COUNT} delivered or stored there: ${bounced.size} bounced (${resends.resent} tried again first)`);
      alice.close();
    } finally {
      await a.stop();
      if (!bStopped) await b.stop();
    }
  });

  test('a peer that reads slower than it is written to holds the sender to its output budget: the rest bounces at once, nothing is lost', async () => {
    const count = 1000;
    const a = await startFederatedServer('127.0.0.95', `s2s: { min_level: encrypted, output: { connection_buffer: 65536 } }\n${FAST_CLIENT}`);
    const b = await startFederatedServer('127.0.0.96', SLOW_READER);
    try {
      await a.addUser('alice', a.domain, 'secret');
      await b.addUser('bob', b.domain, 'secret');
      const alice = await loginFederated(a, 'alice');
      const bob = await loginFederated(b, 'bob');
      flood(alice, `bob@${b.domain}/r`, count);
      // 1000 stanzas of about 260 bytes against a budget of 64 KiB on a link read at 30 KB/s.
      await until(() => numbered(bob, false).size + numbered(alice, true).size === count, 'every message delivered or bounced', 30_000);
      const bounced = numbered(alice, true);
      assert.ok(bounced.size > 0, 'some bounced');
      assert.ok(numbered(bob, false).size >= 200, `at least the budget's worth arrived: ${numbered(bob, false).size}`);
      assert.match(alice.received, /<resource-constraint xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/);
      assert.equal(a.server.s2s.output.overflows, bounced.size, 'each bounce counted');
      await until(() => a.server.s2s.output.used === 0, 'the budget released once the peer has everything');
      console.log(`# ${count} sent: ${numbered(bob, false).size} delivered, ${bounced.size} bounced for the 64 KiB budget`);
      alice.close();
      bob.close();
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
