import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../config/load.ts';
import { memoryLogger } from '../util/log.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { UploadFileStore } from './file-store.ts';
import { UploadService } from './service.ts';

describe('upload slots', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'trellis-upload-'));
  after(() => rm(directory, { recursive: true, force: true }));
  const { logger } = memoryLogger();
  const store = new UploadFileStore(directory, logger);
  const base = defaultConfig('/srv/trellis').upload;
  const service = (settings = {}) =>
    new UploadService({ domain: 'upload.example.com', parent: 'example.com', settings: { ...base, ...settings }, store, secret: randomBytes(32), baseUrl: () => 'https://example.com:5443', logger });

  test('the PUT URL is signed and the GET URL is the file\'s, on this server or under external_url', () => {
    const slot = service().requestSlot({ owner: 'alice@example.com', filename: 'a b.txt', size: 10, type: 'text/plain' });
    assert.match(slot.put, /^https:\/\/example\.com:5443\/upload\/upload\.example\.com\/[\w-]{24}\/a%20b\.txt\?e=\d+&u=alice%40example\.com&t=text%2Fplain&s=[\w-]{43}$/);
    assert.equal(slot.get, slot.put.split('?')[0]);
    const external = service({ external_url: 'https://files.example.com' }).requestSlot({ owner: 'alice@example.com', filename: 'a.txt', size: 10, type: '' });
    assert.match(external.get, /^https:\/\/files\.example\.com\/upload\.example\.com\/[\w-]{24}\/a\.txt$/);
  });

  test('a size that is no positive number or a type that is no MIME type is a bad request', () => {
    for (const request of [{ size: 0, type: '' }, { size: Number.NaN, type: '' }, { size: 1.5, type: '' }, { size: 5, type: 'text' }, { size: 5, type: 'a/b c' }]) {
      assert.throws(() => service().requestSlot({ owner: 'a@example.com', filename: 'x', ...request }), (error: unknown) => error instanceof StanzaError && error.condition === 'bad-request', JSON.stringify(request));
    }
  });

  test('file-too-large carries the largest size; quota 0 means no quota', () => {
    assert.throws(
      () => service({ max_file_size: 100 }).requestSlot({ owner: 'a@example.com', filename: 'x', size: 101, type: '' }),
      (error: unknown) => error instanceof StanzaError && error.condition === 'not-acceptable' && error.appCondition?.getChildText('max-file-size', 'urn:xmpp:http:upload:0') === '100',
    );
    assert.ok(service({ quota: 0, max_file_size: 1e12 }).requestSlot({ owner: 'a@example.com', filename: 'x', size: 1e11, type: '' }).put);
  });
});
