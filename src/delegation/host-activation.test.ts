/** Host activation's signatures: the bytes signed, one algorithm per key type, and what a verifier refuses. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { createTestCa, type CertificateAndKey, type TestCa } from '../../test/support/lab/ca.ts';
import {
  algorithmFor,
  checkDomainChain,
  checkSignature,
  decodeBase64,
  decodeChain,
  domainCredentials,
  encodeChain,
  freshNonce,
  signedBytes,
  signFields,
  SIGNATURE_CONTEXT,
  type DomainCredentials,
  type SignedFields,
} from './host-activation.ts';

const credentialsOf = (issued: CertificateAndKey): DomainCredentials => {
  const credentials = domainCredentials({ cert: Buffer.from(issued.certPem), key: Buffer.from(issued.keyPem) });
  assert.ok(!(credentials instanceof Error), String(credentials));
  return credentials;
};

describe('host activation signatures', () => {
  let ca: TestCa;
  let anchors: X509Certificate[];
  let sender: DomainCredentials;
  let target: DomainCredentials;
  let rsaSender: DomainCredentials;
  let fields: SignedFields;

  before(async () => {
    ca = await createTestCa();
    anchors = [new X509Certificate(ca.certPem)];
    sender = credentialsOf(await ca.issue({ names: ['a.example'] }));
    target = credentialsOf(await ca.issue({ names: ['b.example'] }));
    rsaSender = credentialsOf(await ca.issue({ names: ['a.example'], key: 'rsa' }));
    fields = { purpose: 'proof', channelBinding: Buffer.alloc(32, 7), received: freshNonce(), sent: freshNonce(), signer: 'a.example', other: 'b.example', otherCertificate: target.chain[0]!.raw };
  });

  test('the bytes signed are the documented layout, field by field', () => {
    const bytes = signedBytes(fields);
    const context = Buffer.from(SIGNATURE_CONTEXT, 'ascii');
    assert.ok(context.length > 68, 'longer than a TLS 1.2 ServerKeyExchange prefix');
    let at = 0;
    const take = (length: number) => bytes.subarray(at, (at += length));
    assert.deepEqual(take(context.length), context);
    assert.deepEqual(take(7), Buffer.from('\0proof\0', 'ascii'));
    assert.deepEqual(take(32), fields.channelBinding);
    for (const field of [fields.received, fields.sent, Buffer.from('a.example'), Buffer.from('b.example')]) {
      assert.equal(take(2).readUInt16BE(), field.length);
      assert.deepEqual(take(field.length), field);
    }
    assert.deepEqual(take(32), createHash('sha256').update(target.chain[0]!.raw).digest());
    assert.equal(at, bytes.length);
  });

  test('an ECDSA P-256 and an RSA key sign with their algorithm, and the signature verifies', async () => {
    assert.equal(sender.algorithm, 'ecdsa-p256-sha256');
    assert.equal(rsaSender.algorithm, 'rsa-pss-sha256');
    for (const credentials of [sender, rsaSender]) {
      const signature = await signFields(credentials, fields);
      assert.deepEqual(await checkSignature(credentials.chain[0]!, credentials.algorithm, signature, fields), { valid: true });
    }
  });

  test('Ed25519 keys sign with pure Ed25519', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    assert.equal(algorithmFor(privateKey), 'ed25519');
    assert.equal(algorithmFor(publicKey), 'ed25519');
    assert.equal(algorithmFor(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey), 'ecdsa-p384-sha384');
    assert.equal(algorithmFor(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey), undefined, 'RSA under 2048 bits');
  });

  test('a signature over other fields, another connection, or by another key does not verify', async () => {
    const signature = await signFields(sender, fields);
    const leaf = sender.chain[0]!;
    const refused = async (changed: Partial<SignedFields>) => (await checkSignature(leaf, 'ecdsa-p256-sha256', signature, { ...fields, ...changed })).valid;
    assert.equal(await refused({ channelBinding: Buffer.alloc(32, 8) }), false, 'replayed on another connection');
    assert.equal(await refused({ received: freshNonce() }), false, 'another challenge');
    assert.equal(await refused({ purpose: 'answer' }), false, 'a proof reflected as an answer');
    assert.equal(await refused({ other: 'c.example' }), false, 'another target');
    assert.equal(await refused({ otherCertificate: sender.chain[0]!.raw }), false, "bound to another certificate");
    const wrongKey = await checkSignature(target.chain[0]!, 'ecdsa-p256-sha256', signature, fields);
    assert.deepEqual(wrongKey, { valid: false, reason: 'the signature of a.example does not verify' });
    const garbage = await checkSignature(leaf, 'ecdsa-p256-sha256', Buffer.from('not a signature'), fields);
    assert.equal(garbage.valid, false);
  });

  test('the algorithm must be the one for the certificate key', async () => {
    const signature = await signFields(rsaSender, fields);
    const check = await checkSignature(rsaSender.chain[0]!, 'ecdsa-p256-sha256', signature, fields);
    assert.deepEqual(check, { valid: false, reason: 'signature algorithm ecdsa-p256-sha256 does not fit the certificate\'s key (rsa-pss-sha256)' });
  });

  test('a domain chain must be trusted and name the domain', async () => {
    assert.deepEqual(checkDomainChain(sender.chain, 'a.example', anchors), { valid: true });
    assert.deepEqual(checkDomainChain(sender.chain, 'b.example', anchors), { valid: false, reason: 'the certificate does not name b.example' });
    const other = new X509Certificate((await createTestCa('Other CA')).certPem);
    assert.equal(checkDomainChain(sender.chain, 'a.example', [other]).valid, false);
  });

  test('credentials whose key is not the certificate\'s are refused once loaded', async () => {
    const a = await ca.issue({ names: ['a.example'] });
    const b = await ca.issue({ names: ['b.example'] });
    const mixed = domainCredentials({ cert: Buffer.from(a.certPem), key: Buffer.from(b.keyPem) });
    assert.ok(mixed instanceof Error);
    assert.match(mixed.message, /does not belong/);
  });

  test('chains travel as base64 DER; bad, too many or too large certificates are refused', () => {
    const encoded = encodeChain(sender.chain);
    const decoded = decodeChain(encoded);
    assert.ok(!(decoded instanceof Error));
    assert.deepEqual(decoded.map((certificate) => certificate.fingerprint256), sender.chain.map((certificate) => certificate.fingerprint256));
    assert.ok(decodeChain([]) instanceof Error);
    assert.ok(decodeChain(Array(9).fill(encoded[0]!)) instanceof Error);
    assert.ok(decodeChain(['AAAA']) instanceof Error);
    assert.ok(decodeChain(['not base64!']) instanceof Error);
    assert.ok(decodeChain([Buffer.alloc(17 * 1024).toString('base64')]) instanceof Error);
    assert.deepEqual(decodeBase64('YWJj'), Buffer.from('abc'));
    assert.deepEqual(decodeBase64(' YW Jj\n'), Buffer.from('abc'));
    assert.equal(decodeBase64('YWJ'), undefined);
  });
});
