import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestCa, writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { TlsContextStore } from './tls-contexts.ts';
import { defaultConfig } from '../config/load.ts';

describe('certificates by name', () => {
  let dir = '';
  let store: TlsContextStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-tls-contexts-'));
    const ca = await createTestCa();
    store = new TlsContextStore(defaultConfig(dir).tls_settings);
    // The first one added is the fallback; the edge's certificate also names a domain it fronts.
    store.add('first.example', certificateFiles(dir, 'first.example', await ca.issue({ names: ['first.example'] })));
    store.add('edge.example', certificateFiles(dir, 'edge.example', await ca.issue({ names: ['edge.example', 'inside.example', '*.rooms.example'] })));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a name without a certificate of its own gets a loaded certificate that names it, else the fallback", () => {
    const edge = store.contextFor('edge.example');
    const fallback = store.contextFor('first.example');
    assert.notEqual(edge, fallback);
    assert.equal(store.contextFor('Inside.Example.'), edge);
    assert.equal(store.contextFor('chat.rooms.example'), edge);
    assert.equal(store.contextFor('elsewhere.example'), fallback);
    assert.equal(store.contextFor('inside.example', true), store.contextFor('edge.example', true));
  });

  test('covers: a certificate of its own, or one that names the domain', () => {
    assert.ok(store.covers('first.example'));
    assert.ok(store.covers('inside.example'));
    assert.ok(!store.covers('elsewhere.example'));
    assert.ok(!store.covers('rooms.example'));
  });

  test('a certificate forgotten no longer covers the names it had', () => {
    store.delete('edge.example');
    assert.ok(!store.covers('inside.example'));
    assert.equal(store.contextFor('inside.example'), store.contextFor('first.example'));
  });
});

function certificateFiles(dir: string, domain: string, pair: { certPem: string; keyPem: string }): { certificate: string; key: string } {
  const { certFile, keyFile } = writeCertificateFiles(dir, domain, pair);
  return { certificate: certFile, key: keyFile };
}
