/**
 * docs/links.md's examples load as written, and the satellite example runs: the aircraft's
 * server (the example, with only the ground station's address filled in) reaches the ground
 * station over a TLS link where each side pins the other's certificate; an impostor with
 * another certificate is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.ts';
import { generateSelfSigned } from '../src/net/self-signed.ts';
import { PolicySnapshot } from '../src/policy/snapshot.ts';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const DOC = readFileSync(join(import.meta.dirname, '..', 'docs', 'links.md'), 'utf8');
const example = (name: string) => new RegExp(`\`\`\`yaml\\n# example: ${name}\\n([\\s\\S]*?)\`\`\``).exec(DOC)![1]!;

describe('the examples of docs/links.md', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-links-doc-'));
    await mkdir(join(dir, 'certs'));
    for (const [name, domain] of [['air.example', 'air.example'], ['ground-gw', 'ground.example'], ['ground.example', 'ground.example'], ['impostor', 'ground.example']]) {
      const { certificatePem, keyPem } = await generateSelfSigned(domain!);
      await writeFile(join(dir, 'certs', `${name}.pem`), certificatePem);
      await writeFile(join(dir, 'certs', `${name}.key`), keyPem);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the satellite example: a TLS link with a pinned certificate, routed for the ground domains', () => {
    const config = parseConfig(example('satellite'), { baseDir: dir });
    const [link] = config.links;
    assert.equal(link!.transport, 'tls');
    assert.equal(link!.identity, 'certificate');
    assert.equal(link!.tls?.peer_certificate, join(dir, 'certs', 'ground-gw.pem'));
    const policy = new PolicySnapshot(config);
    for (const domain of ['ground.example', 'conference.ground.example']) assert.deepEqual(policy.route(domain).kind === 'route' && policy.route(domain), { kind: 'route', rule: `s2s.peering["${domain}"].link`, via: { kind: 'link', link: 'ground' }, text: `${domain} over the link ground` });
  });

  test('the guard example: guard output without whitespace keepalives, and no other federation', () => {
    const config = parseConfig(example('guard'), { baseDir: dir });
    assert.deepEqual(config.links[0]!.guard, { enabled: true, whitespace_keepalives: false });
    assert.equal(config.links[0]!.max_stanza_bytes, 8192);
    assert.equal(config.s2s.enabled, false);
  });

  describe('the satellite example over TLS', () => {
    let ground: TestServer;
    let impostor: TestServer;
    let air: TestServer;
    const groundLink = (name: string, address: string) => `
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
links:
  ground:
    connect: in
    address: "${address}"
    transport: tls
    identity: certificate
    tls:
      certificate: ${join(dir, 'certs', `${name}.pem`)}
      key: ${join(dir, 'certs', `${name}.key`)}
      peer_certificate: ${join(dir, 'certs', 'air.example.pem')}
    local_domains: [ground.example]
    remote_domains: [air.example]
s2s:
  enabled: false
  peering:
    air.example: { link: ground }
hosts:
  ground.example: {}
`;
    before(async () => {
      ground = await startTestServer(groundLink('ground-gw', '127.0.22.31:0'));
      impostor = await startTestServer(groundLink('impostor', '127.0.22.32:0'));
    });
    after(async () => {
      await Promise.all([air, ground, impostor].map((server) => server?.stop()));
    });

    const startAir = async (address: string) => {
      air = await startTestServer(
        `listeners:\n  c2s: { addresses: ["127.0.0.1"], port: 0 }\n  s2s: { enabled: false }\n${example('satellite')
          .replace('"ground-gw.example.net:5361"', `"${address}"`)
          .replaceAll('certs/', `${dir}/certs/`)
          .replace('reconnect_initial_delay: 5', 'reconnect_initial_delay: 1')}`,
      );
      return air.server.links.links.get('ground')!;
    };

    test('a message crosses the pinned TLS link', async () => {
      const link = await startAir(ground.server.links.links.get('ground')!.listening!);
      for (let i = 0; i < 100 && !link.up; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(link.up);
      await air.addUser('pilot', 'air.example', 'secret');
      await ground.addUser('ops', 'ground.example', 'secret');
      const pilot = await loginFederated({ port: air.port, domain: 'air.example' } as FederatedServer, 'pilot');
      const ops = await loginFederated({ port: ground.port, domain: 'ground.example' } as FederatedServer, 'ops');
      ops.send('<presence/>');
      await new Promise((resolve) => setTimeout(resolve, 100));
      pilot.send("<message id='t1' to='ops@ground.example' type='chat'><body>ETA 1420</body></message>");
      await ops.waitFor(/ETA 1420/);
      pilot.close();
      ops.close();
      await air.stop();
    });

    test('a peer whose certificate is not the pinned one is refused', async () => {
      await startAir(impostor.server.links.links.get('ground')!.listening!);
      await air.waitForLog('link peer refused', 'is not the pinned one');
      assert.equal(air.server.links.links.get('ground')!.up, false);
    });
  });
});
