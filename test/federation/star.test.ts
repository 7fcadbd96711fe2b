/**
 * A star (docs/peering.md, "A star"): leaves A, B and C reach each other only through a centre
 * run as an edge, with no DNS records for any of their domains; each a `trellis start` process
 * on its own loopback address, from the configuration files the page shows, as they are.
 * A message crosses leaf -> centre -> leaf; a leaf's more specific rule takes it straight to a
 * neighbour despite its default route; a relay the receiving leaf's rule does not let the centre
 * speak for is refused; and a loop made by a wrong rule on the centre is detected and bounced
 * to the sender, with an audit record and an alert.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminJson, adminRequest } from '../../src/admin/client.ts';
import type { S2sPairRow } from '../../src/admin/types.ts';
import { createTestCa } from '../support/lab/ca.ts';
import { startExamples, writeConfig, writeDomainCertificates } from '../support/lab/docs-configs.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { loginTo, startTrellis, type TrellisProcess } from '../support/lab/trellis-process.ts';
import type { RawClient } from '../support/raw-client.ts';

const LEAVES = ['a', 'b', 'c'] as const;
/** A leaf that only the loop test adds: it sends everything back through the centre. */
const LOOP_LEAF = `data_dir: ./d
listeners:
  c2s: { addresses: ["127.0.110.14"], port: 5222 }
  s2s: { addresses: ["127.0.110.14"], port: 5269 }
http: { enabled: false }
s2s:
  min_level: trusted
  ca_files: [ca.crt]
  use_system_ca: false
  peering:
    centre.example: { via: "127.0.110.10:5269", speaks_for: ["*"] }
    "*": { via: centre.example }
hosts:
  d.example: { tls: { certificate: d.example.crt, key: d.example.key } }
`;

