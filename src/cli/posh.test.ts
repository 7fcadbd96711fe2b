/** What `trellis posh` prints: fingerprints per domain, or one document and references to it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parsePoshDocument } from '../delegation/posh-document.ts';
import { poshDocuments } from './posh.ts';

const shared = Buffer.from('the hosting provider certificate');
const own = Buffer.from('a certificate of its own');
const sha256 = (der: Buffer) => createHash('sha256').update(der).digest('base64');

test('each domain gets its fingerprints document at its own well-known URL', () => {
  const documents = poshDocuments([{ domain: 'a.example', der: shared }, { domain: 'b.example', der: own }], 600);
  assert.deepEqual(documents.map((document) => document.url), ['https://a.example/.well-known/posh/xmpp-server.json', 'https://b.example/.well-known/posh/xmpp-server.json']);
  const parsed = parsePoshDocument(documents[1]!.body);
  assert.equal(parsed.kind === 'fingerprints' && parsed.fingerprints[0]!['sha-256'], sha256(own));
  assert.equal(parsed.expires, 600);
});

test('with a reference: one fingerprints document for the distinct certificates, a reference per domain', () => {
  const url = 'https://hosting.example/.well-known/posh/xmpp-server.json';
  const documents = poshDocuments([{ domain: 'a.example', der: shared }, { domain: 'b.example', der: shared }, { domain: 'c.example', der: own }], 60, url);
  assert.deepEqual(documents.map((document) => document.url), [url, ...['a', 'b', 'c'].map((name) => `https://${name}.example/.well-known/posh/xmpp-server.json`)]);
  const fingerprints = parsePoshDocument(documents[0]!.body);
  assert.deepEqual(fingerprints.kind === 'fingerprints' && fingerprints.fingerprints.map((entry) => entry['sha-256']), [sha256(shared), sha256(own)]);
  for (const reference of documents.slice(1)) assert.deepEqual(parsePoshDocument(reference.body), { kind: 'reference', url, expires: 60 });
});

test('a reference must be an https URL', () => {
  assert.throws(() => poshDocuments([{ domain: 'a.example', der: own }], 60, 'http://hosting.example/p.json'), /must be an https URL/);
  assert.throws(() => poshDocuments([{ domain: 'a.example', der: own }], 60, 'hosting.example'), /is not a URL/);
});
