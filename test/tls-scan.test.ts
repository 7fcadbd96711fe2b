/**
 * testssl.sh (Debian's package) scans the four TLS listeners of a started server: client
 * STARTTLS, client direct TLS, server STARTTLS and server direct TLS (XEP-0368). No finding may
 * be HIGH or CRITICAL or say VULNERABLE / NOT ok, apart from the ones the self-signed test
 * certificate causes; client-initiated renegotiation and CBC suites must be absent.
 *
 * The scans are limited to what the TLS settings decide (protocols, cipher categories and
 * order, renegotiation, CBC, the classic protocol attacks) and run in parallel; the
 * certificate checks run on the client STARTTLS port only, the certificate being the same on
 * every port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as tcpConnect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/server.ts';

const TESTSSL = '/usr/bin/testssl';

/** What every scan checks; each is a check the TLS settings decide. */
const CHECKS = [
  '--protocols', // SSLv2 to TLS 1.3
  '--std', // cipher categories: NULL, anonymous, export, LOW, 3DES, CBC ("AVERAGE"), AEAD ("STRONG")
  '--server-preference', // cipher order, and the TLS 1.2 and 1.3 suites in the server's order
  '--renegotiation', // secure renegotiation (RFC 5746) and client-initiated renegotiation
  '--lucky13', // CBC suites on any protocol
  '--beast',
  '--sweet32',
  '--freak',
  '--logjam',
  '--rc4',
  '--heartbleed',
  '--ccs-injection',
];

/**
 * Findings only the self-signed test certificate causes, each an error in a real deployment's
 * certificate rather than in the TLS settings (they come from --server-defaults):
 */
const CERTIFICATE_FINDINGS: Record<string, string> = {
  // signed by itself, so no chain to a trusted root
  cert_chain_of_trust: 'self-signed',
  // generated for ten years; public CAs issue for at most 398 days
  cert_validityPeriod: 'generated with a long validity',
  // a self-signed certificate names no CRL distribution point and no OCSP responder
  cert_revocation: 'no CRL or OCSP URI',
  // no DNS CAA record for localhost
  DNS_CAArecord: 'no CAA record',
};

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

interface Target {
  name: string;
  port: number;
  /** extra testssl arguments before the URI */
  args: string[];
  /** the certificate checks too */
  serverDefaults?: boolean;
}

/**
 * testssl.sh 3.0 (Debian 12) does STARTTLS for client streams only. For the server port this
 * relay opens a server stream to Trellis for each connection testssl makes, asks for STARTTLS
 * (RFC 6120 section 5.4.2) and after <proceed/> passes bytes both ways unchanged, so the TLS
 * handshake testssl sees is the one of the server STARTTLS listener (S2sIncoming).
 */
