import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { loadTrustAnchors, MAX_PATH_LENGTH, trustAnchorsOnDemand, verifyCertificateChain } from './certificate-trust.ts';
import { EKU, KEY_USAGE, makeCertificate, type CertificateSpec, type TestCertificate } from '../../test/support/certs.ts';
import { createTestCa } from '../../test/support/lab/ca.ts';

const DAY_MS = 24 * 3600 * 1000;

describe('certificate chain trust', () => {
  let root: TestCertificate;
  let otherRoot: TestCertificate;
  let intermediate: TestCertificate;

  before(async () => {
    root = await makeCertificate({ commonName: 'Test Root', ca: true });
    otherRoot = await makeCertificate({ commonName: 'Other Root', ca: true });
    intermediate = await makeCertificate({ commonName: 'Test Intermediate', ca: true, issuer: root });
  });

  function leaf(spec: CertificateSpec = {}): Promise<TestCertificate> {
    return makeCertificate({ commonName: 'example.net', dnsIds: ['example.net'], eku: [EKU.serverAuth], issuer: root, ...spec });
  }

  async function verdict(chain: TestCertificate[], anchors: TestCertificate[] = [root], now?: Date) {
    return verifyCertificateChain(
      chain.map((certificate) => certificate.der),
      anchors.map((anchor) => anchor.node),
      now,
    );
  }

  async function assertUntrusted(chain: TestCertificate[], reason: RegExp, anchors?: TestCertificate[], now?: Date): Promise<void> {
    const result = await verdict(chain, anchors, now);
    assert.equal(result.trusted, false);
    assert.match((result as { reason: string }).reason, reason);
  }

  describe('the purpose of the leaf', () => {
    const ACCEPTED: Record<string, string[] | undefined> = {
      'serverAuth only': [EKU.serverAuth],
      'serverAuth and clientAuth': [EKU.serverAuth, EKU.clientAuth],
      'clientAuth only': [EKU.clientAuth],
      'anyExtendedKeyUsage': [EKU.any],
      'no extendedKeyUsage extension': undefined,
      'codeSigning and serverAuth': [EKU.codeSigning, EKU.serverAuth],
    };
    for (const [name, eku] of Object.entries(ACCEPTED)) {
      test(`${name} → trusted`, async () => {
        assert.deepEqual(await verdict([await leaf({ eku })]), { trusted: true });
      });
    }

    for (const eku of [[EKU.codeSigning], [EKU.emailProtection, EKU.codeSigning]]) {
      test(`${eku.length === 1 ? 'codeSigning only' : 'emailProtection and codeSigning'} → untrusted`, async () => {
        await assertUntrusted([await leaf({ eku })], /not for TLS servers or clients/);
      });
    }
  });

  describe('validity periods', () => {
    test('an expired leaf is untrusted', async () => {
      const expired = await leaf({ notBefore: new Date(Date.now() - 60 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
      await assertUntrusted([expired], /expired/);
    });

    test('a leaf not yet valid is untrusted', async () => {
      const future = await leaf({ notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 60 * DAY_MS) });
      await assertUntrusted([future], /not valid before/);
    });

    test('the check is made at the given time', async () => {
      const certificate = await leaf({ notAfter: new Date(Date.now() + 2 * DAY_MS) });
      assert.deepEqual(await verdict([certificate], [root], new Date()), { trusted: true });
      await assertUntrusted([certificate], /expired/, [root], new Date(Date.now() + 5 * DAY_MS));
    });

    test('an expired intermediate is untrusted', async () => {
      const old = await makeCertificate({ commonName: 'Old Intermediate', ca: true, issuer: root, notAfter: new Date(Date.now() - DAY_MS) });
      await assertUntrusted([await leaf({ issuer: old }), old], /expired/);
    });

    test('an expired anchor anchors nothing', async () => {
      const expiredRoot = await makeCertificate({ commonName: 'Expired Root', ca: true, notAfter: new Date(Date.now() - DAY_MS) });
      await assertUntrusted([await leaf({ issuer: expiredRoot })], /no trusted issuer/, [expiredRoot]);
    });
  });

  describe('issuers', () => {
    test('a leaf from a CA we do not trust is untrusted', async () => {
      await assertUntrusted([await leaf({ issuer: otherRoot })], /no trusted issuer/);
    });

    test('a leaf whose signature does not verify is untrusted', async () => {
      const impostor: TestCertificate = { ...root, keys: otherRoot.keys };
      await assertUntrusted([await leaf({ issuer: impostor })], /no trusted issuer/);
    });

    test('any of several anchors may be the one', async () => {
      assert.deepEqual(await verdict([await leaf({ issuer: otherRoot })], [root, otherRoot]), { trusted: true });
    });

    test('a chain through an intermediate is trusted', async () => {
      assert.deepEqual(await verdict([await leaf({ issuer: intermediate }), intermediate]), { trusted: true });
    });

    test('the intermediate may come after the root the peer also sent', async () => {
      assert.deepEqual(await verdict([await leaf({ issuer: intermediate }), root, intermediate]), { trusted: true });
    });

    test('without the intermediate the chain is untrusted', async () => {
      await assertUntrusted([await leaf({ issuer: intermediate })], /no trusted issuer/);
    });

    test('a root the peer sends is not trusted for being sent', async () => {
      await assertUntrusted([await leaf({ issuer: otherRoot }), otherRoot], /no trusted issuer/);
    });

    test('an intermediate that is not a CA is untrusted', async () => {
      const notCa = await makeCertificate({ commonName: 'Not a CA', ca: false, keyUsage: KEY_USAGE.keyCertSign, issuer: root });
      await assertUntrusted([await leaf({ issuer: notCa }), notCa], /is not a CA/);
    });

    test('an intermediate without basicConstraints is untrusted', async () => {
      const bare = await makeCertificate({ commonName: 'No Constraints', omitBasicConstraints: true, keyUsage: KEY_USAGE.keyCertSign, issuer: root });
      await assertUntrusted([await leaf({ issuer: bare }), bare], /is not a CA/);
    });

    test('an intermediate whose keyUsage lacks keyCertSign is untrusted', async () => {
      const noSign = await makeCertificate({ commonName: 'No keyCertSign', ca: true, keyUsage: KEY_USAGE.digitalSignature, issuer: root });
      const result = await verdict([await leaf({ issuer: noSign }), noSign]);
      assert.equal(result.trusted, false);
    });

    test('an intermediate without keyUsage is acceptable', async () => {
      const noKeyUsage = await makeCertificate({ commonName: 'No keyUsage', ca: true, keyUsage: null, issuer: root });
      assert.deepEqual(await verdict([await leaf({ issuer: noKeyUsage }), noKeyUsage]), { trusted: true });
    });

    test('an intermediate limited to other purposes is untrusted', async () => {
      const codeCa = await makeCertificate({ commonName: 'Code CA', ca: true, eku: [EKU.codeSigning], issuer: root });
      await assertUntrusted([await leaf({ issuer: codeCa }), codeCa], /not for TLS/);
    });

    test('pathLenConstraint 0 on the anchor forbids intermediates; 1 allows one', async () => {
      for (const [pathLength, trusted] of [[0, false], [1, true]] as const) {
        const limitedRoot = await makeCertificate({ commonName: `Root ${pathLength}`, ca: true, pathLength });
        const middle = await makeCertificate({ commonName: 'Middle', ca: true, issuer: limitedRoot });
        const result = await verdict([await leaf({ issuer: middle }), middle], [limitedRoot]);
        assert.equal(result.trusted, trusted, JSON.stringify(result));
      }
    });

    test('pathLenConstraint on an intermediate counts the intermediates below it', async () => {
      const upper = await makeCertificate({ commonName: 'Upper', ca: true, pathLength: 0, issuer: root });
      const lower = await makeCertificate({ commonName: 'Lower', ca: true, issuer: upper });
      await assertUntrusted([await leaf({ issuer: lower }), lower, upper], /at most 0 intermediate/);
    });

    test(`paths longer than ${MAX_PATH_LENGTH} certificates are refused`, async () => {
      const chain: TestCertificate[] = [];
      let issuer = root;
      for (let depth = 0; depth < MAX_PATH_LENGTH; depth++) {
        issuer = await makeCertificate({ commonName: `Level ${depth}`, ca: true, issuer });
        chain.unshift(issuer);
      }
      await assertUntrusted([await leaf({ issuer }), ...chain], /too long/);
      assert.deepEqual(await verdict([await leaf({ issuer: chain[2]! }), ...chain.slice(2)]), { trusted: true });
    });

    test('a certificate issued by the lab CA is trusted with that CA as anchor', async () => {
      const ca = await createTestCa();
      const issued = await ca.issue({ names: ['capulet.test'], eku: 'server' });
      const result = verifyCertificateChain([new X509Certificate(issued.certPem).raw], [new X509Certificate(ca.certPem)]);
      assert.deepEqual(result, { trusted: true });
    });
  });

  describe('self-signed and pinned certificates', () => {
    test('a self-signed leaf is untrusted', async () => {
      const selfSigned = await makeCertificate({ commonName: 'example.net', dnsIds: ['example.net'], eku: [EKU.serverAuth] });
      await assertUntrusted([selfSigned], /self-signed/);
    });

    test('a self-signed leaf configured as an anchor is trusted while it is valid', async () => {
      const pinned = await makeCertificate({ commonName: 'example.net', dnsIds: ['example.net'] });
      assert.deepEqual(await verdict([pinned], [root, pinned]), { trusted: true });
      await assertUntrusted([pinned], /expired/, [pinned], new Date(Date.now() + 365 * DAY_MS));
    });
  });

  describe('malformed input', () => {
    test('no certificate', () => {
      assert.deepEqual(verifyCertificateChain([], [root.node]), { trusted: false, reason: 'no certificate presented' });
    });

    test('bytes that are not a certificate', () => {
      const result = verifyCertificateChain([Buffer.from('garbage')], [root.node]);
      assert.equal(result.trusted, false);
      assert.match((result as { reason: string }).reason, /unreadable/);
    });

    test('an unknown critical extension makes the leaf untrusted; a non-critical one does not', async () => {
      const value = new Uint8Array([0x05, 0x00]);
      await assertUntrusted([await leaf({ extraExtension: { oid: '1.3.6.1.4.1.99999.1', critical: true, value } })], /unsupported critical/);
      assert.deepEqual(await verdict([await leaf({ extraExtension: { oid: '1.3.6.1.4.1.99999.1', critical: false, value } })]), { trusted: true });
    });
  });
});

describe('loading trust anchors', () => {
  let dir: string;
  let first: TestCertificate;
  let second: TestCertificate;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-anchors-'));
    first = await makeCertificate({ commonName: 'First CA', ca: true });
    second = await makeCertificate({ commonName: 'Second CA', ca: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a PEM bundle and a DER file, without the system roots', async () => {
    writeFileSync(join(dir, 'bundle.pem'), `# comment\n${first.pem}\n${second.pem}\n`);
    writeFileSync(join(dir, 'single.der'), first.der);
    const anchors = await loadTrustAnchors([join(dir, 'bundle.pem'), join(dir, 'single.der')], false);
    assert.deepEqual(
      anchors.map((anchor) => anchor.fingerprint256),
      [first.node.fingerprint256, second.node.fingerprint256, first.node.fingerprint256],
    );
  });

  test('the system roots are added when asked for', async () => {
    writeFileSync(join(dir, 'one.pem'), first.pem);
    const anchors = await loadTrustAnchors([join(dir, 'one.pem')], true);
    assert.equal(anchors.length, rootCertificates.length + 1);
  });

  test('a file without certificates, or with a broken one, is an error naming the file', async () => {
    writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await assert.rejects(loadTrustAnchors([join(dir, 'key.pem')], false), /key\.pem: no certificate found/);
    writeFileSync(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(loadTrustAnchors([join(dir, 'broken.pem')], false), /broken\.pem: not a certificate/);
    await assert.rejects(loadTrustAnchors([join(dir, 'missing.pem')], false), /ENOENT/);
  });

  test('on demand: the files are read at once, a bad one refused then; the roots come at the first call, always the same array', async () => {
    writeFileSync(join(dir, 'one.pem'), first.pem);
    await assert.rejects(trustAnchorsOnDemand([join(dir, 'broken.pem')], true), /broken\.pem: not a certificate/);
    const anchors = await trustAnchorsOnDemand([join(dir, 'one.pem')], true);
    rmSync(join(dir, 'one.pem'));
    const loaded = anchors();
    assert.equal(loaded.length, rootCertificates.length + 1);
    assert.equal(loaded.at(-1)!.fingerprint256, first.node.fingerprint256);
    assert.equal(anchors(), loaded);
    writeFileSync(join(dir, 'one.pem'), first.pem);
    const filesOnly = await trustAnchorsOnDemand([join(dir, 'one.pem')], false);
    assert.deepEqual(filesOnly().map((anchor) => anchor.fingerprint256), [first.node.fingerprint256]);
  });
});
