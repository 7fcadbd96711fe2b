/**
 * Fronting a plain peer (docs/peering.md, "Fronting a plain peer"): Debian's Prosody serves
 * outside.example and knows nothing of trunks; the DNS records of inside.example name a Trellis
 * edge, whose certificate names inside.example too, and the edge relays to the inner Trellis
 * server that hosts it. Both Trellis servers are `trellis start` processes on the page's
 * configuration files, as they are. slixmpp users on Prosody and on the inner server exchange
 * messages and presence both ways; a domain whose records name the edge but that it does not
 * front (hidden.example) is refused at the stream with host-unknown; the edge shows the pairs it authenticated as
 * inside.example and counts what it relayed; a reload that takes `front` away ends them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminJson, adminRequest } from '../../src/admin/client.ts';
import type { S2sPairRow } from '../../src/admin/types.ts';
import { startDriver, type ClientDriver } from '../support/client-driver.ts';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { startLabDns, type LabDns } from '../support/lab/dns.ts';
import { startExamples, writeDomainCertificates } from '../support/lab/docs-configs.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir, tail } from '../support/lab/process.ts';
import { startProsody, type RunningProsody } from '../support/lab/prosody.ts';
import type { TrellisProcess } from '../support/lab/trellis-process.ts';
import { waitUntil } from '../support/wait.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');
/** the addresses of docs/peering.md's fronting example */
const EDGE_ADDRESS = '127.0.71.10';
const INNER_ADDRESS = '127.0.71.11';
const PROSODY_ADDRESS = '127.0.71.12';
const PAT = 'pat@outside.example';
/** the account startExamples adds on the inner server (password "secret") */
const BOB = 'u@inside.example';

