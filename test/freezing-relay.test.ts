/**
 * The relay that simulates a network going away silently (test/support/freezing-relay.ts):
 * it forwards both ways, a freeze stops that on the connections open at the time without
 * either end seeing a close, and later connections pass.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { FreezingRelay } from './support/freezing-relay.ts';

interface Peer {
  socket: Socket;
  received: string;
  closed: boolean;
}

function track(socket: Socket): Peer {
  const peer: Peer = { socket, received: '', closed: false };
  socket.on('data', (chunk: Buffer) => (peer.received += chunk.toString()));
  socket.on('end', () => (peer.closed = true));
  socket.on('close', () => (peer.closed = true));
  socket.on('error', () => {});
  return peer;
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still false after ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let server: Server;
const accepted: Peer[] = [];
let relay: FreezingRelay;

before(async () => {
  server = createServer((socket) => accepted.push(track(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  relay = await FreezingRelay.start(address.port);
});
after(async () => {
  await relay.close();
  for (const peer of accepted) peer.socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function open(): Promise<{ client: Peer; upstream: Peer }> {
  const before = accepted.length;
  const socket = connect({ port: relay.port, host: '127.0.0.1' });
  const client = track(socket);
  await until(() => accepted.length > before);
  return { client, upstream: accepted[before]! };
}

test('forwards both ways, freezes silently, lets later connections through, and closes everything', async () => {
  const first = await open();
  first.client.socket.write('ping');
  await until(() => first.upstream.received === 'ping');
  first.upstream.socket.write('pong');
  await until(() => first.client.received === 'pong');

  assert.equal(relay.freeze(), 1);
  assert.equal(relay.frozen, 1);
  first.client.socket.write('lost upstream');
  first.upstream.socket.write('lost downstream');
  // An end of the stream on one side is not passed on either.
  first.client.socket.end();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(first.upstream.received, 'ping');
  assert.equal(first.client.received, 'pong');
  assert.equal(first.upstream.closed, false, 'the server side sees no close');

  const second = await open();
  second.client.socket.write('after the freeze');
  await until(() => second.upstream.received === 'after the freeze');
  second.upstream.socket.write('answer');
  await until(() => second.client.received === 'answer');
  assert.equal(relay.frozen, 1, 'a connection made after the freeze is not frozen');

  await relay.close();
  await until(() => first.upstream.closed && second.upstream.closed && second.client.closed);
});
