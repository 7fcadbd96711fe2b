/**
 * A whole server process (`bin/trellis start`) on PostgreSQL storage, driven over the wire:
 * SCRAM logins, a mutual subscription with presence, a message stored for an offline user and
 * delivered at its login, a stream management resumption, and a kill -9 right after the server
 * acknowledged messages (XEP-0198 <a/>), which are delivered after the restart, with the roster
 * still there. The PostgreSQL server is a throwaway cluster of its own (test/support/postgres.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { authenticate, connectTls, login } from './support/login.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import type { RawClient } from './support/raw-client.ts';
import { Installation, NS_SM, PASSWORD, collectAfterLogin, messageIds, sleep, waitAcknowledged } from './support/server-process.ts';

const COUNT = 20;

let rosterRequests = 0;

/** The subscription the roster of `client` gives `contact`, from a roster get. */
async function subscriptionOf(client: RawClient, contact: string): Promise<string | undefined> {
  const id = `roster-${++rosterRequests}`;
  client.send(`<iq type='get' id='${id}'><query xmlns='jabber:iq:roster'/></iq>`);
  const result = new RegExp(`<iq\\b[^>]*\\bid=["']${id}["'][^>]*>([\\s\\S]*?)</iq>`);
  const query = result.exec(await client.waitFor(result))![1]!;
  const item = new RegExp(`<item\\b[^>]*\\bjid=["']${contact}["'][^>]*>`).exec(query)?.[0];
  return item === undefined ? undefined : /\bsubscription=["']([^"']+)["']/.exec(item)?.[1];
}

/** Waits for a presence from `from` whose type is `type` ('' for available). */
async function waitPresence(client: RawClient, from: string, type: string): Promise<void> {
  await client.waitFor(new RegExp(`<presence\\b(?=[^>]*\\bfrom=["']${from}["'])${type === '' ? '(?![^>]*\\btype=)' : `(?=[^>]*\\btype=["']${type}["'])`}`));
}

describe('a server process on PostgreSQL', () => {
  let postgres: TestPostgres | undefined;
  let installation: Installation | undefined;
  before(async () => {
    postgres = await startPostgres();
    installation = await Installation.create(['alice', 'bob'], `storage: { driver: postgres, postgres_url: "${postgres.url}" }`);
  });
  after(async () => {
    await installation?.remove();
    await postgres?.stop();
  });

  test('logins, roster and presence, offline delivery, resumption, and messages acknowledged before a kill -9', async () => {
    const server = installation!;
    const first = await server.start();

    // SCRAM logins and a subscription both ways, with presence.
    const { client: alice } = await login(server.target, { username: 'alice', password: PASSWORD, resource: 'desk' });
    let { client: bob } = await login(server.target, { username: 'bob', password: PASSWORD, resource: 'phone' });
    alice.send('<presence/>');
    bob.send('<presence/>');
    for (const [from, to, fromClient, toClient] of [['alice', 'bob', alice, bob], ['bob', 'alice', bob, alice]] as const) {
      fromClient.send(`<presence to='${to}@localhost' type='subscribe'/>`);
      await waitPresence(toClient, `${from}@localhost`, 'subscribe');
      toClient.send(`<presence to='${from}@localhost' type='subscribed'/>`);
      await waitPresence(fromClient, `${to}@localhost/${to === 'bob' ? 'phone' : 'desk'}`, '');
    }
    assert.equal(await subscriptionOf(alice, 'bob@localhost'), 'both');
    assert.equal(await subscriptionOf(bob, 'alice@localhost'), 'both');

    // A message to bob while he is offline is stored, and delivered at his next login.
    bob.close();
    await waitPresence(alice, 'bob@localhost/phone', 'unavailable');
    alice.send(`<message to='bob@localhost' type='chat' id='o-1'><body>while you were out</body></message>`);
    for (let waited = 0; (await server.offlineCount('bob')) !== 1; waited += 50) {
      assert.ok(waited < 5000, 'the message is stored for bob');
      await sleep(50);
    }
    ({ client: bob } = await login(server.target, { username: 'bob', password: PASSWORD, resource: 'phone' }));
    bob.send('<presence/>');
    const offline = messageIds(await bob.waitFor(/while you were out/), 'o-');
    assert.deepEqual(offline, { ids: ['o-1'], delayed: 1 });

    // Stream management: alice's connection drops, a message comes meanwhile, and she resumes.
    alice.clear();
    alice.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const previd = /<enabled\b[^>]*\bid=["']([^"']+)["']/.exec(await alice.waitFor(/<enabled\b[^>]*>/))?.[1];
    assert.ok(previd);
    alice.close();
    bob.send(`<message to='alice@localhost/desk' type='chat' id='r-1'><body>while you were away</body></message>`);
    const resumed = await connectTls(server.target);
    await authenticate(resumed, { username: 'alice', password: PASSWORD, bind: false });
    resumed.send(`<resume xmlns='${NS_SM}' previd='${previd}' h='0'/>`);
    const afterResume = await resumed.waitFor(/while you were away/);
    assert.match(afterResume, new RegExp(`<resumed\\b[^>]*\\bprevid=["']${previd}["']`));

    // Messages the server acknowledged are stored before the acknowledgement: kill -9 right after it loses none.
    bob.close();
    await waitPresence(resumed, 'bob@localhost/phone', 'unavailable');
    for (let n = 1; n <= COUNT; n++) resumed.send(`<message to='bob@localhost' type='chat' id='k-${n}'><body>durable ${n}</body></message>`);
    await waitAcknowledged(resumed, COUNT);
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    resumed.close();
    const stored = await server.offlineCount('bob');
    assert.equal(stored, COUNT, 'every acknowledged message is in PostgreSQL');
    assert.ok(!existsSync(join(server.dataDir, 'trellis.sqlite')), 'no SQLite database beside it');

    const second = await server.start();
    const wanted = new Set(Array.from({ length: COUNT }, (_, index) => `k-${index + 1}`));
    const delivered = await collectAfterLogin(server, 'bob', 'k-', wanted, 10_000);
    assert.deepEqual(delivered.ids, [...wanted], 'all, once each, in order');
    assert.equal(delivered.delayed, COUNT, 'each with its delay stamp');
    const { client: again } = await login(server.target, { username: 'alice', password: PASSWORD, resource: 'desk' });
    assert.equal(await subscriptionOf(again, 'bob@localhost'), 'both', 'the roster survived the kill');
    again.close();

    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.output());
    console.log(`# PostgreSQL, kill -9: ${COUNT} acknowledged, ${stored} stored, ${delivered.ids.length} delivered after the restart; offline delivery and resumption before it`);
  });
});
