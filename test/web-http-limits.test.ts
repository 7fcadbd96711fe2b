/**
 * The HTTP listener's bounds and who it serves: a request head over max_header_bytes gets 431,
 * connections beyond max_connections are closed, plain HTTP serves loopback, and behind a trusted
 * proxy the client's address comes from X-Forwarded-For (it meets the client limits and bans).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { httpCall } from './support/https.ts';
import { startTestServer } from './support/server.ts';

/** Resolves with what the server wrote before it closed the connection. */
function readUntilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
}

async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

describe('HTTP listener limits (plain HTTP on loopback)', () => {
  test('a large request head gets 431, connections beyond max_connections are closed, the rest are served', async () => {
    const server = await startTestServer(`
http:
  enabled: true
  addresses: ["127.0.0.1"]
  port: 0
  tls: false
  max_connections: 2
  max_header_bytes: 2048
`);
    const sockets: Socket[] = [];
    try {
      const port = server.server.listening.http[0]!.port;
      const large = await httpCall({ port, path: '/.well-known/host-meta', host: 'localhost', headers: { 'X-Padding': 'x'.repeat(4096) } });
      assert.equal(large.status, 431);
      const meta = await httpCall({ port, path: '/.well-known/host-meta.json', host: 'localhost' });
      assert.deepEqual(JSON.parse(meta.body.toString()).links[0].href, `ws://localhost:${port}/xmpp-websocket`);
      // Two idle connections take both places; a third is closed without an answer.
      sockets.push(await openSocket(port), await openSocket(port));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const third = await openSocket(port);
      sockets.push(third);
      third.write('GET /.well-known/host-meta HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal(await readUntilClosed(third), '');
      await server.waitForLog('http connection refused: max_connections reached');
      // More refused connections are closed alike, under one line per limits.log_interval.
      for (let index = 0; index < 5; index++) {
        const another = await openSocket(port);
        sockets.push(another);
        assert.equal(await readUntilClosed(another), '');
      }
      const refusals = server.logLines.filter((line) => line.includes('http connection refused: max_connections reached'));
      assert.equal(refusals.length, 1, refusals.join('\n'));
      assert.match(refusals[0]!, /component=http/);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await httpCall({ port, path: '/nothing', host: 'localhost' })).status, 404);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.stop();
    }
  });

  test('behind a trusted proxy the client is the last X-Forwarded-For address: a banned one is refused', async () => {
    const server = await startTestServer(`
http:
  enabled: true
  addresses: ["127.0.0.1"]
  port: 0
  tls: false
  trusted_proxies: ["127.0.0.1"]
  public_url: https://chat.example.com
`);
    try {
      const port = server.server.listening.http[0]!.port;
      const meta = await httpCall({ port, path: '/.well-known/host-meta.json', host: 'localhost' });
      assert.equal(JSON.parse(meta.body.toString()).links[0].href, 'wss://chat.example.com/xmpp-websocket');
      await server.server.limits.ban('198.51.100.7', 'test');
      const messages: string[] = [];
      const socket = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`, ['xmpp'], { headers: { 'X-Forwarded-For': '203.0.113.1, 198.51.100.7' } });
      socket.on('message', (data) => messages.push(String(data)));
      const closed = await Promise.race([new Promise((resolve) => socket.once('close', () => resolve(true))), new Promise((resolve) => setTimeout(resolve, 5000, false))]);
      socket.terminate();
      assert.ok(closed, 'the banned client was not refused within 5 s');
      assert.ok(messages.some((message) => /<policy-violation/.test(message)), JSON.stringify(messages));
      await server.waitForLog('198.51.100.7');
    } finally {
      await server.stop();
    }
  });
});
