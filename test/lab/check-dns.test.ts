/**
 * `trellis check dns` against real DNS in the lab namespace (nsd behind a validating unbound):
 * a domain with every SRV record in a signed zone, one with addresses only, one whose SRV
 * record says "no service", one with nothing at all, and one in a zone with broken signatures.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LAB_RESOLVER_ADDRESS, startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { trellis } from '../support/trellis-cli.ts';

const GOOD = 'good.sec.test';
const TARGET = 'xmpp.sec.test';

function configText(dir: string, hosts: string[]): string {
  return `data_dir: ${join(dir, 'data')}
dns: { servers: ["${LAB_RESOLVER_ADDRESS}"] }
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s_direct_tls: { enabled: true, port: 5223 }
  s2s_direct_tls: { enabled: true, port: 5270 }
s2s: { delegation: { resolvers: ["${LAB_RESOLVER_ADDRESS}"] } }
hosts:
${hosts.map((host) => `  ${host}: {}\n`).join('')}`;
}

describe('trellis check dns with real DNS (nsd, validating unbound)', () => {
  let dns: LabDns | undefined;
  let dir: string;

  before(async () => {
    assertInsideLab();
    dir = await mkdtemp(join(tmpdir(), 'trellis-check-dns-'));
    dns = await startLabDns([
      {
        name: 'test',
        records: [
          { name: 'bare.test', type: 'A', address: '127.0.6.11' },
          { name: '_xmpp-server._tcp.noservice.test', type: 'SRV', port: 0, target: '.' },
        ],
      },
      {
        name: 'sec.test',
        signed: true,
        records: [
          { name: `_xmpp-client._tcp.${GOOD}`, type: 'SRV', port: 5222, target: TARGET },
          { name: `_xmpps-client._tcp.${GOOD}`, type: 'SRV', port: 5223, target: TARGET },
          { name: `_xmpp-server._tcp.${GOOD}`, type: 'SRV', port: 5269, target: TARGET },
          { name: `_xmpps-server._tcp.${GOOD}`, type: 'SRV', port: 443, target: TARGET },
          { name: TARGET, type: 'A', address: '127.0.6.10' },
        ],
      },
      { name: 'broken.test', signed: true, brokenSignatures: true, records: [{ name: '_xmpp-server._tcp.broken.test', type: 'SRV', port: 5269, target: TARGET }] },
    ]);
    await writeFile(join(dir, 'good.yaml'), configText(dir, [GOOD]));
    await writeFile(join(dir, 'all.yaml'), configText(dir, [GOOD, 'bare.test', 'noservice.test', 'missing.test', 'broken.test']));
  });

  after(async () => {
    await dns?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a domain with signed SRV records for clients and servers passes; a port other than the listener\'s is a warning', async () => {
    const run = await trellis(['check', 'dns', '--config', join(dir, 'good.yaml')]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const expected = [
      /ok\s+good\.sec\.test\s+SRV _xmpp-client\._tcp\.good\.sec\.test: xmpp\.sec\.test:5222/,
      /ok\s+good\.sec\.test\s+SRV _xmpps-client\._tcp\.good\.sec\.test: xmpp\.sec\.test:5223/,
      /ok\s+good\.sec\.test\s+SRV: xmpp\.sec\.test:5269 STARTTLS at 127\.0\.6\.10/,
      /ok\s+good\.sec\.test\s+SRV: xmpp\.sec\.test:443 direct TLS at 127\.0\.6\.10/,
      /warning\s+good\.sec\.test\s+SRV _xmpps-server\._tcp\.good\.sec\.test names port 443, but listeners\.s2s_direct_tls\.port is 5270/,
      /ok\s+good\.sec\.test\s+DNSSEC: _xmpp-server\._tcp\.good\.sec\.test is secure \(signed and validated\)/,
      /ok\s+good\.sec\.test\s+A remote server will connect to xmpp\.sec\.test:(5269|443) \(127\.0\.6\.10\) with (STARTTLS|direct TLS), expect a certificate for good\.sec\.test/,
    ];
    for (const pattern of expected) assert.match(run.stdout, pattern);
    assert.match(run.stdout, /0 errors, 1 warning\n$/);
  });

  it('addresses only, "no service", nothing, and bogus signatures: what clients and servers will do, with exit code 1', async () => {
    const run = await trellis(['check', 'dns', '--config', join(dir, 'all.yaml')]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const expected = [
      /warning\s+bare\.test\s+no client SRV records .*clients try bare\.test:5222 at 127\.0\.6\.11/,
      /ok\s+bare\.test\s+no server SRV records; A\/AAAA of the domain: bare\.test:5269 STARTTLS at 127\.0\.6\.11/,
      /ok\s+bare\.test\s+DNSSEC: _xmpp-server\._tcp\.bare\.test is absent/,
      /error\s+noservice\.test\s+remote servers cannot reach noservice\.test: its SRV record says the service is not available/,
      /ok\s+noservice\.test\s+A remote server will bounce stanzas to noservice\.test with remote-server-not-found/,
      /error\s+missing\.test\s+no client SRV records and no A\/AAAA records for missing\.test: clients cannot find the server/,
      /error\s+missing\.test\s+remote servers cannot reach missing\.test: it has no server SRV records and no A\/AAAA records/,
      /error\s+broken\.test\s+DNSSEC: _xmpp-server\._tcp\.broken\.test is bogus/,
    ];
    for (const pattern of expected) assert.match(run.stdout, pattern);
  });
});
