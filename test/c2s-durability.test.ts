/**
 * What survives the end of a real server process (`bin/trellis start`): a message the server
 * acknowledged under stream management (XEP-0198) is stored before the acknowledgement, so a
 * kill -9 right after it loses nothing; and a stop with SIGTERM while a client is not reading
 * hands what that client did not get to offline storage, so that it finds every message at its
 * next login. Each test runs its own process on fixed free ports with its own data directory,
 * and observes state (the offline store, what clients receive), never log wording.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { login } from './support/login.ts';
import { Installation, PASSWORD, collectAfterLogin, enableStreamManagement, messageIds, sleep, waitAcknowledged } from './support/server-process.ts';
import { startTestServer } from './support/server.ts';

/** "1-5,8-9": numbered ids (prefix of two characters) as runs, for reports. */
function ranges(ids: readonly string[]): string {
  const runs: string[] = [];
  let first: number | undefined;
  let last = 0;
  for (const n of ids.map((id) => Number(id.slice(2)))) {
    if (first !== undefined && n === last + 1) {
      last = n;
      continue;
    }
    if (first !== undefined) runs.push(first === last ? `${first}` : `${first}-${last}`);
    first = n;
    last = n;
  }
  if (first !== undefined) runs.push(first === last ? `${first}` : `${first}-${last}`);
  return runs.join(',');
}