describe('a plain peer (Prosody) reaches a fronted domain through a Trellis edge', () => {
  let dir = '';
  let dns: LabDns | undefined;
  let prosody: RunningProsody | undefined;
  const servers = new Map<string, TrellisProcess>();
  const clients: ClientDriver[] = [];
  let pat: ClientDriver;
  let bob: ClientDriver;

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('fronting');
    const srv = (domain: string, target: string) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target });
    // The fronted domain and the one that is not both name the edge; the plain peer names itself.
    dns = await startLabDns([
      {
        name: 'example',
        records: [
          srv('inside.example', 'edge.example'),
          srv('hidden.example', 'edge.example'),
          { name: 'edge.example', type: 'A', address: EDGE_ADDRESS },
          srv('outside.example', 'xmpp.outside.example'),
          { name: 'xmpp.outside.example', type: 'A', address: PROSODY_ADDRESS },
        ],
      },
    ]);
    const ca = await createTestCa();
    await writeDomainCertificates(dir, ca, ['inside.example', 'hidden.example']);
    // The edge's certificate names the domain it fronts (DNS-IDs, RFC 6125).
    writeCertificateFiles(dir, 'edge.example', await ca.issue({ names: ['edge.example', 'inside.example'], eku: 'server+client' }));
    const outside = writeCertificateFiles(dir, 'outside.example', await ca.issue({ names: ['outside.example'], eku: 'server+client' }));
    prosody = await startProsody({
      address: PROSODY_ADDRESS,
      domains: [{ domain: 'outside.example', ...outside }],
      caFile: join(dir, 'ca.crt'),
      users: [{ user: 'pat', domain: 'outside.example', password: 'secret' }],
    });
    const started = await startExamples(dir, 'peering.md', ['fronting-edge', 'fronting-inner'], { 'fronting-inner': 'inside.example' });
    servers.set('edge', started.get('fronting-edge')!);
    servers.set('inner', started.get('fronting-inner')!);
    pat = await client(`${PAT}/lab`, PROSODY_ADDRESS, 'SCRAM-SHA-1');
    bob = await client(`${BOB}/lab`, INNER_ADDRESS, 'SCRAM-SHA-256-PLUS');
  });

  after(async () => {
    for (const driver of clients) driver.stop();
    for (const server of servers.values()) await server.stop();
    await prosody?.stop();
    await dns?.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  async function client(jid: string, address: string, mechanism: string): Promise<ClientDriver> {
    const driver = await startDriver(`slixmpp ${jid}`, '/usr/bin/python3', [DRIVER, jid, 'secret', address, '5222', join(dir, 'ca.crt'), mechanism]);
    clients.push(driver);
    await driver.ok({ op: 'presence' });
    return driver;
  }

  const diagnostics = () =>
    `--- Prosody ---\n${prosody ? tail(prosody.logFile, 30) : ''}\n--- edge ---\n${servers.get('edge')?.output().slice(-3000)}\n--- inner ---\n${servers.get('inner')?.output().slice(-2000)}`;
  const pairsOf = async (server: string) => (await adminJson<{ pairs: S2sPairRow[] }>(servers.get(server)!.config.admin.socket, 'GET', '/v1/s2s')).pairs;
  const bare = (jid: unknown) => String(jid).split('/')[0];

  it('the edge says which domains it fronts', async () => {
    await servers.get('edge')!.waitForOutput('fronting domains for plain peers', 'inside.example');
    assert.doesNotMatch(servers.get('edge')!.output(), /a fronted domain is named by no certificate/);
  });

  it('a message from Prosody reaches the inner server, and the answer comes back from the real address', async () => {
    await pat.ok({ op: 'message', to: BOB, body: 'hello inside', msg_id: 'front-1' });
    const got = await bob.waitEvent((event) => event.event === 'message' && event.body === 'hello inside', 20_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    assert.equal(bare(got.from), PAT);
    await bob.ok({ op: 'message', to: PAT, body: 'hello outside', msg_id: 'front-2' });
    const answer = await pat.waitEvent((event) => event.event === 'message' && event.body === 'hello outside', 20_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    assert.equal(String(answer.from), `${BOB}/lab`);
    // Prosody does not announce the relay trace: the edge takes it off, and Pat is not shown the route.
    assert.ok(Array.isArray(answer.children), JSON.stringify(answer));
    assert.ok(!(answer.children as string[]).some((tag) => tag.includes('urn:xmpp:trellis:relay:0')), JSON.stringify(answer.children));
  });

  it('the edge authenticated the pair as inside.example both ways with Prosody, and relays on its own pair inward', async () => {
    const edge = await pairsOf('edge');
    const fronted = edge.find((pair) => pair.local === 'inside.example' && pair.remote === 'outside.example');
    assert.ok(fronted && fronted.inbound.length > 0 && fronted.outbound.length > 0, JSON.stringify(edge));
    assert.ok(!edge.some((pair) => pair.local === 'edge.example' && pair.remote === 'outside.example'), `the edge never speaks to Prosody as itself: ${JSON.stringify(edge)}`);
    assert.ok(edge.some((pair) => pair.local === 'edge.example' && pair.remote === 'inside.example' && pair.outbound.length > 0), JSON.stringify(edge));
    await servers.get('edge')!.waitForOutput('s2s outgoing pair authorized', 'local=inside.example', 'remote=outside.example');
    await servers.get('edge')!.waitForOutput('s2s incoming sender authorized', 'from=outside.example', 'to=inside.example');
    // Prosody sees inside.example's server, authenticated by its certificate, both ways.
    const links = (await prosody!.s2sConnections()).filter((link) => link.remoteDomain === 'inside.example');
    assert.ok(links.some((link) => link.direction === 'outgoing' && link.authentication === 'sasl-external'), `${JSON.stringify(links)}\n${diagnostics()}`);
    assert.ok(links.some((link) => link.direction === 'incoming' && link.authentication !== 'none'), `${JSON.stringify(links)}\n${diagnostics()}`);
    // The inner server only ever talks to the edge, which speaks for outside.example.
    const inner = await pairsOf('inner');
    assert.ok(!inner.some((pair) => pair.remote === 'outside.example'), JSON.stringify(inner));
  });

  it('presence: a subscription both ways, and availability reaches each side', async () => {
    await bob.ok({ op: 'subscribe', to: PAT });
    await pat.waitEvent((event) => event.event === 'subscription_request' && bare(event.from) === BOB, 20_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    await pat.ok({ op: 'approve', to: BOB });
    await pat.ok({ op: 'subscribe', to: BOB });
    await bob.waitEvent((event) => event.event === 'subscription_request' && bare(event.from) === PAT, 20_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    await bob.ok({ op: 'approve', to: PAT });
    await pat.ok({ op: 'presence', show: 'away', status: 'out there' });
    await bob.waitEvent((event) => event.event === 'presence' && bare(event.from) === PAT && event.status === 'out there', 20_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    await bob.ok({ op: 'presence', show: 'dnd', status: 'in here' });
    await pat.waitEvent((event) => event.event === 'presence' && bare(event.from) === BOB && event.status === 'in here', 20_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
  });

  it('a domain whose records name the edge but that it does not front is refused at the stream with host-unknown; the sender gets a bounce', async () => {
    await pat.ok({ op: 'message', to: 'u@hidden.example', body: 'not fronted', msg_id: 'front-hidden' });
    const bounce = await pat.waitEvent((event) => event.event === 'message_error' && event.id === 'front-hidden', 30_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    // COMPAT(prosody): Prosody 0.12 bounces what it queued for a stream the peer opened and then
    // closed with an error as remote-server-timeout (wait), whatever the stream error (mod_s2s bounce_sendq).
    assert.equal(bounce.condition, 'remote-server-timeout', JSON.stringify(bounce));
    await servers.get('edge')!.waitForOutput('this server does not host hidden.example');
    assert.match(readFileSync(prosody!.logFile, 'utf8'), /host-unknown/);
    assert.ok(!bob.events.some((event) => event.event === 'message' && event.body === 'not fronted'));
  });

  it('the edge counts what it relayed, by the rule of each route', async () => {
    const metrics = (await adminRequest(servers.get('edge')!.config.admin.socket, 'GET', '/metrics')).body;
    const relayed = (rule: string) => Number(metrics.split('\n').find((line) => line.startsWith(`trellis_stanzas_relayed_total{rule="${rule.replaceAll('"', '\\"')}"} `))?.split(' ').at(-1) ?? 0);
    assert.ok(relayed('s2s.peering["inside.example"].via') >= 3, metrics);
    assert.ok(relayed('s2s.peering["outside.example"].route') >= 3, metrics);
  });

  it('a reload that takes front away ends the connections that carried the domain, and the next message bounces', async () => {
    const edge = servers.get('edge')!;
    const file = join(dir, 'fronting-edge.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(', front: true }', ' }'));
    const reload = await adminRequest(edge.config.admin.socket, 'POST', '/v1/reload');
    assert.equal(reload.status, 200, reload.body);
    await edge.waitForOutput('no longer allowed by policy', 'inside.example is no longer hosted or fronted here');
    // The log line comes as the connections are told to close; the pairs go once they have.
    let pairs = await pairsOf('edge');
    await waitUntil('the edge holds no pair for inside.example', async () => {
      pairs = await pairsOf('edge');
      return !pairs.some((pair) => pair.local === 'inside.example');
    }).catch(() => assert.fail(`pairs left: ${JSON.stringify(pairs)}`));
    await pat.ok({ op: 'message', to: BOB, body: 'after the reload', msg_id: 'front-gone' });
    await pat.waitEvent((event) => event.event === 'message_error' && event.id === 'front-gone', 30_000).catch((error) => assert.fail(`${error}\n${diagnostics()}`));
    assert.ok(!bob.events.some((event) => event.event === 'message' && event.body === 'after the reload'));
  });
});
