/**
 * `trellis check certs` and `trellis check config` on certificate files an operator gets wrong:
 * a missing intermediate, swapped files, a certificate for another domain, a key of another
 * certificate, one about to expire or expired, one without clientAuth or without the service
 * subdomain; and a good one, which passes with exit code 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EKU, makeCertificate, type TestCertificate } from './support/certs.ts';
import { trellis } from './support/trellis-cli.ts';

const DAY_MS = 86_400_000;

async function keyPem(certificate: TestCertificate): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', certificate.keys.privateKey as unknown as webcrypto.CryptoKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
}

describe('trellis check certs and check config', () => {
  let dir: string;
  /** YAML for one host whose files hold `certPem` and `keyText` */
  let hostYaml: (domain: string, certPem: string, keyText: string) => Promise<string>;
  let common: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-cli-check-'));
    hostYaml = async (domain, certPem, keyText) => {
      await writeFile(join(dir, `${domain}.crt`), certPem);
      await writeFile(join(dir, `${domain}.key`), keyText, { mode: 0o600 });
      return `  ${domain}: { tls: { certificate: ${join(dir, `${domain}.crt`)}, key: ${join(dir, `${domain}.key`)} } }\n`;
    };
    const root = await makeCertificate({ commonName: 'Check Root', ca: true });
    await writeFile(join(dir, 'root.pem'), root.pem);
    common = `data_dir: ${join(dir, 'data')}\nhttp: { enabled: false }\ns2s: { ca_files: [${join(dir, 'root.pem')}], use_system_ca: false }\n`;
    const intermediate = await makeCertificate({ commonName: 'Check Intermediate', ca: true, issuer: root });
    const leaf = (domain: string, extra: Parameters<typeof makeCertificate>[0] = {}) =>
      makeCertificate({ commonName: domain, dnsIds: [domain, `conference.${domain}`, `pubsub.${domain}`], eku: [EKU.serverAuth, EKU.clientAuth], issuer: intermediate, ...extra });
    const good = await leaf('good.test');
    await writeFile(join(dir, 'good.yaml'), `${common}hosts:\n${await hostYaml('good.test', good.pem + intermediate.pem, await keyPem(good))}`);

    const noChain = await leaf('nochain.test');
    const swapped = await leaf('swapped.test');
    const other = await leaf('elsewhere.test');
    const mismatch = await leaf('mismatch.test');
    const soon = await leaf('soon.test', { notAfter: new Date(Date.now() + 5 * DAY_MS + 3_600_000) });
    const expired = await leaf('expired.test', { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
    const serverOnly = await leaf('serveronly.test', { dnsIds: ['serveronly.test'], eku: [EKU.serverAuth] });
    const hosts = [
      await hostYaml('nochain.test', noChain.pem, await keyPem(noChain)),
      await hostYaml('swapped.test', await keyPem(swapped), swapped.pem + intermediate.pem),
      await hostYaml('other.test', other.pem + intermediate.pem, await keyPem(other)),
      await hostYaml('mismatch.test', mismatch.pem + intermediate.pem, await keyPem(good)),
      await hostYaml('soon.test', soon.pem + intermediate.pem, await keyPem(soon)),
      await hostYaml('expired.test', expired.pem + intermediate.pem, await keyPem(expired)),
      await hostYaml('serveronly.test', serverOnly.pem + intermediate.pem, await keyPem(serverOnly)),
    ];
    await writeFile(join(dir, 'bad.yaml'), `${common}hosts:\n${hosts.join('')}`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a good certificate with its chain passes every check', async () => {
    const run = await trellis(['check', 'certs', '--config', join(dir, 'good.yaml')]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /ok\s+good\.test\s+the certificate names good\.test/);
    assert.match(run.stdout, /ok\s+good\.test\s+the certificate names the muc service conference\.good\.test/);
    assert.match(run.stdout, /ok\s+good\.test\s+the chain leads to a trusted CA/);
    assert.match(run.stdout, /ok\s+good\.test\s+valid until .* \(2\d days\)/);
    assert.match(run.stdout, /ok\s+good\.test\s+extended key usage: serverAuth and clientAuth/);
    assert.match(run.stdout, /0 errors, 0 warnings\n$/);
    const config = await trellis(['check', 'config', '--config', join(dir, 'good.yaml')]);
    assert.deepEqual([config.code, config.stdout], [0, `${join(dir, 'good.yaml')}: configuration is valid (1 host: good.test)\n`]);
  });

  test('each fault is an error or a warning that names the configuration key; the exit code is 1', async () => {
    const run = await trellis(['check', 'certs', '--config', join(dir, 'bad.yaml')]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const expected = [
      /error\s+nochain\.test\s+hosts\["nochain\.test"\]\.tls\.certificate: the chain in .*nochain\.test\.crt does not lead to a trusted CA .*put the intermediate certificates after the certificate/,
      /error\s+swapped\.test\s+hosts\["swapped\.test"\]\.tls: certificate and key are swapped/,
      /error\s+other\.test\s+hosts\["other\.test"\]\.tls\.certificate: .*other\.test\.crt is a certificate for elsewhere\.test, conference\.elsewhere\.test, pubsub\.elsewhere\.test, not for other\.test/,
      /error\s+mismatch\.test\s+hosts\["mismatch\.test"\]\.tls\.key: .*mismatch\.test\.key is not the key of the certificate/,
      /warning\s+soon\.test\s+hosts\["soon\.test"\]\.tls\.certificate expires in 5 days .*renew it, then run trellis reload/,
      /error\s+expired\.test\s+hosts\["expired\.test"\]\.tls\.certificate expired on/,
      /warning\s+serveronly\.test\s+hosts\["serveronly\.test"\]\.tls\.certificate allows serverAuth but not clientAuth/,
      /warning\s+serveronly\.test\s+hosts\["serveronly\.test"\]\.tls\.certificate does not name the muc service conference\.serveronly\.test/,
      /warning\s+serveronly\.test\s+hosts\["serveronly\.test"\]\.tls\.certificate does not name the pubsub service pubsub\.serveronly\.test/,
    ];
    for (const pattern of expected) assert.match(run.stdout, pattern);
    assert.match(run.stdout, /6 errors, 4 warnings\n$/);
  });

  test('check config reports the certificate errors too, and exits 1', async () => {
    const run = await trellis(['check', 'config', '--config', join(dir, 'bad.yaml')]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /configuration is valid \(7 hosts/);
    assert.match(run.stdout, /error\s+swapped\.test\s+hosts\["swapped\.test"\]\.tls: certificate and key are swapped/);
    assert.doesNotMatch(run.stdout, /^ok/m, 'only problems are listed');
  });

  test('an unknown part is a usage error', async () => {
    const run = await trellis(['check', 'dnss', '--config', join(dir, 'good.yaml')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown check "dnss"; use: trellis check \[config\|certs\|dns\]/);
  });
});
