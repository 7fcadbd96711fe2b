/**
 * An external component (XEP-0114) reached over federation: slixmpp's ComponentXMPP serves
 * echo.a.test on a.test's server, and a user of b.test talks to it. The component's domain is
 * served like any hosted domain: found through its SRV record, authenticated with a CA
 * certificate that names it, and its answers leave over a server connection of its own domain.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientDriver } from '../support/client-driver.ts';
import { createTestCa, writeCertificateFiles } from '../support/lab/ca.ts';
import { LAB_RESOLVER_ADDRESS, startLabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { login } from '../support/login.ts';
import type { RawClient } from '../support/raw-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startSlixmppComponent } from '../support/slixmpp.ts';

const A_ADDRESS = '127.0.0.42';
const B_ADDRESS = '127.0.0.43';
const COMPONENT = 'echo.a.test';
const SECRET = 'component secret';

describe('an external component reached over federation', () => {
  const closers: (() => unknown)[] = [];
  let a: TestServer;
  let bob: RawClient;
  let component: ClientDriver;

  before(async () => {
    assertInsideLab();
    const dir = makeScratchDir('component-trellis');
    closers.push(() => removeScratchDir(dir));
    const srv = (domain: string, target: string) => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV' as const, port: 5269, target });
    const dns = await startLabDns([
      {
        name: 'test',
        records: [srv('a.test', 'xmpp.a.test'), srv(COMPONENT, 'xmpp.a.test'), srv('b.test', 'xmpp.b.test'), { name: 'xmpp.a.test', type: 'A', address: A_ADDRESS }, { name: 'xmpp.b.test', type: 'A', address: B_ADDRESS }],
      },
    ]);
    closers.push(() => dns.stop());
    const ca = await createTestCa();
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    const serve = async (address: string, domain: string, names: string[], extra: string): Promise<TestServer> => {
      const files = writeCertificateFiles(dir, domain, await ca.issue({ names }));
      const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["${address}"], port: 5269 }
  component: { addresses: ["127.0.0.1"], port: 0 }
s2s: { min_level: trusted, ca_files: ["${caFile}"], use_system_ca: false }
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }
${extra}
hosts:
  ${domain}: {}
`);
      closers.push(() => server.stop());
      return server;
    };
    // The default certificate names the component's domain too, as a host's would.
    a = await serve(A_ADDRESS, 'a.test', ['a.test', COMPONENT], `components:\n  ${COMPONENT}: { secret: "${SECRET}" }\n`);
    const b = await serve(B_ADDRESS, 'b.test', ['b.test'], '');
    await b.addUser('bob', 'b.test', 'secret');
    ({ client: bob } = await login({ ...b, port: b.port, certificateFile: () => caFile }, { username: 'bob', password: 'secret', domain: 'b.test', resource: 'r' }));
    closers.push(() => bob.close());
    component = await startSlixmppComponent(a.server.listening.component[0]!.port, COMPONENT, SECRET);
    closers.push(() => component.stop());
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('a remote user sends to the component and gets its answer', async () => {
    bob.send(`<message to='bot@${COMPONENT}' type='chat' id='m1'><body>hello across</body></message>`);
    const received = await component.waitEvent((event) => event.event === 'message' && event.body === 'hello across', 15_000);
    assert.equal(received.from, 'bob@b.test/r');
    assert.match(await bob.waitFor('echo: hello across', 15_000), new RegExp(`from=["']bot@${COMPONENT.replace(/\./g, '\\.')}["']`));
    // The answer leaves a.test under the component's domain: on a connection of its own, or back
    // over b.test's bidirectional one (XEP-0288).
    const out = a.server.s2s.connections().find((row) => row.domains.includes(`${COMPONENT} -> b.test`) || (row.direction === 'out' && row.domains.some((pair) => pair.startsWith(COMPONENT))));
    assert.ok(out, JSON.stringify(a.server.s2s.connections()));
  });
});
