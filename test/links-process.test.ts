/**
 * Store and forward over a zero-handshake link between two Trellis processes (docs/links.md):
 *
 *   A (air.example) connects its link "sat" out to B (ground.example) on 127.0.22.12:5361
 *
 * B is killed; the messages Alice sends meanwhile wait in A's storage. A is killed too and
 * started again (the sending server's restart), then B: the link comes back and Bob gets the
 * messages in the order Alice sent them, once each.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkEdge } from './support/link-edge.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';
import { messageIds, sleep } from './support/server-process.ts';

const COUNT = 8;

/** The scenario with the sender's storage as `storage()` says (a YAML line, or '' for SQLite), its link on `linkAddress`. */
function scenario(name: string, linkAddress: string, storage: () => string): void {
  describe(name, () => {
    let a: LinkEdge | undefined;
    let b: LinkEdge | undefined;
    before(async () => {
      b = await LinkEdge.create(
        ['ground.example'],
        ['bob@ground.example'],
        `links:
  sat:
    connect: in
    address: "${linkAddress}"
    peer_addresses: ["127.0.0.0/8"]
    local_domains: [ground.example]
    remote_domains: [air.example]
s2s:
  enabled: false
  peering:
    air.example: { link: sat }
`,
      );
      a = await LinkEdge.create(
        ['air.example'],
        ['alice@air.example'],
        `${storage()}
links:
  sat:
    connect: out
    address: "${linkAddress}"
    local_domains: [air.example]
    remote_domains: [ground.example]
    reconnect_initial_delay: 1
    reconnect_max_delay: 1
s2s:
  enabled: false
  peering:
    ground.example: { link: sat }
`,
      );
    });
    after(async () => {
      await a?.remove();
      await b?.remove();
    });

    test('messages queued while the peer is down survive a restart of the sender and arrive in order', async () => {
      await b!.start();
      await a!.start();
      await a!.waitForOutput('link up');
      let alice = await a!.login('alice', 'air.example');
      let bob = await b!.login('bob', 'ground.example');
      alice.send("<message id='first' to='bob@ground.example' type='chat'><body>over the link</body></message>");
      await bob.waitFor(/id=["']first["']/);
      bob.close();

      await b!.kill();
      await a!.waitForOutput('link down');
      for (let n = 1; n <= COUNT; n++) alice.send(`<message id='q${n}' to='bob@ground.example' type='chat'><body>queued ${n}</body></message>`);
      // The messages are in A's storage once A says nothing more about them: no error comes back.
      await sleep(500);
      assert.doesNotMatch(alice.received, /type=["']error["']/);
      alice.close();

      await a!.kill();
      await a!.start();
      await b!.start();
      bob = await b!.login('bob', 'ground.example');
      await a!.waitForOutput('link up', 15_000);
      const wanted = Array.from({ length: COUNT }, (_, index) => `q${index + 1}`);
      await bob.waitFor(new RegExp(`id=["']q${COUNT}["']`), 15_000);
      await sleep(300);
      assert.deepEqual(messageIds(bob.received, 'q').ids, wanted);
      bob.close();

      // The link works both ways after it came back.
      alice = await a!.login('alice', 'air.example');
      bob = await b!.login('bob', 'ground.example');
      bob.send("<message id='back' to='alice@air.example/r' type='chat'><body>all received</body></message>");
      await alice.waitFor(/id=["']back["'][\s\S]*all received/);
      alice.close();
      bob.close();
    });
  });
}

scenario('a link that goes down and comes back, between two processes', '127.0.22.12:5361', () => '');

let postgres: TestPostgres | undefined;
before(async () => {
  postgres = await startPostgres();
});
after(() => postgres?.stop());
scenario('the same with the sender on PostgreSQL', '127.0.22.13:5361', () => `storage: { driver: postgres, postgres_url: "${postgres!.url}" }`);
