/**
 * XmlStream.bytesOut counts the bytes of XML written, not characters: through a TCP socket's own
 * count, across STARTTLS (before encryption), and by measuring each write on a transport without
 * a count of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { defaultConfig } from '../config/load.ts';
import { generateSelfSigned } from './self-signed.ts';
import { XmlStream } from './xml-stream.ts';

const noop = (): void => {};
const handlers = { streamOpen: noop, stanza: noop, streamClose: noop, parseError: noop, whitespace: noop, socketClosed: noop };
const options = { limits: defaultConfig('/tmp').c2s.limits, contentNamespace: 'jabber:client' };
const TEXT = "<message><body>héllo wörld ☕</body></message>";
const flushed = () => new Promise((resolve) => setImmediate(resolve));

test('over TCP then STARTTLS, bytes as sent before encryption', async () => {
  const { certificatePem, keyPem } = await generateSelfSigned('localhost');
  let stream: XmlStream | undefined;
  const server = createServer((socket) => void (stream = new XmlStream(socket, handlers, options)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client: Socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  while (!stream) await flushed();
  stream.sendRaw(TEXT);
  const [received] = (await once(client, 'data')) as [Buffer];
  assert.equal(received.length, Buffer.byteLength(TEXT));
  assert.equal(stream.bytesOut, Buffer.byteLength(TEXT));
  assert.ok(Buffer.byteLength(TEXT) > TEXT.length, 'the text has characters of more than one byte');

  const secured = stream.startTls({ key: keyPem, cert: certificatePem });
  const secure = tlsConnect({ socket: client, rejectUnauthorized: false });
  secure.on('data', noop);
  await Promise.all([secured, once(secure, 'secureConnect')]);
  stream.sendRaw(TEXT);
  await flushed();
  assert.equal(stream.bytesOut, 2 * Buffer.byteLength(TEXT));
  secure.destroy();
  server.close();
});

test('a transport without a count of its own: each write measured', async () => {
  const transport = new Duplex({ read: noop, write: (_chunk, _encoding, done) => done() });
  const stream = new XmlStream(transport as unknown as Socket, handlers, options);
  stream.sendRaw(TEXT);
  stream.sendRaw(TEXT);
  await flushed();
  assert.equal(stream.bytesOut, 2 * Buffer.byteLength(TEXT));
});
