/** POSH documents (RFC 7711 section 3): parsing, the rules on url/fingerprints/expires, and matching. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fingerprintsDocument, parsePoshDocument, poshFingerprint, poshMatches, poshUrl, referenceDocument } from './posh-document.ts';

const der = Buffer.from('a certificate, as far as hashing is concerned');
const sha256 = createHash('sha256').update(der).digest('base64');
const sha512 = createHash('sha512').update(der).digest('base64');

describe('POSH documents', () => {
  test('the well-known URL of a domain', () => {
    assert.equal(poshUrl('Example.COM.'), 'https://example.com/.well-known/posh/xmpp-server.json');
    assert.equal(poshUrl('example.com', 'xmpp-client'), 'https://example.com/.well-known/posh/xmpp-client.json');
  });

  test('a fingerprints document', () => {
    assert.deepEqual(parsePoshDocument(JSON.stringify({ fingerprints: [{ 'sha-256': sha256 }, { 'SHA-512': sha512, 'sha-1': 'AAAA' }], expires: 604800 })), {
      kind: 'fingerprints',
      fingerprints: [{ 'sha-256': sha256 }, { 'sha-512': sha512, 'sha-1': 'AAAA' }],
      expires: 604800,
    });
  });

  test('a reference document', () => {
    assert.deepEqual(parsePoshDocument('{"url":"https://hosting.example.net/.well-known/posh/xmpp-server.json","expires":86400}'), {
      kind: 'reference',
      url: 'https://hosting.example.net/.well-known/posh/xmpp-server.json',
      expires: 86400,
    });
  });

  test('without expires the document is valid and says nothing about caching', () => {
    assert.equal(parsePoshDocument(JSON.stringify({ fingerprints: [{ 'sha-256': sha256 }] })).expires, undefined);
  });

  const invalid: [string, unknown, RegExp][] = [
    ['expires 0 marks the document invalid', { fingerprints: [{ 'sha-256': sha256 }], expires: 0 }, /"expires" is 0/],
    ['a negative expires', { fingerprints: [{ 'sha-256': sha256 }], expires: -1 }, /non-negative integer/],
    ['a fractional expires', { fingerprints: [{ 'sha-256': sha256 }], expires: 1.5 }, /non-negative integer/],
    ['expires as a string', { url: 'https://a.example/x.json', expires: '60' }, /non-negative integer/],
    ['a reference with expires 0', { url: 'https://a.example/x.json', expires: 0 }, /"expires" is 0/],
    ['url and fingerprints together', { url: 'https://a.example/x.json', fingerprints: [{ 'sha-256': sha256 }] }, /both "url" and "fingerprints"/],
    ['an http reference', { url: 'http://a.example/x.json' }, /not an https URL/],
    ['a url that is not one', { url: 'not a url' }, /not a URL/],
    ['no fingerprints', { expires: 60 }, /missing or empty/],
    ['an empty fingerprints list', { fingerprints: [] }, /missing or empty/],
    ['a fingerprint that is not an object', { fingerprints: ['abc'] }, /not an object/],
    ['an empty fingerprint object', { fingerprints: [{}] }, /is empty/],
    ['a digest that is not base64', { fingerprints: [{ 'sha-256': 'not base64!' }] }, /not base64/],
    ['an array', [{ 'sha-256': sha256 }], /not a JSON object/],
  ];
  for (const [what, document, reason] of invalid) {
    test(`refused: ${what}`, () => assert.throws(() => parsePoshDocument(JSON.stringify(document)), reason));
  }

  test('refused: not JSON', () => assert.throws(() => parsePoshDocument('{"fingerprints":'), /not JSON/));

  test('a certificate matches by sha-256 or sha-512 over its DER; unknown hashes never match', () => {
    assert.deepEqual(poshFingerprint(der), { 'sha-256': sha256, 'sha-512': sha512 });
    assert.ok(poshMatches([{ 'sha-256': sha256 }], der));
    assert.ok(poshMatches([{ 'sha-512': sha512 }], der));
    assert.ok(poshMatches([{ 'sha-256': 'AAAA' }, { 'sha-512': sha512 }], der));
    assert.ok(poshMatches([{ 'sha-256': sha256.replace(/=+$/, '') }], der), 'padding does not matter');
    assert.ok(!poshMatches([{ 'sha-256': createHash('sha256').update('other').digest('base64') }], der));
    assert.ok(!poshMatches([{ 'sha-1': createHash('sha1').update(der).digest('base64') }], der));
  });

  test('the documents trellis posh prints parse back', () => {
    const printed = parsePoshDocument(fingerprintsDocument([der], 3600));
    assert.deepEqual(printed, { kind: 'fingerprints', fingerprints: [{ 'sha-256': sha256, 'sha-512': sha512 }], expires: 3600 });
    assert.deepEqual(parsePoshDocument(referenceDocument('https://h.example/p.json', 60)), { kind: 'reference', url: 'https://h.example/p.json', expires: 60 });
  });
});