describe('a star: three leaves through a centre', () => {
  let dir = '';
  let ca: Buffer;
  const servers = new Map<string, TrellisProcess>();
  const clients = new Map<string, RawClient>();
  let centreFile = '';

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('star');
    const authority = await createTestCa();
    ca = Buffer.from(authority.certPem);
    await writeDomainCertificates(dir, authority, ['centre.example', 'a.example', 'b.example', 'c.example', 'd.example']);
    const started = await startExamples(dir, 'peering.md', ['star-centre', ...LEAVES.map((leaf) => `star-leaf-${leaf}`)], Object.fromEntries(LEAVES.map((leaf) => [`star-leaf-${leaf}`, `${leaf}.example`])));
    centreFile = join(dir, 'star-centre.yaml');
    servers.set('centre', started.get('star-centre')!);
    for (const leaf of LEAVES) servers.set(leaf, started.get(`star-leaf-${leaf}`)!);
    for (const leaf of LEAVES) clients.set(leaf, await loginTo(servers.get(leaf)!, ca, 'u', `${leaf}.example`));
  });

  after(async () => {
    for (const client of clients.values()) client.close();
    for (const server of servers.values()) await server.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  /** Sends a chat message from the user of leaf `from` to the user of `to` (a domain), with `id`. */
  const send = (from: string, to: string, id: string, body: string) =>
    clients.get(from)!.send(`<message type='chat' id='${id}' to='u@${to}/r'><body>${body}</body></message>`);
  /** What the centre's /metrics counts in trellis_stanzas_relayed_total for a route rule (0 when it has no series). */
  const relayedAtCentre = async (rule: string): Promise<number> => {
    const metrics = (await adminRequest(servers.get('centre')!.config.admin.socket, 'GET', '/metrics')).body;
    const line = metrics.split('\n').find((candidate) => candidate.startsWith(`trellis_stanzas_relayed_total{rule="${rule.replaceAll('"', '\\"')}"} `));
    return Number(line?.split(' ').at(-1) ?? 0);
  };
  const pairsOf = async (server: string) => (await adminJson<{ pairs: S2sPairRow[] }>(servers.get(server)!.config.admin.socket, 'GET', '/v1/s2s')).pairs;

  it('the centre runs as an edge: no client listener, its log says so', async () => {
    await servers.get('centre')!.waitForOutput('running as an edge');
    assert.doesNotMatch(servers.get('centre')!.output(), /listening for clients/);
  });

  it('a message crosses leaf A, the centre and leaf C, from and content as sent, no trace left', async () => {
    send('a', 'c.example', 'star-1', 'through the centre');
    const received = await clients.get('c')!.waitFor(/<message[^>]*id="star-1"[\s\S]*?<\/message>/, 15_000);
    const message = /<message[^>]*id="star-1"[\s\S]*?<\/message>/.exec(received)![0];
    assert.match(message, /from="u@a\.example\/r"/);
    assert.match(message, /<body>through the centre<\/body>/);
    assert.doesNotMatch(message, /relayed|urn:xmpp:trellis:relay/);
    // C's stream is with the centre only: the pair names the centre, not a.example.
    const pairs = await pairsOf('c');
    assert.ok(pairs.some((pair) => pair.local === 'c.example' && pair.remote === 'centre.example' && pair.inbound.length > 0), JSON.stringify(pairs));
    assert.ok(!pairs.some((pair) => pair.remote === 'a.example'), JSON.stringify(pairs));
    // and the answer goes back the same way
    clients.get('c')!.send(`<message type='chat' id='star-2' to='u@a.example/r'><body>back</body></message>`);
    await clients.get('a')!.waitFor(/id="star-2"[^>]*>|from="u@c\.example\/r"[^>]*id="star-2"/, 15_000);
    // The centre counted each relay under the route rule that took it on.
    assert.equal(await relayedAtCentre('s2s.peering["c.example"].via'), 1);
    assert.equal(await relayedAtCentre('s2s.peering["a.example"].via'), 1);
  });

  it("a leaf with a default route reaches a neighbour by its more specific rule, straight", async () => {
    send('a', 'b.example', 'star-3', 'next door');
    await clients.get('b')!.waitFor('<body>next door</body>', 15_000);
    const pairs = await pairsOf('b');
    assert.ok(pairs.some((pair) => pair.local === 'b.example' && pair.remote === 'a.example' && pair.inbound.length > 0), JSON.stringify(pairs));
  });

  it('a relay the receiving leaf does not let the centre speak for is refused', async () => {
    send('b', 'c.example', 'star-4', 'not from b');
    const line = await servers.get('c')!.waitForOutput('b.example is not authenticated on this stream');
    assert.match(line, /speaks_for/);
    // The error comes back through the centre: it carries no relay trace, or the centre would take it for a loop.
    const received = await clients.get('b')!.waitFor(/<message[^>]*(?:id="star-4"[^>]*type="error"|type="error"[^>]*id="star-4")[\s\S]*?<\/message>/, 15_000);
    assert.doesNotMatch(received.slice(received.indexOf('star-4')), /urn:xmpp:trellis:relay:0/);
    assert.doesNotMatch(servers.get('centre')!.output(), /routing loop/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.doesNotMatch(clients.get('c')!.received, /not from b/);
  });

  it('a loop is detected at the centre and bounced to its sender, audited, with an alert', async () => {
    // A wrong rule on the centre: lost.example "behind" leaf D, which sends everything back.
    const loopLeaf = writeConfig(dir, 'd', LOOP_LEAF);
    servers.set('d', await startTrellis(loopLeaf));
    const centre = readFileSync(centreFile, 'utf8').replace('  peering:\n', '  peering:\n    lost.example: { via: d.example }\n    d.example: { via: "127.0.110.14:5269", speaks_for: ["*"] }\n');
    writeFileSync(centreFile, centre);
    const socket = servers.get('centre')!.config.admin.socket;
    const reload = await adminRequest(socket, 'POST', '/v1/reload');
    assert.equal(reload.status, 200, reload.body);
    send('a', 'lost.example', 'star-5', 'round and round');
    const received = await clients.get('a')!.waitFor(/<message[^>]*id="star-5"[^>]*type="error"[\s\S]*?<\/message>|<message[^>]*type="error"[^>]*id="star-5"[\s\S]*?<\/message>/, 15_000);
    const error = /<message[^>]*id="star-5"[\s\S]*?<\/message>/.exec(received.slice(received.indexOf('star-5') - 200))![0];
    assert.match(error, /<undefined-condition/);
    assert.match(error, /<routing-loop xmlns="urn:xmpp:trellis:relay:0"\/>/);
    assert.match(error, /routing loop: the stanza for lost\.example came back to centre\.example \(crossed centre\.example, d\.example\)/);
    const { alerts } = await adminJson<{ alerts: { rule: string; text: string }[] }>(socket, 'GET', '/v1/alerts');
    assert.ok(alerts.some((alert) => alert.rule === 's2s.peering["lost.example"].via' && alert.text.startsWith('routing loop')), JSON.stringify(alerts));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { records } = await adminJson<{ records: { rule: string; verdict: string; from: string }[] }>(socket, 'GET', '/v1/audit?verdict=refuse');
    assert.ok(records.some((record) => record.rule === 's2s.peering["lost.example"].via' && record.from === 'u@a.example/r'), JSON.stringify(records));
    const metrics = await adminRequest(socket, 'GET', '/metrics');
    assert.match(metrics.body, /trellis_policy_violations_total\{rule="s2s\.peering\[\\"lost\.example\\"\]\.via"\} 1/);
    // The centre relayed it once (to D); coming back it was refused, not relayed again.
    assert.equal(await relayedAtCentre('s2s.peering["lost.example"].via'), 1);
  });
});
