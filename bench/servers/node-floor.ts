/**
 * Node itself as a server under test in the start-up memory scenario (node-floor-server.mjs): the
 * runtime alone (`node-idle`), and the least any XMPP server on Node with TLS and SQLite holds
 * (`node-tls`). The Node binary is the one that runs the benchmarks, which is Trellis's.
 */
import { join } from 'node:path';
import { benchCertificate } from '../load/tls-mode.ts';
import { startNodeProgram } from './node-program.ts';
import type { ServerUnderTest } from './server-under-test.ts';

export type NodeFloor = 'node-idle' | 'node-tls';

export function startNodeFloor(floor: NodeFloor, address: string, c2sPort: number, s2sPort: number): Promise<ServerUnderTest> {
  const files = benchCertificate('bench.local');
  const kind = floor === 'node-idle' ? 'idle' : 'tls';
  return startNodeProgram({
    name: floor,
    program: join(import.meta.dirname, 'node-floor-server.mjs'),
    args: (dir) => (kind === 'idle' ? ['idle', address, String(c2sPort)] : ['tls', address, String(c2sPort), String(s2sPort), files.certificate, files.key, dir]),
    address,
    port: c2sPort,
    version: `Node ${process.version} (bench/servers/node-floor-server.mjs ${kind})`,
    settings:
      kind === 'idle'
        ? [`listens on ${address}:${c2sPort}, nothing else`]
        : [`Node's TLS, crypto and SQLite modules loaded; a TLS context from an ECDSA P-256 certificate; an SQLite database open; listens on ${address}:${c2sPort} and ${address}:${s2sPort}`],
  });
}
