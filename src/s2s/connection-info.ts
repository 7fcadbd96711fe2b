/** What `trellis s2s` shows: each server connection with what secures it and the pairs it carries, and each pair with its connections. */
import { TLSSocket } from 'node:tls';
import { meetsLevel } from '../policy/levels.ts';
import type { BindingTable } from './binding-table.ts';
import type { ConnectionTable } from './connection-table.ts';
import type { S2sConnectionInfo, S2sPairInfo } from './context.ts';
import type { PairProof } from './pair-proof.ts';
import type { ServerConnection } from './server-connection.ts';

export function connectionInfo(connection: ServerConnection, bindings: BindingTable<PairProof>, connections: ConnectionTable): S2sConnectionInfo {
  const stream = connection.stream;
  const socket = stream.socket;
  const tls = socket instanceof TLSSocket && socket.encrypted ? { protocol: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' } : undefined;
  const bound = bindings.pairsOf(connection.id);
  const row = connections.get(connection.id);
  // The first pair bound at the highest level: the connection's own authentication, usually.
  const strongest = bound.reduce<PairProof | undefined>((best, { proof }) => (!best || (proof.level !== best.level && meetsLevel(proof.level, best.level)) ? proof : best), undefined);
  return {
    id: connection.id,
    direction: connection.direction,
    remoteDomain: connection.remoteDomain,
    remoteAddress: `${stream.peer}${connection.target?.directTls ? ' (direct TLS)' : ''}`,
    remoteIp: stream.remoteAddress,
    remoteHost: connection.target?.host,
    tls,
    certificate: connection.certificate(connection.remoteDomain ?? '').status,
    authentication: strongest?.method ?? 'pending',
    level: strongest?.level,
    bidi: connection.bidi,
    hostNamed: connection.hostNamed,
    domains: bound.map((binding) => (binding.direction === 'out' ? `${binding.local} -> ${binding.remote}` : `${binding.local} <- ${binding.remote}`)),
    serverNames: [...(row?.serverNames ?? [])],
    delegatedNames: [...(row?.delegatedNames ?? [])],
    pairs: bound.map(({ local, remote, direction, proof }) => ({ local, remote, direction, method: proof.method, level: proof.level })),
    connectedAt: connection.connectedAt,
    idleSeconds: Math.round((Date.now() - stream.lastActivity) / 1000),
    bytesIn: stream.bytesIn,
    bytesOut: stream.bytesOut,
    stanzasIn: connection.traffic.stanzasIn,
    stanzasOut: connection.traffic.stanzasOut,
    errorsIn: connection.traffic.errorsIn,
    errorsOut: connection.traffic.errorsOut,
    readStanzasPerSecond: stream.readStanzasPerSecond,
  };
}

/** The binding table's rows: each pair with its outbound and inbound connections, in list order. */
export function pairInfo(bindings: BindingTable<PairProof>): S2sPairInfo[] {
  const entry = ({ connection, proof }: { connection: string; proof: PairProof }) => ({ connection, method: proof.method, level: proof.level });
  return bindings.rows().map((row) => ({ local: row.local, remote: row.remote, outbound: row.out.map(entry), inbound: row.in.map(entry) }));
}