describe('messages survive the end of the server process', () => {
  const installations: Installation[] = [];
  after(async () => {
    for (const installation of installations) await installation.remove();
  });

  test('messages acknowledged under stream management are stored before the acknowledgement: kill -9 right after it loses none', async () => {
    const installation = await Installation.create(['alice', 'bob']);
    installations.push(installation);
    const first = await installation.start();

    const { client: alice } = await login(installation.target, { username: 'alice', password: PASSWORD, resource: 'desk' });
    await enableStreamManagement(alice);
    const count = 50;
    for (let n = 1; n <= count; n++) alice.send(`<message to='bob@localhost' type='chat' id='k-${n}'><body>durable ${n}</body></message>`);
    await waitAcknowledged(alice, count);
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    alice.close();
    assert.equal(killed.signal, 'SIGKILL');

    assert.equal(await installation.offlineCount('bob'), count, 'every acknowledged message is in storage');
    // The killed process could not remove its pid file; the dead pid in it does not stop a restart.
    const stalePidFile = existsSync(join(installation.dataDir, 'trellis.pid'));
    const second = await installation.start();
    const wanted = new Set(Array.from({ length: count }, (_, index) => `k-${index + 1}`));
    const got = await collectAfterLogin(installation, 'bob', 'k-', wanted, 10_000);
    assert.deepEqual(got.ids, [...wanted], 'all 50, once each, in order');
    assert.equal(got.delayed, count, 'each with its delay stamp');

    second.child.kill('SIGTERM');
    const stopped = await second.exited;
    assert.equal(stopped.code, 0, second.output());
    console.log(`# kill -9: ${count} acknowledged, ${count} stored, ${got.ids.length} delivered after the restart; stale pid file left: ${stalePidFile}`);
  });

  test('a SIGTERM while a client is not reading hands what it did not get to offline storage: nothing is lost', async () => {
    const count = 2000;
    const installation = await Installation.create(['alice', 'bob'], `offline: { max_messages: ${count * 2}, max_per_sender: ${count * 2}, max_bytes: ${64 * 1024 * 1024} }`);
    installations.push(installation);
    const first = await installation.start();

    const { client: bob } = await login(installation.target, { username: 'bob', password: PASSWORD, resource: 'phone' });
    bob.send('<presence/>');
    await bob.waitFor(/<presence\b/);
    bob.clear();
    // bob stops reading: what the server writes piles up in the socket buffers, then in the server.
    bob.socket.pause();

    const { client: alice } = await login(installation.target, { username: 'alice', password: PASSWORD, resource: 'desk' });
    await enableStreamManagement(alice);
    const padding = 'x'.repeat(2048);
    for (let start = 1; start <= count; start += 100) {
      let batch = '';
      for (let n = start; n < start + 100 && n <= count; n++) batch += `<message to='bob@localhost' type='chat' id='t-${n}'><body>${n} ${padding}</body></message>`;
      alice.send(batch);
    }
    await waitAcknowledged(alice, count, 20_000);

    first.child.kill('SIGTERM');
    const stopped = await first.exited;
    assert.equal(stopped.code, 0, `a clean stop: ${first.output()}`);
    alice.close();
    // What reached bob's side before the stop is his: read it now.
    bob.socket.resume();
    await bob.waitClosed(10_000).catch(() => bob.close());
    const before = messageIds(bob.received, 't-');
    const stored = await installation.offlineCount('bob');

    const second = await installation.start();
    const all = Array.from({ length: count }, (_, index) => `t-${index + 1}`);
    const missing = new Set(all.filter((id) => !before.ids.includes(id)));
    const afterRestart = await collectAfterLogin(installation, 'bob', 't-', missing, 8000);
    second.child.kill('SIGTERM');
    await second.exited;

    const union = new Set([...before.ids, ...afterRestart.ids]);
    const lost = all.filter((id) => !union.has(id));
    const duplicates = before.ids.length + afterRestart.ids.length - union.size;
    console.log(`# SIGTERM: ${count} sent, ${before.ids.length} read by the paused client after the stop (${ranges(before.ids)}), ${stored} in offline storage, ${afterRestart.ids.length} delivered after the restart (${ranges(afterRestart.ids)}), ${duplicates} duplicates, ${lost.length} lost (${ranges(lost)})`);
    assert.deepEqual(lost, [], 'no message is lost');
    assert.ok(before.ids.length + afterRestart.ids.length >= count);
    assert.equal(afterRestart.delayed, afterRestart.ids.length, 'what comes after the restart was stored offline');
    assert.deepEqual(afterRestart.ids, [...afterRestart.ids].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))), 'stored messages come back in the order sent');
  });

  test('a message routed to a session whose stream is closing is stored offline, not taken for written', async () => {
    // In-process, to see the stream's state: the window is the one between the client's
    // </stream:stream> (or the server's own close) and the socket's close.
    const server = await startTestServer();
    try {
      await server.addUser('alice', 'localhost', PASSWORD);
      await server.addUser('bob', 'localhost', PASSWORD);
      const { client: bob, jid: bobJid } = await login(server, { username: 'bob', password: PASSWORD, resource: 'phone' });
      bob.send('<presence/>');
      await bob.waitFor(/<presence\b/);
      const { client: alice } = await login(server, { username: 'alice', password: PASSWORD, resource: 'desk' });
      await enableStreamManagement(alice);

      const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === bobJid)!;
      const connection = [...server.server.c2s.connections].find((candidate) => candidate.session === session)!;
      // bob logs off: it closes its stream and, reading nothing more, does not see the server's
      // close yet; the server's side of the stream is closing, the session still bound.
      bob.socket.pause();
      bob.send('</stream:stream>');
      const deadline = Date.now() + 5000;
      while (!(connection.stream.closing && connection.writtenOffset === connection.stream.queuedChars)) {
        assert.ok(Date.now() < deadline, 'the server closes its side of the stream');
        await sleep(10);
      }
      assert.equal(session.state, 'attached');

      alice.send(`<message to='${bobJid}' type='chat' id='c-1'><body>to the full JID</body></message>`);
      alice.send(`<message to='bob@localhost' type='chat' id='c-2'><body>to the bare JID</body></message>`);
      await waitAcknowledged(alice, 2);
      // bob reads what reached it, sees the server's close and closes: the session ends.
      bob.socket.resume();
      await bob.waitClosed();
      await session.ended;

      const delivered = messageIds(bob.received, 'c-').ids;
      const bounced = messageIds(alice.received, 'c-').ids;
      const stored = await server.server.storage.offline.count('localhost', 'bob');
      console.log(`# closing stream: 2 sent, ${delivered.length} delivered, ${stored} stored offline, ${bounced.length} bounced to the sender`);
      assert.equal(delivered.length + stored + bounced.length, 2, 'each message is delivered, stored or bounced; none vanishes');
      alice.close();
    } finally {
      await server.stop();
    }
  });

  test('what a session held when it ended is stored in order with what it had already handed to offline storage', async () => {
    // In-process with a small output budget, to see the offline store: a client that stops
    // reading gets messages beyond its budget stored offline while earlier ones wait in its
    // session; when the session ends, those must not be stored behind the later ones. (A
    // negative priority keeps offline delivery from moving the stored ones back meanwhile, so
    // what is stored stays for the test to see; messages go to the full JID.)
    const server = await startTestServer(`
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
  output: { session_buffer: 65536 }
  rate: { bytes_per_second: 104857600, burst_bytes: 104857600, stanzas_per_second: 1000000, burst_stanzas: 1000000 }
offline: { max_messages: 100000, max_per_sender: 100000, max_bytes: ${256 * 1024 * 1024} }
# these senders flood on purpose, with no roster between them: no stranger limit
strangers: { max_messages: 0 }
`);
    try {
      await server.addUser('alice', 'localhost', PASSWORD);
      await server.addUser('bob', 'localhost', PASSWORD);
      const { client: bob, jid: bobJid } = await login(server, { username: 'bob', password: PASSWORD, resource: 'phone' });
      bob.send('<presence><priority>-1</priority></presence>');
      await bob.waitFor(/<presence\b/);
      bob.socket.pause();
      const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === bobJid)!;
      const { client: alice } = await login(server, { username: 'alice', password: PASSWORD, resource: 'desk' });
      await enableStreamManagement(alice);

      const padding = 'x'.repeat(2048);
      let sent = 0;
      const sendBatch = async (size: number) => {
        let batch = '';
        for (let n = sent + 1; n <= sent + size; n++) batch += `<message to='${bobJid}' type='chat' id='o-${n}'><body>${n} ${padding}</body></message>`;
        sent += size;
        alice.send(batch);
        await waitAcknowledged(alice, sent);
      };
      // Batches that fit in the budget, until the socket buffers are full and the session holds
      // a batch it cannot write; then more, beyond the budget, which go to offline storage.
      for (;;) {
        await sendBatch(25);
        await sleep(30);
        if (session.heldStanzas > 0) break;
        assert.ok(sent < 20_000, 'the socket buffers are full at some point');
      }
      await sendBatch(25);
      assert.ok((await server.server.storage.offline.count('localhost', 'bob')) > 0, 'messages beyond the budget are stored');
      const held = session.heldStanzas;
      bob.close();
      await session.ended;

      const stored = await server.server.storage.offline.peek('localhost', 'bob', 1_000_000, 1024 * 1024 * 1024);
      const ids = stored.map((message) => /\bid=["'](o-\d+)["']/.exec(message.stanza)?.[1] ?? '?');
      console.log(`# session end: ${sent} sent, ${held} held by the session at its end, ${ids.length} stored in this order: ${ranges(ids)}`);
      assert.deepEqual(ids, [...ids].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))), 'stored in the order sent');
      alice.close();
    } finally {
      await server.stop();
    }
  });
});
