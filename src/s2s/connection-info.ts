/** One row of `trellis s2s`: a server connection, what secures it and the pairs it carries. */
import { TLSSocket } from 'node:tls';
import { meetsLevel } from '../policy/levels.ts';
import type { BindingTable } from './binding-table.ts';
import type { S2sConnectionInfo } from './context.ts';
import type { PairProof } from './pair-proof.ts';
import type { ServerConnection } from './server-connection.ts';

export function connectionInfo(connection: ServerConnection, bindings: BindingTable<PairProof>): S2sConnectionInfo {
  const stream = connection.stream;
  const socket = stream.socket;
  const tls = socket instanceof TLSSocket && socket.encrypted ? { protocol: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' } : undefined;
  const bound = bindings.pairsOf(connection.id);
  const strongest = bound.map((binding) => binding.proof).sort((a, b) => (meetsLevel(a.level, b.level) ? -1 : 1))[0];
  return {
    id: connection.id,
    direction: connection.direction,
    remoteDomain: connection.remoteDomain,
    remoteAddress: `${stream.peer}${connection.target?.directTls ? ' (direct TLS)' : ''}`,
    tls,
    certificate: connection.certificate(connection.remoteDomain ?? '').status,
    authentication: strongest?.method ?? 'pending',
    level: strongest?.level,
    bidi: connection.bidi,
    hostNamed: connection.hostNamed,
    domains: bound.map((binding) => (binding.direction === 'out' ? `${binding.local} -> ${binding.remote}` : `${binding.local} <- ${binding.remote}`)),
    connectedAt: connection.connectedAt,
    idleSeconds: Math.round((Date.now() - stream.lastActivity) / 1000),
    bytesIn: stream.bytesIn,
    bytesOut: stream.bytesOut,
  };
}