async function s2sStartTlsRelay(s2sPort: number, domain: string): Promise<Server & { relayed: number }> {
  const relay = createServer((scanner) => {
    scanner.pause();
    const upstream = tcpConnect({ host: '127.0.0.1', port: s2sPort });
    const drop = (): void => {
      scanner.destroy();
      upstream.destroy();
    };
    scanner.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    let received = '';
    let asked = false;
    const negotiate = (chunk: Buffer): void => {
      received += chunk.toString('utf8');
      if (!asked && received.includes('</stream:features>')) {
        asked = true;
        upstream.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      } else if (asked && received.includes('<proceed')) {
        upstream.off('data', negotiate);
        relay.relayed += 1;
        scanner.pipe(upstream);
        upstream.pipe(scanner);
        scanner.resume();
      }
    };
    upstream.on('data', negotiate);
    upstream.write(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='scanner.example' to='${domain}' version='1.0'>`,
    );
  }) as Server & { relayed: number };
  relay.relayed = 0;
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return relay;
}

function scan(target: Target, dir: string): Promise<Finding[]> {
  const jsonFile = join(dir, `${target.name}.json`);
  const args = [
    ...['--quiet', '--color', '0', '--warnings', 'batch', '--sneaky', '--jsonfile', jsonFile],
    ...['--openssl-timeout', '10', '--ip', '127.0.0.1'],
    ...CHECKS,
    ...(target.serverDefaults ? ['--server-defaults'] : []),
    ...target.args,
    `localhost:${target.port}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(TESTSSL, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    // testssl's exit status counts findings; the JSON file says whether the scan ran.
    child.on('close', () => {
      readFile(jsonFile, 'utf8').then(
        (text) => resolve(JSON.parse(text) as Finding[]),
        () => reject(new Error(`testssl wrote no JSON for ${target.name}:\n${output}`)),
      );
    });
  });
}

/** "VULNERABLE", "potentially vulnerable", but not "not vulnerable". */
const saysVulnerable = (text: string): boolean => /vulnerable/i.test(text) && !/^not vulnerable/i.test(text);

const byId = (findings: Finding[], id: string): Finding => {
  const found = findings.find((finding) => finding.id === id);
  assert.ok(found, `no finding "${id}" in ${findings.map((finding) => finding.id).join(', ')}`);
  return found;
};

/** ECDHE key exchange with an AEAD cipher: what tls_settings.ciphers allows by default on TLS 1.2. */
const AEAD_ECDHE = /^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/;

describe('testssl.sh against every TLS listener', { timeout: 300_000 }, () => {
  let server: TestServer;
  let relay: Server & { relayed: number };
  let dir: string;
  const results = new Map<string, Finding[]>();
  let targets: Target[];
  let scanSeconds = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-testssl-'));
    server = await startTestServer(
      'listeners:\n' +
        '  c2s: { addresses: ["127.0.0.1"], port: 0 }\n' +
        '  c2s_direct_tls: { enabled: true, addresses: ["127.0.0.1"], port: 0 }\n' +
        '  s2s: { addresses: ["127.0.0.1"], port: 0 }\n' +
        '  s2s_direct_tls: { enabled: true, addresses: ["127.0.0.1"], port: 0 }\n',
    );
    const listening = server.server.listening;
    relay = await s2sStartTlsRelay(listening.s2s[0]!.port, 'localhost');
    targets = [
      { name: 'client STARTTLS', port: listening.c2s[0]!.port, args: ['--starttls', 'xmpp', '--xmpphost', 'localhost'], serverDefaults: true },
      { name: 'client direct TLS', port: listening.c2sDirectTls[0]!.port, args: [] },
      { name: 'server STARTTLS', port: (relay.address() as AddressInfo).port, args: [] },
      { name: 'server direct TLS', port: listening.s2sDirectTls[0]!.port, args: [] },
    ];
    const started = Date.now();
    const scans = await Promise.all(targets.map((target) => scan(target, dir)));
    targets.forEach((target, index) => results.set(target.name, scans[index]!));
    scanSeconds = Math.round((Date.now() - started) / 1000);
    // The four scans run at once and take about two minutes on two cores: the hook gets the
    // suite's bound, not the runner's per-test default (test/run.ts, --test-timeout).
  }, { timeout: 300_000 });

  after(async () => {
    relay?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const name of ['client STARTTLS', 'client direct TLS', 'server STARTTLS', 'server direct TLS']) {
    describe(name, () => {
      const findings = (): Finding[] => results.get(name)!;

      test('the scan ran: testssl reached TLS on the port', () => {
        assert.deepEqual(
          findings().filter((finding) => finding.id === 'scanProblem' || finding.severity === 'FATAL'),
          [],
        );
        assert.match(byId(findings(), 'TLS1_2').finding, /^offered/);
        if (name === 'server STARTTLS') assert.ok(relay.relayed > 0, 'the relay did STARTTLS with the server port');
      });

      test('no HIGH or CRITICAL finding and nothing VULNERABLE or NOT ok, but for the test certificate', () => {
        const bad = findings().filter(
          (finding) =>
            !Object.hasOwn(CERTIFICATE_FINDINGS, finding.id) &&
            (finding.severity === 'HIGH' || finding.severity === 'CRITICAL' || saysVulnerable(finding.finding) || /NOT ok/i.test(finding.finding)),
        );
        assert.deepEqual(bad, []);
      });

      test('TLS 1.2 and 1.3 only', () => {
        for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) assert.match(byId(findings(), id).finding, /^not offered/, id);
        assert.match(byId(findings(), 'TLS1_3').finding, /^offered/);
      });

      test('client-initiated renegotiation is refused', () => {
        const renegotiation = byId(findings(), 'secure_client_renego');
        assert.equal(renegotiation.severity, 'OK');
        assert.match(renegotiation.finding, /^not vulnerable/);
      });

      test('no CBC suite, and the server picks from AEAD ECDHE suites in its own order', () => {
        assert.match(byId(findings(), 'LUCKY13').finding, /^not vulnerable/);
        assert.match(byId(findings(), 'cipherlist_AVERAGE').finding, /^not offered/, 'the CBC category');
        assert.equal(byId(findings(), 'cipher_order').finding, 'server');
        const tls12 = byId(findings(), 'cipherorder_TLSv1_2').finding.split(' ').filter((suite) => suite !== '');
        assert.ok(tls12.length > 0);
        for (const suite of tls12) assert.match(suite, AEAD_ECDHE);
      });
    });
  }

  test('the certificate checks ran on the client STARTTLS port, and only the test certificate is blamed', (t) => {
    t.diagnostic(`the four scans took ${scanSeconds} s`);
    const findings = results.get('client STARTTLS')!;
    assert.equal(byId(findings, 'cert_trust').severity, 'OK', 'the certificate names localhost');
    for (const id of Object.keys(CERTIFICATE_FINDINGS)) byId(findings, id);
  });
});
