/**
 * Links of protocol s2s (docs/links.md, "Links over server-to-server streams") between Trellis
 * processes whose DNS resolver answers nothing (127.0.72.250 has no server):
 *
 *   A (air.example, s2s on 127.0.72.1) --link "ground", pinned B's certificate, dialback--> B
 *   B (ground.example, s2s on 127.0.72.2) --link "air", pinned A's certificate, dialback--> A
 *   C (sea.example, s2s on 127.0.72.3): link "wrongpin" to B pinning another certificate, and
 *     link "slow" to a listener on 127.0.72.4 that accepts and never answers, queue of 2
 *
 * Messages cross both ways over the links' streams at the fixed addresses; keepalives cross an
 * idle link; `trellis status` shows the links; the wrong pin refuses the peer and bounces with
 * remote-server-not-found; the queue limit bounces with resource-constraint. The example of
 * docs/links.md loads as written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.ts';
import { generateSelfSigned } from '../src/net/self-signed.ts';
import { PolicySnapshot } from '../src/policy/snapshot.ts';
import { LinkEdge } from './support/link-edge.ts';
import type { RawClient } from './support/raw-client.ts';
import { sleep } from './support/server-process.ts';
import { trellis } from './support/trellis-cli.ts';

const DOC = readFileSync(join(import.meta.dirname, '..', 'docs', 'links.md'), 'utf8');
const example = (name: string) => new RegExp(`\`\`\`yaml\\n# example: ${name}\\n([\\s\\S]*?)\`\`\``).exec(DOC)![1]!;

/** DNS that answers nothing: a domain reached at all is reached by its link. */
const NO_DNS = 'dns: { servers: ["127.0.72.250"], timeout: 1 }';

