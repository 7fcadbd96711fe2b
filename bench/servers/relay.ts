/**
 * The trivial TCP relay (relay-server.ts) as a server under test: a Node process like Trellis,
 * with no XML work at all, driven by the same load generator (see bench/load/bench-client.ts,
 * `BenchClient.connectRelay`). It shows what the machine and Node's sockets can move.
 */
import { join } from 'node:path';
import { startNodeProgram } from './node-program.ts';
import type { ServerOptions, ServerUnderTest } from './server-under-test.ts';

export function startRelay(options: ServerOptions): Promise<ServerUnderTest> {
  return startNodeProgram({
    name: 'relay',
    program: join(import.meta.dirname, 'relay-server.ts'),
    args: () => [options.address, String(options.port)],
    address: options.address,
    port: options.port,
    version: `TCP relay (bench/servers/relay-server.ts) on Node ${process.version}`,
    settings: [`${options.address}:${options.port}; first line names the client and its peer, then bytes are forwarded unchanged (no XML, no login)`],
  });
}
