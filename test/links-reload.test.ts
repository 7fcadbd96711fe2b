/**
 * Links follow `trellis reload` (docs/links.md, "Starting, stopping, reloading"), and
 * `trellis status` shows them:
 *
 *   B hosts ground.example and base.example, with two listening links: "sat" for ground.example
 *     and "spare" for base.example
 *   A hosts air.example and is reloaded from its file: its link "sat" stays as it is throughout;
 *     "void" (to a peer that never answers) keeps two messages, is changed, then removed;
 *     "spare" is added with a route to base.example
 *
 * Messages over "sat" keep arriving while A reloads, on the same connection; the changed link
 * keeps its queue; the added link carries its route at once; the messages waiting for the
 * removed link take their domain's new route, which (federation off) bounces them to Alice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson } from '../src/admin/client.ts';
import type { StatusReport } from '../src/admin/types.ts';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { statusText } from '../src/cli/status.ts';
import { loadConfig } from '../src/config/load.ts';
import type { Link } from '../src/links/link.ts';
import { openStorage } from '../src/storage/open.ts';
import { startServer, type TrellisServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import { reloadableConfig } from './support/config-file.ts';
import type { RawClient } from './support/raw-client.ts';
import { loginAt, startLinkServer } from './support/link-server.ts';
import type { TestServer } from './support/server.ts';
import { sleep } from './support/server-process.ts';

const message = (id: string, to: string) => `<message id='${id}' to='${to}' type='chat'><body>${id}</body></message>`;

/** A's file: "sat" always, and the links and routes of the step. */
function aConfig(satAddress: string, links: string, routes: string): string {
  return reloadableConfig(`s2s: { enabled: false, peering: { ground.example: { link: sat }${routes} } }
links:
  sat:
    connect: out
    address: "${satAddress}"
    local_domains: [air.example]
    remote_domains: [ground.example]
    reconnect_initial_delay: 1
${links}
hosts:
  air.example: {}
`);
}

const VOID = (expiry: number) => `  void:
    connect: out
    address: "127.0.130.9:9"
    local_domains: [air.example]
    remote_domains: [void.example]
    reconnect_initial_delay: 3600
    reconnect_max_delay: 3600
    expiry: ${expiry}
`;

