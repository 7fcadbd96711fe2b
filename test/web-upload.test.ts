/**
 * HTTP File Upload (XEP-0363) with slixmpp's xep_0363 plugin: discovery through the host's
 * disco#items and the service's max-file-size form, a slot, the PUT and a GET of the file with
 * safe headers; then what is refused: a tampered or forged PUT URL, a file too large, a user over
 * quota, a second PUT of a slot, and a file past its expiry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientDriver } from './support/client-driver.ts';
import { httpCall, httpGetUrl, startWebTestServer, type HttpAnswer } from './support/https.ts';
import type { TestServer } from './support/server.ts';
import { startSlixmppUpload } from './support/slixmpp.ts';

const PASSWORD = 'correct horse';
const MAX = 4096;
const QUOTA = 6000;

describe('HTTP File Upload (XEP-0363)', () => {
  let server: TestServer;
  let ca: Buffer;
  const clients: ClientDriver[] = [];

  before(async () => {
    ({ server, ca } = await startWebTestServer(`
upload:
  max_file_size: ${MAX}
  quota: ${QUOTA}
  expire_after: 2
`));
  });
  after(async () => {
    for (const client of clients) client.stop();
    await server.stop();
  });

  async function uploader(username: string): Promise<ClientDriver> {
    await server.addUser(username, 'localhost', PASSWORD);
    const client = await startSlixmppUpload(server, `${username}@localhost/up`, PASSWORD);
    clients.push(client);
    return client;
  }

  /** PUTs `body` to a URL on the listener, as a slot holder (or a forger) would. */
  function put(url: string, body: Buffer, type: string): Promise<HttpAnswer> {
    const parsed = new URL(url);
    return httpCall({ port: Number(parsed.port), path: parsed.pathname + parsed.search, host: parsed.hostname, method: 'PUT', body, headers: { 'Content-Type': type, 'Content-Length': body.length }, ca });
  }

  test('slixmpp finds the service, uploads a file and it is served back with safe headers', async () => {
    const alice = await uploader('alice');
    const found = await alice.ok({ op: 'find_upload' });
    assert.deepEqual([found.service, found.max_file_size], ['upload.localhost', MAX]);
    const file = join(server.dataDir, 'notes.txt');
    const content = 'meet at <b>noon</b>\n'.repeat(20);
    await writeFile(file, content);
    const uploaded = await alice.ok({ op: 'upload', path: file, content_type: 'text/plain' });
    const url = String(uploaded.url);
    assert.match(url, new RegExp(`^https://localhost:${server.server.listening.http[0]!.port}/upload/upload.localhost/[A-Za-z0-9_-]+/notes.txt$`));
    const got = await httpGetUrl(url, ca);
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), content);
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['content-disposition'], "attachment; filename*=UTF-8''notes.txt");
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.match(String(got.headers['content-security-policy']), /default-src 'none'/);
    // The file lies in the service's folder under data_dir.
    const stored = await readdir(join(server.dataDir, 'uploads', 'upload.localhost'));
    assert.equal(stored.filter((name) => !name.endsWith('.json')).length, 1);
  });

  test('an image is shown inline; a tampered or forged PUT and a second PUT of a slot are refused', async () => {
    const bob = await uploader('bob');
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const slot = await bob.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'dot.png', size: png.length, content_type: 'image/png' });
    const putUrl = String(slot.put);
    const refusals = [
      ['a different size', put(putUrl, Buffer.concat([png, Buffer.from('x')]), 'image/png')],
      ['a different type', put(putUrl, png, 'text/html')],
      ['another file name', put(putUrl.replace('/dot.png?', '/evil.html?'), png, 'image/png')],
      ['another owner', put(putUrl.replace('u=bob%40localhost', 'u=mallory%40localhost'), png, 'image/png')],
      ['a later expiry', put(putUrl.replace(/e=(\d+)/, (_, expires: string) => `e=${Number(expires) + 3600}`), png, 'image/png')],
      ['a made-up signature', put(putUrl.replace(/s=[^&]+/, 's=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), png, 'image/png')],
    ] as const;
    for (const [label, answer] of refusals) assert.equal((await answer).status, 403, label);
    assert.equal((await put(putUrl, png, 'image/png')).status, 201);
    assert.equal((await put(putUrl, png, 'image/png')).status, 409, 'a slot is used once');
    const got = await httpGetUrl(String(slot.get), ca);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, png);
    assert.equal(got.headers['content-disposition'], "inline; filename*=UTF-8''dot.png");
    await server.waitForLog('upload refused', 'status=403');
  });

  test('a file over max_file_size gets file-too-large with the limit; a user over quota gets resource-constraint', async () => {
    const carol = await uploader('carol');
    const tooLarge = await carol.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'big.bin', size: MAX + 1, content_type: 'application/octet-stream' });
    assert.deepEqual(tooLarge.error, { condition: 'not-acceptable', type: 'modify', text: `the file is too large: the largest allowed is ${MAX} bytes` });
    assert.equal(tooLarge.max_file_size, MAX);
    // Two files of 4000 bytes do not fit a quota of 6000.
    const data = Buffer.alloc(4000, 7);
    const first = await carol.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'a.bin', size: data.length, content_type: 'application/octet-stream' });
    assert.equal((await put(String(first.put), data, 'application/octet-stream')).status, 201);
    const over = await carol.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'b.bin', size: data.length, content_type: 'application/octet-stream' });
    assert.equal((over.error as { condition: string }).condition, 'resource-constraint');
    // Another user's quota is their own.
    const dave = await uploader('dave');
    const theirs = await dave.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'b.bin', size: data.length });
    assert.match(String(theirs.put), /^https:/);
  });

  test('files expire: after expire_after their URL answers 404 and the quota is free again', async () => {
    const erin = await uploader('erin');
    const data = Buffer.alloc(4000, 1);
    const slot = await erin.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'soon.bin', size: data.length, content_type: 'application/octet-stream' });
    assert.equal((await put(String(slot.put), data, 'application/octet-stream')).status, 201);
    assert.equal((await httpGetUrl(String(slot.get), ca)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await httpGetUrl(String(slot.get), ca)).status, 404);
    // The sweep deletes it from disk.
    const id = new URL(String(slot.get)).pathname.split('/')[3]!;
    const folder = join(server.dataDir, 'uploads', 'upload.localhost');
    const deadline = Date.now() + 5000;
    while ((await readdir(folder)).some((name) => name.startsWith(id))) {
      assert.ok(Date.now() < deadline, 'the expired file is still on disk');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // 4000 more bytes would not fit the quota of 6000 next to the expired file.
    const again = await erin.ok({ op: 'request_slot', service: 'upload.localhost', filename: 'next.bin', size: data.length, content_type: 'application/octet-stream' });
    assert.equal(again.error, undefined);
  });
});