/** One side's link to its peer, as docs/links.md's example writes it. */
function s2sLink(name: string, address: string, local: string, remote: string, pinned: string, extra = ''): string {
  return `  ${name}:
    protocol: s2s
    address: "${address}"
    local_domains: [${local}]
    remote_domains: [${remote}]
    keepalive: 1
    reconnect_initial_delay: 1
    reconnect_max_delay: 2
${extra}    s2s:
      tls: required
      authentication: dialback
      peer_certificate: "${pinned}"
      connect_timeout: 2
      negotiation_timeout: 3
`;
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

/** `trellis status` of an edge, its links lines. */
async function linksStatus(edge: LinkEdge): Promise<string> {
  const run = await trellis(['status', '--config', edge.configFile]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

describe('links of protocol s2s between processes', () => {
  let dir: string;
  let a: LinkEdge;
  let b: LinkEdge;
  let c: LinkEdge;
  let silent: Server | undefined;
  const held: Socket[] = [];
  const clients: RawClient[] = [];
  const cert = (name: string) => join(dir, 'certs', `${name}.pem`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-links-s2s-'));
    await mkdir(join(dir, 'certs'));
    for (const [name, domain] of [['air.example', 'air.example'], ['ground.example', 'ground.example'], ['sea.example', 'sea.example'], ['impostor', 'ground.example'], ['hq', 'hq.example']] as const) {
      const { certificatePem, keyPem } = await generateSelfSigned(domain);
      await writeFile(join(dir, 'certs', `${name}.pem`), certificatePem);
      await writeFile(join(dir, 'certs', `${name}.key`), keyPem);
    }
    const tls = (domain: string) => ({ [domain]: { certificate: cert(domain), key: join(dir, 'certs', `${domain}.key`) } });

    /** An edge whose one link to its peer carries its domain's stanzas, and that federates with nobody else. */
    const edge = (local: string, user: string, link: string, address: string, remote: string, listen: string) =>
      LinkEdge.create([local], [`${user}@${local}`], `${NO_DNS}
links:
${s2sLink(link, address, local, remote, cert(remote))}
s2s:
  peering:
    "*": { route: reject }
    ${remote}: { link: ${link} }
`, { s2s: listen, admin: true, tls: tls(local) });
    a = await edge('air.example', 'alice', 'ground', '127.0.72.2:5269', 'ground.example', '127.0.72.1');
    b = await edge('ground.example', 'bob', 'air', '127.0.72.1:5269', 'air.example', '127.0.72.2');
    c = await LinkEdge.create(['sea.example'], ['carol@sea.example'], `${NO_DNS}
links:
${s2sLink('wrongpin', '127.0.72.2:5269', 'sea.example', 'ground.example', cert('impostor'))}${s2sLink('slow', '127.0.72.4:5269', 'sea.example', 'slow.example', cert('impostor'), '    queue_max_messages: 2\n')}
s2s:
  peering:
    "*": { route: reject }
    ground.example: { link: wrongpin }
    slow.example: { link: slow }
`, { s2s: '127.0.72.3', admin: true, tls: tls('sea.example') });
    await b.start();
    await a.start();
  });

  after(async () => {
    try {
      for (const client of clients) client.close();
      await Promise.all([a?.remove(), b?.remove(), c?.remove()]);
    } finally {
      // An edge that fails to stop must not leave the certificates' directory behind.
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent?.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the example of docs/links.md loads: a link of protocol s2s routed for the peer\'s domains', () => {
    const config = parseConfig(example('s2s'), { baseDir: dir });
    const [link] = config.links;
    assert.equal(link!.protocol, 's2s');
    assert.equal(link!.connect, 'out');
    assert.deepEqual(link!.s2s, { tls: 'required', direct_tls: false, authentication: 'dialback', peer_certificate: join(dir, 'certs', 'hq.pem'), connect_timeout: 10, negotiation_timeout: 30 });
    const policy = new PolicySnapshot(config);
    const way = policy.route('hq.example');
    assert.ok(way.kind === 'route' && way.via.kind === 'link' && way.via.link === 'hq');
    assert.equal(policy.route('elsewhere.example').kind, 'reject');
  });

  test('the links come up by their fixed addresses, pinned and with dialback, and messages cross both ways', async () => {
    await a.waitForOutput('link up link=ground', 15_000);
    await b.waitForOutput('link up link=air', 15_000);
    const alice = await a.login('alice', 'air.example');
    const bob = await b.login('bob', 'ground.example');
    clients.push(alice, bob);
    alice.send("<message id='out1' to='bob@ground.example' type='chat'><body>over the s2s link</body></message>");
    await bob.waitFor(/id=["']out1["'][\s\S]*over the s2s link/, 10_000);
    bob.send("<message id='back1' to='alice@air.example/r' type='chat'><body>and back</body></message>");
    await alice.waitFor(/id=["']back1["'][\s\S]*and back/, 10_000);
    // Dialback over TLS with the pinned certificates, nothing looked up in DNS, no SASL EXTERNAL (the links say dialback).
    // Whichever side's stream came first carries both ways (XEP-0288); its pair was asked for by dialback.
    assert.match(a.output + b.output, /s2s (outgoing pair|incoming sender) authorized[^\n]*method=(dialback|certificate)/);
    assert.doesNotMatch(a.output + b.output, /method=sasl-external/);
    assert.doesNotMatch(a.output + b.output, /DNS lookup failed/);
  });

  test('trellis status shows the link up, and its keepalives cross while it is idle', async () => {
    const bytesIn = (text: string) => Number(/ground up, s2s to 127\.0\.72\.2:5269, 0 messages queued, \d+ stanzas \(\d+ bytes\) out, \d+ \((\d+) bytes\) in/.exec(text)?.[1]);
    const first = await linksStatus(a);
    assert.match(first, /links: +ground up, s2s to 127\.0\.72\.2:5269, 0 messages queued/);
    const connections = a.output.split('s2s outgoing connection established').length;
    await sleep(3500);
    const later = await linksStatus(a);
    // B writes a space after each idle second; nothing else crossed meanwhile.
    assert.ok(bytesIn(later) >= bytesIn(first) + 2, `${first}\n${later}`);
    assert.equal(a.output.split('s2s outgoing connection established').length, connections, 'no new connection was needed');
  });

  test('a peer whose certificate is not the pinned one is refused, and messages bounce with remote-server-not-found', async () => {
    await c.start();
    const carol = await c.login('carol', 'sea.example');
    clients.push(carol);
    await c.waitForOutput('not the pinned certificate', 10_000);
    assert.match(c.output, /s2s link peer refused: not the pinned certificate[^\n]*link=wrongpin/);
    carol.send("<message id='pin1' to='bob@ground.example' type='chat'><body>to an impostor?</body></message>");
    const bounce = await carol.waitFor(/<message[^>]*id=["']pin1["'][^>]*type=["']error["'][\s\S]*?<\/message>/, 10_000);
    assert.match(bounce, /remote-server-not-found/);
    const status = await linksStatus(c);
    assert.match(status, /wrongpin down, s2s to 127\.0\.72\.2:5269[^\n]*last error [^\n]*not the one the link wrongpin pins/);
  });

  test('a queue over queue_max_messages bounces with resource-constraint while the stream is set up', async () => {
    const carol = await c.login('carol', 'sea.example');
    clients.push(carol);
    // Until now nothing listened at the link's address; the link's next attempt reaches a peer
    // that accepts and never answers, which holds the stream in negotiation (negotiation_timeout: 3).
    silent = createServer((socket) => held.push(socket.on('error', () => {})));
    await new Promise<void>((resolve) => silent!.listen(5269, '127.0.72.4', resolve));
    await waitUntil(() => /s2s outgoing connection established[^\n]*slow\.example/.test(c.output), 10_000);
    for (const id of ['q1', 'q2', 'q3']) carol.send(`<message id='${id}' to='x@slow.example' type='chat'><body>${id}</body></message>`);
    const full = await carol.waitFor(/<message[^>]*id=["']q3["'][^>]*type=["']error["'][\s\S]*?<\/message>/, 5000);
    assert.match(full, /resource-constraint/);
    assert.match(full, /too many stanzas waiting for slow\.example/);
    assert.doesNotMatch(carol.received, /id=["']q[12]["'][^>]*type=["']error/);
    // When the negotiation times out, the two that waited bounce too.
    await carol.waitFor(/<message[^>]*id=["']q2["'][^>]*type=["']error["']/, 10_000);
    assert.match(carol.received, /<message[^>]*id=["']q1["'][^>]*type=["']error["']/);
  });
});
