/**
 * XmlStream.writtenChars and the `written` handler say how far the socket has taken what was
 * queued: a stanza counts as the client's only once it is written (the outbound queue releases
 * it then), so the count must never run ahead of the socket, whether the write completed within
 * the call, waited for a slow reader, or failed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { defaultConfig } from '../config/load.ts';
import { generateSelfSigned } from './self-signed.ts';
import { XmlStream } from './xml-stream.ts';

const noop = (): void => {};
const options = { limits: defaultConfig('/tmp').c2s.limits, contentNamespace: 'jabber:client' };
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Waits until `done()` holds, for at most five seconds. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

interface Pair {
  stream: XmlStream;
  client: Socket;
  offsets: number[];
}

/** A stream on the accepting side of a loopback connection; everything is closed when the test ends, passed or not. */
async function connectedPair(t: TestContext): Promise<Pair> {
  const offsets: number[] = [];
  const handlers = { streamOpen: noop, stanza: noop, streamClose: noop, parseError: noop, whitespace: noop, socketClosed: noop, written: (offset: number) => void offsets.push(offset) };
  let stream: XmlStream | undefined;
  const server = createServer((socket) => void (stream = new XmlStream(socket, handlers, options)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  await until(() => stream !== undefined, 'the accepted socket');
  const accepted = stream!;
  t.after(() => {
    accepted.destroy();
    client.destroy();
    server.close();
  });
  return { stream: accepted, client, offsets };
}

/** Queues `xml` and flushes it at once to a socket with nothing queued: counted as written within the flush. */
function sentWhole(stream: XmlStream, xml: string): number {
  const end = stream.sendRaw(xml);
  stream.flush();
  assert.equal(stream.writtenChars, end);
  return end;
}

test('a write the kernel takes whole counts as written when it is flushed', async (t) => {
  const { stream, client, offsets } = await connectedPair(t);
  client.on('data', noop);
  const end = sentWhole(stream, '<message><body>one</body></message>');
  assert.deepEqual(offsets, [end]);
  const second = stream.sendRaw('<message><body>two</body></message>');
  await turn();
  assert.equal(stream.writtenChars, second);
  assert.deepEqual(offsets, [end, second]);
});

test('a write the socket must queue counts only once a slow reader has taken it', async (t) => {
  const { stream, client, offsets } = await connectedPair(t);
  client.pause();
  const first = stream.sendRaw('<message><body>before</body></message>');
  await turn();
  assert.equal(stream.writtenChars, first);
  // More than the kernel's buffers on both sides hold while nobody reads (and less than the
  // 16 MB a stream may queue before it drops a peer that does not read).
  const big = `<message><body>${'x'.repeat(12 * 1024 * 1024)}</body></message>`;
  const end = stream.sendRaw(big);
  for (let wait = 0; wait < 20; wait++) await turn();
  assert.equal(stream.writtenChars, first, 'nothing of the large write counts while it is queued');
  assert.ok(stream.socket.writableLength > 0);
  let received = 0;
  client.on('data', (chunk: Buffer) => void (received += chunk.length));
  client.resume();
  await until(() => stream.writtenChars >= end, 'the large write');
  assert.equal(stream.writtenChars, end);
  assert.deepEqual(offsets, [first, end]);
  assert.ok(received > 0);
});

test('a write that fails never counts', async (t) => {
  const { stream, client, offsets } = await connectedPair(t);
  client.on('data', noop);
  const first = sentWhole(stream, '<message><body>kept</body></message>');
  stream.socket.on('error', noop);
  stream.socket.end();
  const lost = stream.sendRaw('<message><body>after the end</body></message>');
  assert.ok(lost > first);
  for (let wait = 0; wait < 5; wait++) await turn();
  assert.equal(stream.writtenChars, first);
  assert.deepEqual(offsets, [first]);
});

test('a write refused by the kernel (the peer is gone) never counts', async (t) => {
  const { stream, client, offsets } = await connectedPair(t);
  stream.socket.on('error', noop);
  // All in one turn, before this side has read the peer's close: on loopback the first write
  // draws the reset at once, and the kernel refuses the second.
  client.destroy();
  const taken = sentWhole(stream, '<message><body>taken by the kernel</body></message>');
  stream.sendRaw('<message><body>refused</body></message>');
  stream.flush();
  for (let wait = 0; wait < 5; wait++) await turn();
  assert.equal(stream.writtenChars, taken);
  assert.deepEqual(offsets, [taken]);
});

test('over TLS, counted once the encrypted write is done', async (t) => {
  const { certificatePem, keyPem } = await generateSelfSigned('localhost');
  const { stream, client, offsets } = await connectedPair(t);
  const secured = stream.startTls({ key: keyPem, cert: certificatePem });
  const secure = tlsConnect({ socket: client, rejectUnauthorized: false });
  let received = '';
  secure.on('data', (chunk: Buffer) => void (received += chunk.toString()));
  await Promise.all([secured, once(secure, 'secureConnect')]);
  const end = stream.sendRaw('<message><body>secret</body></message>');
  await until(() => stream.writtenChars >= end, 'the encrypted write');
  assert.deepEqual(offsets, [end]);
  await until(() => received.includes('secret'), 'the text at the client');
  secure.destroy();
});