describe('links follow a reload', () => {
  let b: TestServer;
  let a: TrellisServer;
  let dir: string;
  let configFile: string;
  let aLog: string[];
  const clients: RawClient[] = [];
  let alice: RawClient;
  let bob: RawClient;
  let dave: RawClient;
  let satAddress: string;
  let spareAddress: string;

  before(async () => {
    b = await startLinkServer(
      `  sat: { connect: in, address: "127.0.130.2:0", peer_addresses: ["127.0.0.0/8"], local_domains: [ground.example], remote_domains: [air.example] }
  spare: { connect: in, address: "127.0.130.3:0", peer_addresses: ["127.0.0.0/8"], local_domains: [base.example], remote_domains: [air.example] }`,
      's2s: { enabled: false, peering: { air.example: { link: sat } } }\nstrangers: { max_messages: 0 }\nhosts: { ground.example: {}, base.example: {} }',
    );
    satAddress = b.server.links.links.get('sat')!.listening!;
    spareAddress = b.server.links.links.get('spare')!.listening!;
    dir = await mkdtemp(join(tmpdir(), 'trellis-links-reload-'));
    configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, aConfig(satAddress, VOID(3600), ', void.example: { link: void }'));
    const memory = memoryLogger();
    aLog = memory.lines;
    a = await startServer(await loadConfig(configFile), memory.logger);
    await a.storage.accounts.create('air.example', 'alice', makeStoredCredentials('secret', 4096));
    for (const [user, domain] of [['bob', 'ground.example'], ['dave', 'base.example']]) await b.addUser(user!, domain!, 'secret');
    alice = await loginFederated({ port: a.listening.c2s[0]!.port, domain: 'air.example' } as FederatedServer, 'alice');
    alice.send('<presence/>');
    bob = await loginAt(b, 'ground.example', 'bob');
    dave = await loginAt(b, 'base.example', 'dave');
    clients.push(alice, bob, dave);
  });
  after(async () => {
    for (const client of clients) client.close();
    await a?.close();
    await b?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('added, changed and removed links, with traffic over an unchanged one all along', async () => {
    const sat = a.links.links.get('sat')!;
    for (let i = 0; i < 100 && !sat.up; i++) await sleep(50);
    assert.ok(sat.up, 'the link sat came up');
    alice.send(message('v1', 'x@void.example'));
    alice.send(message('v2', 'x@void.example'));
    for (let i = 0; i < 100 && (a.links.links.get('void') as Link).queue.depth < 2; i++) await sleep(20);
    assert.equal((a.links.links.get('void') as Link).queue.depth, 2);

    // Messages to Bob go out every 20 ms through both reloads (B lets strangers send that many).
    let sent = 0;
    const ticker = setInterval(() => alice.send(message(`s${++sent}`, 'bob@ground.example')), 20);
    try {
      await sleep(200);
      await writeFile(configFile, aConfig(satAddress, `${VOID(3000)}  spare:\n    connect: out\n    address: "${spareAddress}"\n    local_domains: [air.example]\n    remote_domains: [base.example]\n`, ', void.example: { link: void }, base.example: { link: spare }'));
      const first = await a.reload();
      assert.ok(first.ok, JSON.stringify(first));
      assert.deepEqual(first.links, { added: ['spare'], removed: [], changed: ['void'] });
      assert.deepEqual(first.restartPending, []);
      assert.equal(a.links.links.get('void')!.config.expiry, 3000);
      for (let i = 0; i < 100 && (a.links.links.get('void') as Link).queue.depth < 2; i++) await sleep(20);
      assert.equal((a.links.links.get('void') as Link).queue.depth, 2, 'the changed link keeps its queue');
      alice.send(message('d1', 'dave@base.example'));
      await dave.waitFor(/id=["']d1["']/);

      await writeFile(configFile, aConfig(satAddress, `  spare:\n    connect: out\n    address: "${spareAddress}"\n    local_domains: [air.example]\n    remote_domains: [base.example]\n`, ', base.example: { link: spare }'));
      const second = await a.reload();
      assert.ok(second.ok, JSON.stringify(second));
      assert.deepEqual(second.links, { added: [], removed: ['void'], changed: [] });
      await sleep(200);
    } finally {
      clearInterval(ticker);
    }
    // Nothing waits silently for a link that is gone: federation is off, so both come back.
    for (const id of ['v1', 'v2']) await alice.waitFor(new RegExp(`<message[^>]*id=["']${id}["'][^>]*type=["']error["'][\\s\\S]*?<remote-server-not-found `));
    assert.equal(await a.storage.linkQueues.count('void'), 0);
    assert.equal(a.links.links.has('void'), false);

    await bob.waitFor(new RegExp(`id=["']s${sent}["']`));
    const ids = [...bob.received.matchAll(/<message [^>]*id=["'](s\d+)["']/g)].map((match) => match[1]);
    assert.deepEqual(ids, Array.from({ length: sent }, (_, index) => `s${index + 1}`), 'every message over the unchanged link arrived, in order');
    assert.equal(a.links.links.get('sat'), sat, 'the unchanged link was left alone');
    assert.equal(aLog.filter((line) => line.includes('link down') && line.includes('"link":"sat"')).length, 0, aLog.filter((line) => line.includes('link down')).join('\n'));
  });

  test('trellis status shows each link: state, queue, traffic and last error', async () => {
    await writeFile(configFile, aConfig(satAddress, VOID(3000), ', void.example: { link: void }'));
    const third = await a.reload();
    assert.ok(third.ok && third.links.added.includes('void') && third.links.removed.includes('spare'), JSON.stringify(third));
    alice.send(message('w1', 'x@void.example'));
    const voidLink = a.links.links.get('void') as Link;
    for (let i = 0; i < 100 && (voidLink.queue.depth < 1 || voidLink.lastError === undefined); i++) await sleep(20);
    const status = await adminJson<StatusReport>(a.adminSocket!, 'GET', '/v1/status');
    const sat = status.links.find((row) => row.name === 'sat')!;
    assert.equal(sat.up, true);
    assert.equal(sat.queued, 0);
    assert.ok(sat.stanzasOut > 0 && sat.bytesOut > sat.stanzasOut * 50, JSON.stringify(sat));
    assert.equal(sat.lastError, null);
    const down = status.links.find((row) => row.name === 'void')!;
    assert.deepEqual([down.up, down.queued, down.address], [false, 1, '127.0.130.9:9']);
    assert.match(down.lastError?.text ?? '', /^no connection to 127\.0\.130\.9:9: /);
    const text = statusText(status, 'admin.sock');
    assert.match(text, /^links: +sat up, to 127\.0\.130\.2:\d+, 0 messages queued, \d+ stanzas \(\d+ bytes\) out, \d+ \(\d+ bytes\) in$/m);
    assert.match(text, /^ +void down, to 127\.0\.130\.9:9, 1 message queued, 0 stanzas \(0 bytes\) out, 0 \(0 bytes\) in; last error \S+: no connection to 127\.0\.130\.9:9: /m);
  });
});

describe('messages queued for a link removed while the server was stopped', () => {
  let b: TestServer;
  let a: TrellisServer | undefined;
  let dir: string;
  let bob: RawClient;
  before(async () => {
    b = await startLinkServer(
      '  sat: { connect: in, address: "127.0.130.4:0", peer_addresses: ["127.0.0.0/8"], local_domains: [ground.example], remote_domains: [air.example] }',
      's2s: { enabled: false }\nhosts: { ground.example: {} }',
    );
    await b.addUser('bob', 'ground.example', 'secret');
    bob = await loginAt(b, 'ground.example', 'bob');
    dir = await mkdtemp(join(tmpdir(), 'trellis-links-gone-'));
  });
  after(async () => {
    bob?.close();
    await a?.close();
    await b?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('take the route their domain has when the server starts', async () => {
    const configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, aConfig(b.server.links.links.get('sat')!.listening!, '', ''));
    const config = await loadConfig(configFile);
    // What a previous run left for its link "radio", which the file no longer has.
    const storage = await openStorage(config.storage, config.data_dir);
    try {
      for (const id of ['r1', 'r2']) {
        await storage.linkQueues.push('radio', `<message xmlns="jabber:client" from="alice@air.example/r" to="bob@ground.example" id="${id}" type="chat"><body>${id}</body></message>`, Date.now(), { maxMessages: 10, maxBytes: 10_000 });
      }
    } finally {
      await storage.close();
    }
    const memory = memoryLogger();
    a = await startServer(config, memory.logger);
    await bob.waitFor(/id=["']r2["']/);
    assert.deepEqual([...bob.received.matchAll(/<message [^>]*id=["'](r\d)["']/g)].map((match) => match[1]), ['r1', 'r2']);
    assert.equal(await a.storage.linkQueues.count('radio'), 0);
    assert.ok(memory.lines.some((line) => line.includes('messages queued for a link that is not configured take their new route') && line.includes('link=radio')), memory.lines.join('\n'));
  });
});
