/**
 * The TLS settings as Node options, and what they do to real handshakes on both kinds of
 * server socket the server makes (STARTTLS through XmlStream.startTls, direct TLS through
 * listen) and on the client side.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket, type TlsOptions } from 'node:tls';
import { defaultConfig } from '../config/load.ts';
import type { TlsSettings } from '../config/types.ts';
import { listen, type Listener } from './listener.ts';
import { generateSelfSigned } from './self-signed.ts';
import { TlsContextStore } from './tls-contexts.ts';
import { tlsOptions } from './tls-settings.ts';
import { XmlStream } from './xml-stream.ts';

const defaults: TlsSettings = defaultConfig('/tmp').tls_settings;

describe('tlsOptions', () => {
  test('the defaults: TLS 1.2 and 1.3, the AEAD ECDHE list, server order, no renegotiation', () => {
    assert.deepEqual(tlsOptions(defaults), {
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      ciphers: defaults.ciphers,
      ecdhCurve: 'auto',
      honorCipherOrder: true,
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
    });
    // ECDHE key exchange with an AEAD cipher, nothing else: no CBC, no static RSA, no DHE.
    for (const suite of defaults.ciphers.split(':')) {
      assert.match(suite, /^(TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)|ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305))$/);
    }
  });

  test('written settings pass through; without server order only renegotiation stays refused', () => {
    const options = tlsOptions({ min_version: 'TLSv1.3', max_version: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384', ecdh_curves: 'X25519', prefer_server_ciphers: false });
    assert.equal(options.minVersion, 'TLSv1.3');
    assert.equal(options.ciphers, 'TLS_AES_256_GCM_SHA384');
    assert.equal(options.ecdhCurve, 'X25519');
    assert.equal(options.honorCipherOrder, false);
    assert.equal(options.secureOptions, constants.SSL_OP_NO_RENEGOTIATION);
  });
});

let dir: string;
let store: TlsContextStore;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-tls-'));
  const { certificatePem, keyPem } = await generateSelfSigned('localhost');
  await writeFile(join(dir, 'cert.pem'), certificatePem);
  await writeFile(join(dir, 'key.pem'), keyPem);
  store = new TlsContextStore(defaults);
  store.add('localhost', { certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem') });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Endpoint {
  port: number;
  close(): Promise<void>;
}

/** STARTTLS as c2s and s2s do it: an XmlStream over a plain socket, upgraded by startTls. */
async function startTlsServer(extra: TlsOptions = {}): Promise<Endpoint> {
  const server: Server = createServer((socket) => {
    const noop = (): void => {};
    const stream = new XmlStream(socket, { streamOpen: noop, stanza: noop, streamClose: noop, parseError: noop, whitespace: noop, socketClosed: noop }, {
      limits: defaultConfig('/tmp').c2s.limits,
      contentNamespace: 'jabber:client',
    });
    stream.startTls(store.serverOptions(extra, 'localhost')).catch(noop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Direct TLS as the XEP-0368 listeners do it. */
async function directTlsServer(extra: TlsOptions = {}): Promise<Endpoint> {
  const listener: Listener = await listen(['127.0.0.1'], 0, (socket) => socket.on('error', () => {}).resume(), store.serverOptions({ ALPNProtocols: ['xmpp-client'], ...extra }));
  return { port: listener.addresses[0]!.port, close: () => listener.close() };
}

/** A TLS client over a fresh TCP connection; resolves once secure, rejects with the handshake's error. */
async function handshake(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const raw = tcpConnect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  const socket = tlsConnect({ socket: raw, rejectUnauthorized: false, ...options });
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the handshake finished')));
  });
}

for (const [kind, start] of [['STARTTLS (XmlStream.startTls)', startTlsServer], ['direct TLS (listen)', directTlsServer]] as const) {
  describe(`server sockets, ${kind}`, () => {
    let endpoint: Endpoint;
    before(async () => {
      endpoint = await start();
    });
    after(() => endpoint.close());

    test('TLS 1.3 is negotiated', async () => {
      const socket = await handshake(endpoint.port, { servername: 'localhost' });
      assert.equal(socket.getProtocol(), 'TLSv1.3');
      socket.destroy();
    });

    test('TLS 1.1 is refused', async () => {
      await assert.rejects(handshake(endpoint.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }));
    });

    test('on TLS 1.2, CBC suites are refused and the server picks from its own order', async () => {
      await assert.rejects(handshake(endpoint.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:AES128-SHA' }));
      const socket = await handshake(endpoint.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256' });
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      assert.equal(socket.getCipher().standardName, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
      socket.destroy();
    });

    test('a client cannot renegotiate on TLS 1.2', { timeout: 5000 }, async () => {
      const socket = await handshake(endpoint.port, { maxVersion: 'TLSv1.2' });
      const outcome = await new Promise<Error | string>((resolve) => {
        socket.once('error', resolve);
        socket.renegotiate({ rejectUnauthorized: false }, (error) => resolve(error ?? 'renegotiated'));
        socket.write('after renegotiation');
      });
      assert.ok(outcome instanceof Error, `expected the renegotiation to fail, got ${String(outcome)}`);
      assert.match(outcome.message, /no renegotiation/);
      socket.destroy();
    });

    test('a client that sends no SNI gets the default certificate', async () => {
      const socket = await handshake(endpoint.port);
      assert.equal(socket.getPeerCertificate().subject.CN, 'localhost');
      socket.destroy();
    });
  });
}

/**
 * The TLS records a server sends after the client's handshake is done (TLS 1.3 session tickets
 * here: the server sends no data), read from the bytes on the wire.
 */
async function recordsAfterHandshake(port: number, options: ConnectionOptions): Promise<number[]> {
  const raw = tcpConnect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  const received: Buffer[] = [];
  // A duplex in front of the socket, so that every byte the server sends is seen.
  const tap = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      raw.write(chunk, callback);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    received.push(chunk);
    tap.push(chunk);
  });
  const socket = tlsConnect({ socket: tap, rejectUnauthorized: false, ...options });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const handshakeBytes = Buffer.concat(received).length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  raw.destroy();
  const after = Buffer.concat(received).subarray(handshakeBytes);
  const lengths: number[] = [];
  // RFC 8446 section 5.1: type (1), legacy version (2), length (2), then the record.
  for (let offset = 0; offset + 5 <= after.length; offset += 5 + after.readUInt16BE(offset + 3)) lengths.push(after.readUInt16BE(offset + 3));
  return lengths;
}

for (const [kind, start] of [['STARTTLS (XmlStream.startTls)', startTlsServer], ['direct TLS (listen)', directTlsServer]] as const) {
  describe(`server sockets that request the peer's certificate (s2s), ${kind}`, () => {
    let endpoint: Endpoint;
    let client: { cert: string; key: string };
    before(async () => {
      endpoint = await start({ requestCert: true, rejectUnauthorized: false });
      const { certificatePem, keyPem } = await generateSelfSigned('peer.example');
      client = { cert: certificatePem, key: keyPem };
    });
    after(() => endpoint.close());

    // A stateless ticket carries the client's certificate: records of a kilobyte or more, which
    // jabberd2 2.7 cannot take when its first read ends inside one (src/net/tls-contexts.ts).
    test('the session tickets after the handshake are small stateful ones', async () => {
      const records = await recordsAfterHandshake(endpoint.port, { ...client, servername: 'localhost' });
      assert.ok(records.length > 0, 'no ticket sent');
      for (const length of records) assert.ok(length < 256, `a record of ${length} bytes after the handshake`);
    });
  });
}

describe('client sockets', () => {
  /** A peer that only speaks TLS 1.2 with CBC suites. */
  async function weakPeer(): Promise<{ port: number; server: ReturnType<typeof createTlsServer> }> {
    const { certificatePem, keyPem } = await generateSelfSigned('weak.example');
    const server = createTlsServer({ cert: certificatePem, key: keyPem, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384' });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, server };
  }

  test('outgoing connections refuse a peer offering only CBC suites, with or without a certificate of ours', async () => {
    const { port, server } = await weakPeer();
    try {
      await assert.rejects(handshake(port, store.clientOptions('localhost')));
      await assert.rejects(handshake(port, new TlsContextStore(defaults).clientOptions('localhost')));
      // The same peer is reachable with Node's defaults: the settings, not the peer, refuse it.
      (await handshake(port)).destroy();
    } finally {
      server.close();
    }
  });

  test('outgoing connections offer our certificate and settings', async () => {
    const options = store.clientOptions('localhost');
    assert.ok(options.secureContext);
    assert.equal(options.minVersion, 'TLSv1.2');
    assert.equal(options.ciphers, defaults.ciphers);
  });
});
