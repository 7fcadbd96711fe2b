/**
 * The operator's abuse controls against running servers, through the CLI and the admin API:
 * `trellis ban` closes the address's connections with policy-violation and refuses new ones
 * (clients and servers), ranges included, kept in storage; `trellis unban` lifts it.
 * `trellis s2s block` closes a remote domain's server connections and refuses it both ways;
 * stanzas to it bounce with the block named; `trellis s2s unblock` restores federation.
 *
 *   X 127.0.0.81 and Y 127.0.0.82 federate on loopback (test/support/federation.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adminRequest } from '../src/admin/client.ts';
import { Limits } from '../src/limits/limits.ts';
import { memoryLogger } from '../src/util/log.ts';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { waitUntil } from './support/wait.ts';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');

function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TRELLIS, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A configuration file for the CLI that reaches the server's admin socket (in its data_dir). */
async function cliConfig(server: FederatedServer): Promise<string> {
  const file = join(server.dataDir, 'cli.yaml');
  await writeFile(file, `data_dir: ${server.dataDir}\nhosts:\n  ${server.domain}: {}\n`);
  return file;
}

async function connectFrom(server: FederatedServer, localAddress: string): Promise<RawClient> {
  const client = await RawClient.connect(server.port, '127.0.0.1', localAddress);
  client.send(streamHeader(server.domain));
  return client;
}

const policyViolation = /<policy-violation xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/><text[^>]*>([^<]*)<\/text>/;

/** The first stanza carrying id `id`, waiting for it. */
async function stanzaWithId(client: RawClient, id: string, timeoutMs = 10_000): Promise<string> {
  const pattern = new RegExp(`<(message|presence|iq)\\b[^>]*\\bid=["']${id}["'][^>]*?(/>|>[\\s\\S]*?</\\1>)`);
  return pattern.exec(await client.waitFor(pattern, timeoutMs))![0];
}

