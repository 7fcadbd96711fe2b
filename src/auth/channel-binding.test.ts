import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { generateSelfSigned } from '../net/self-signed.ts';
import { endPointHashOf, serverEndPointHash } from './channel-binding.ts';

test('tls-server-end-point uses the signature hash, SHA-256 for MD5 and SHA-1, none without one hash (RFC 5929 section 4.1)', () => {
  assert.equal(endPointHashOf('md5WithRSAEncryption'), 'sha256');
  assert.equal(endPointHashOf('sha1WithRSAEncryption'), 'sha256');
  assert.equal(endPointHashOf('ecdsa-with-SHA1'), 'sha256');
  assert.equal(endPointHashOf('sha256WithRSAEncryption'), 'sha256');
  assert.equal(endPointHashOf('ecdsa-with-SHA384'), 'sha384');
  assert.equal(endPointHashOf('sha512WithRSAEncryption'), 'sha512');
  assert.equal(endPointHashOf('ED25519'), undefined);
  assert.equal(endPointHashOf('RSASSA-PSS'), undefined);
});

test('the hash of a generated certificate is taken over its DER bytes', async () => {
  const { certificatePem } = await generateSelfSigned('localhost');
  const certificate = new X509Certificate(certificatePem);
  const hash = endPointHashOf(certificate.signatureAlgorithm ?? '');
  assert.ok(hash, certificate.signatureAlgorithm);
  assert.deepEqual(serverEndPointHash(certificate.raw), createHash(hash).update(certificate.raw).digest());
});
