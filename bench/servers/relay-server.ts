/**
 * A trivial TCP relay, the floor under any XMPP server on this machine: no XML, no routing
 * table beyond one lookup. A client's first line names itself and its peer (`<name> <peer>\n`);
 * the relay answers `ok\n`, and from then on every byte the client sends is written unchanged
 * to the connection that named itself `<peer>`, with backpressure (the sender pauses while the
 * peer's socket buffer is full).
 *
 *   node bench/servers/relay-server.ts ADDRESS PORT
 */
import { createServer, type Socket } from 'node:net';

const [address, port] = process.argv.slice(2);
if (!address || !port) {
  process.stderr.write('usage: relay-server.ts ADDRESS PORT\n');
  process.exit(2);
}

const byName = new Map<string, Socket>();

const server = createServer({ noDelay: true }, (socket) => {
  let hello = '';
  let name: string | undefined;
  let peerName: string | undefined;
  let peer: Socket | undefined;
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    if (name !== undefined && byName.get(name) === socket) byName.delete(name);
  });
  socket.on('data', (chunk: Buffer) => {
    if (peerName === undefined) {
      hello += chunk.toString('latin1');
      const end = hello.indexOf('\n');
      if (end < 0) return;
      [name, peerName] = hello.slice(0, end).split(' ');
      if (!name || !peerName) return socket.destroy();
      byName.set(name, socket);
      socket.write('ok\n');
      const rest = chunk.subarray(chunk.length - (hello.length - end - 1));
      if (rest.length === 0) return;
      chunk = rest;
    }
    peer ??= byName.get(peerName);
    if (!peer) return socket.destroy();
    if (!peer.write(chunk)) {
      socket.pause();
      peer.once('drain', () => socket.resume());
    }
  });
});
server.listen(Number(port), address);
process.on('SIGTERM', () => process.exit(0));
