/**
 * Group chat across federation, Trellis and Trellis in the lab: a user of b.test enters a room
 * of conference.a.test, and stanzas flow both ways over server connections of the service's own
 * domain, found through SRV records and authenticated with CA certificates that name it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { login } from '../support/login.ts';
import type { RawClient } from '../support/raw-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const A_ADDRESS = '127.0.0.40';
const B_ADDRESS = '127.0.0.41';
const ROOM = 'lobby@conference.a.test';
const MUC = "<x xmlns='http://jabber.org/protocol/muc'/>";

/** What the lab of this file runs, closed in reverse order of starting. */
interface MucLab {
  a: TestServer;
  b: TestServer;
  alice: RawClient;
  bob: RawClient;
  closers: (() => unknown)[];
}

/** Lab DNS with SRV records for each domain and its service, one CA, and a server per domain. */
async function startMucLab(closers: (() => unknown)[]): Promise<MucLab> {
  assertInsideLab();
  const dir = makeScratchDir('muc-trellis');
  closers.push(() => removeScratchDir(dir));
  const records = (domain: string, address: string) => [
    { name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target: `xmpp.${domain}` },
    { name: `_xmpp-server._tcp.conference.${domain}`, type: 'SRV' as const, port: 5269, target: `xmpp.${domain}` },
    { name: `xmpp.${domain}`, type: 'A' as const, address },
  ];
  const dns = await startLabDns([{ name: 'test', records: [...records('a.test', A_ADDRESS), ...records('b.test', B_ADDRESS)] }]);
  closers.push(() => dns.stop());
  const ca = await createTestCa();
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const serve = async (address: string, domain: string, user: string): Promise<[TestServer, RawClient]> => {
    // docs/muc.md: the host's certificate names the service's domain too.
    const files = writeCertificateFiles(dir, domain, await ca.issue({ names: [domain, `conference.${domain}`] }));
    const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${address}"], port: 5269 }
s2s: { min_level: trusted, ca_files: ["${caFile}"], use_system_ca: false }
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
hosts:
  ${domain}: { tls: { certificate: "${files.certFile}", key: "${files.keyFile}" } }
`);
    closers.push(() => server.stop());
    await server.addUser(user, domain, 'secret');
    const { client } = await login({ ...server, port: server.port, certificateFile: () => caFile }, { username: user, password: 'secret', domain, resource: 'r' });
    closers.push(() => client.close());
    client.send('<presence/>');
    return [server, client];
  };
  const [a, alice] = await serve(A_ADDRESS, 'a.test', 'alice');
  const [b, bob] = await serve(B_ADDRESS, 'b.test', 'bob');
  return { a, b, alice, bob, closers };
}

describe('group chat across Trellis servers', () => {
  const closers: (() => unknown)[] = [];
  let lab: MucLab;
  before(async () => {
    lab = await startMucLab(closers);
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('a remote user enters a room and talks with a local occupant, both ways', async () => {
    lab.alice.send(`<presence to='${ROOM}/Alice'>${MUC}</presence>`);
    await lab.alice.waitFor(/status code=["']201["']/);
    lab.alice.send(`<iq type='set' id='open' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    await lab.alice.waitFor(/id=["']open["']/);

    lab.bob.send(`<presence to='${ROOM}/Bob'>${MUC}</presence>`);
    await lab.bob.waitFor(/from=["']lobby@conference\.a\.test\/Bob["'][\s\S]*?status code=["']110["']/, 15_000);
    await lab.alice.waitFor(new RegExp(`from=["']${ROOM}/Bob["']`));

    lab.alice.send(`<message to='${ROOM}' type='groupchat'><body>hello from a.test</body></message>`);
    await lab.bob.waitFor('hello from a.test', 10_000);
    lab.bob.send(`<message to='${ROOM}' type='groupchat'><body>hello from b.test</body></message>`);
    assert.match(await lab.alice.waitFor('hello from b.test', 10_000), new RegExp(`from=["']${ROOM}/Bob["']`));

    // The service's own pair carries its stanzas: on a connection it opened, or back over b.test's when that is bidirectional (XEP-0288).
    const out = lab.a.server.s2s.connections().find((row) => row.domains.includes('conference.a.test -> b.test'));
    assert.ok(out && (out.direction === 'out' || out.bidi), JSON.stringify(lab.a.server.s2s.connections()));
  });

  it('a remote user may not create rooms on the service by default', async () => {
    lab.bob.clear();
    lab.bob.send(`<presence to='new@conference.a.test/Bob'>${MUC}</presence>`);
    assert.match(await lab.bob.waitFor(/<not-allowed xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/, 10_000), /type=["']error["']/);
  });
});