describe('operator abuse controls', () => {
  let x: FederatedServer;
  let y: FederatedServer;
  let xConfig: string;
  before(async () => {
    const quick = 's2s: { retry_initial_delay: 1, connect_timeout: 2 }';
    [x, y] = await Promise.all([startFederatedServer('127.0.0.81', quick), startFederatedServer('127.0.0.82', quick)]);
    await Promise.all([x.addUser('alice', x.domain, 'secret'), y.addUser('bob', y.domain, 'secret')]);
    xConfig = await cliConfig(x);
  });
  after(async () => {
    await Promise.all([x, y].map((server) => server?.stop()));
  });

  test('trellis ban closes the address\'s connections, refuses new ones, is stored, and unban lifts it', async () => {
    const waiting = await connectFrom(x, '127.0.0.2');
    await waiting.waitFor('</stream:features>');
    const banned = await trellis(['ban', '127.0.0.2/31', '--reason', 'password guessing', '--config', xConfig]);
    assert.deepEqual([banned.code, banned.stdout, banned.stderr], [0, 'banned 127.0.0.2/31; 1 connection closed\n', '']);
    await waiting.waitClosed();
    assert.match(policyViolation.exec(waiting.received)?.[1] ?? '', /^address 127\.0\.0\.2\/31 banned by trellis ban at \d{4}-.*Z \(password guessing\)$/);
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const refused = await connectFrom(x, address);
      await refused.waitClosed();
      assert.match(refused.received, policyViolation);
      assert.doesNotMatch(refused.received, /<stream:features/);
    }
    const other = await connectFrom(x, '127.0.0.4');
    await other.waitFor('</stream:features>');
    other.close();
    const list = await trellis(['ban', 'list', '--config', xConfig]);
    assert.match(list.stdout, /^ADDRESS +SINCE +REASON\n127\.0\.0\.2\/31 +\d{4}-\S+ +password guessing\n$/);
    // Kept in storage: a server starting on this storage loads it.
    const reloaded = new Limits(x.server.config.limits, x.server.storage, memoryLogger().logger);
    await reloaded.load();
    assert.equal(reloaded.abuse.banFor('127.0.0.3')?.reason, 'password guessing');
    const wrong = await trellis(['ban', '127.0.0.256', '--config', xConfig]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /"127\.0\.0\.256" is not an address or range/);
    const unbanned = await trellis(['unban', '127.0.0.2/31', '--config', xConfig]);
    assert.deepEqual([unbanned.code, unbanned.stdout], [0, 'unbanned 127.0.0.2/31\n']);
    const again = await connectFrom(x, '127.0.0.2');
    await again.waitFor('</stream:features>');
    again.close();
    assert.equal((await trellis(['unban', '127.0.0.2/31', '--config', xConfig])).code, 1, 'nothing left to unban');
    assert.match(await x.waitForLog('address banned', '127.0.0.2/31'), /connections_closed=1/);
  });

  test('a banned address is refused on the server listener too', async () => {
    const answer = await adminRequest(x.server.adminSocket!, 'PUT', '/v1/bans/127.0.0.83');
    assert.equal(answer.status, 201, answer.body);
    const peer = await RawClient.connect(x.server.listening.s2s[0]!.port, x.domain, '127.0.0.83');
    peer.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='${x.domain}' version='1.0'>`);
    await peer.waitClosed();
    assert.match(peer.received, /xmlns='jabber:server'/);
    assert.match(policyViolation.exec(peer.received)?.[1] ?? '', /^address 127\.0\.0\.83 banned by trellis ban at /);
    assert.equal((await adminRequest(x.server.adminSocket!, 'DELETE', '/v1/bans/127.0.0.83')).status, 200);
    const metrics = (await adminRequest(x.server.adminSocket!, 'GET', '/metrics')).body;
    assert.match(metrics, /^trellis_connections_refused_total\{listener="s2s",reason="banned"\} 1$/m);
    assert.match(metrics, /^trellis_connections_refused_total\{listener="c2s",reason="banned"\} 2$/m);
  });

  test('trellis s2s block closes a domain\'s connections, refuses it both ways and bounces stanzas to it; unblock restores it', async () => {
    const alice = await loginFederated(x, 'alice');
    const bob = await loginFederated(y, 'bob');
    alice.send(`<message to='bob@${y.domain}/r' id='b1' type='chat'><body>before the block</body></message>`);
    await bob.waitFor('before the block');
    assert.ok(x.server.s2s.connections().some((row) => row.remoteDomain === y.domain));

    const blocked = await trellis(['s2s', 'block', y.domain, '--reason', 'spam', '--config', xConfig]);
    assert.equal(blocked.code, 0, blocked.stderr);
    assert.match(blocked.stdout, /^blocked 127\.0\.0\.82; [1-9]\d* connections? closed\n$/);
    await waitUntil('X has no connection with Y', () => !x.server.s2s.connections().some((row) => row.remoteDomain === y.domain));

    alice.send(`<message to='bob@${y.domain}/r' id='b2' type='chat'><body>during the block</body></message>`);
    const bounce = await stanzaWithId(alice, 'b2');
    assert.match(bounce, /type=["']error["']/);
    assert.match(bounce, /<not-allowed xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.match(bounce, /127\.0\.0\.82 blocked by trellis s2s block at \d{4}-\S+Z \(spam\)/);

    // Y's attempt to reach X is refused at X's stream header, naming the block.
    bob.send(`<message to='alice@${x.domain}/r' id='b3' type='chat'><body>from the blocked side</body></message>`);
    const line = await x.waitForLog('s2s incoming stream error', 'policy-violation');
    assert.match(line, /127\.0\.0\.82 blocked by trellis s2s block at/);
    assert.match(await stanzaWithId(bob, 'b3'), /type=["']error["']/);
    assert.doesNotMatch(alice.received, /from the blocked side/);

    const list = await trellis(['s2s', 'blocked', '--config', xConfig]);
    assert.match(list.stdout, /^DOMAIN +SINCE +REASON\n127\.0\.0\.82 +\S+ +spam\n$/);
    assert.equal((await adminRequest(x.server.adminSocket!, 'PUT', `/v1/blocked-domains/${x.domain}`)).status, 400, 'a hosted domain cannot be blocked');

    const unblocked = await trellis(['s2s', 'unblock', y.domain, '--config', xConfig]);
    assert.deepEqual([unblocked.code, unblocked.stdout], [0, 'unblocked 127.0.0.82\n']);
    alice.send(`<message to='bob@${y.domain}/r' id='b4' type='chat'><body>after the block</body></message>`);
    await bob.waitFor('after the block', 10_000);
    alice.close();
    bob.close();
  });
});
