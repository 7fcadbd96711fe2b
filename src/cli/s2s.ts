/**
 * `trellis s2s`: the server connections of the running server, from the admin API
 * (docs/admin.md explains the columns), and `trellis s2s close ID` to close one.
 */
import type { TrellisConfig } from '../config/types.ts';
import { adminJson } from '../admin/client.ts';
import type { S2sRow } from '../admin/types.ts';
import { formatDuration, formatTable, withAdminSocket } from './admin-call.ts';

/** Shown ids are this long; any unique prefix selects a connection. */
const SHORT_ID = 8;

const HEADER = ['ID', 'DIR', 'REMOTE', 'ADDRESS', 'TLS', 'CERTIFICATE', 'AUTH', 'LEVEL', 'DOMAINS', 'IDLE'];

export function listS2s(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { connections } = await adminJson<{ connections: S2sRow[] }>(socket, 'GET', '/v1/s2s');
    if (asJson) process.stdout.write(JSON.stringify(connections, null, 2) + '\n');
    else process.stdout.write(connections.length === 0 ? 'no server connections\n' : s2sTable(connections));
    return 0;
  });
}

export function s2sTable(rows: readonly S2sRow[]): string {
  return formatTable(
    HEADER,
    rows.map((row) => [
      row.id.slice(0, SHORT_ID),
      row.bidi ? `${row.direction}+bidi` : row.direction,
      row.remoteDomain ?? '?',
      row.remoteAddress,
      row.tls ? `${row.tls.protocol} ${row.tls.cipher}` : 'none',
      row.certificate,
      row.authentication,
      row.level ?? '-',
      row.domains.join(', ') || '-',
      formatDuration(row.idleSeconds),
    ]),
  );
}

export function closeS2s(config: TrellisConfig, idPrefix: string): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { connections } = await adminJson<{ connections: S2sRow[] }>(socket, 'GET', '/v1/s2s');
    const match = matchId(connections, idPrefix);
    if (typeof match === 'string') {
      process.stderr.write(`trellis: ${match}\n`);
      return 1;
    }
    await adminJson(socket, 'DELETE', `/v1/s2s/${encodeURIComponent(match.id)}`);
    process.stdout.write(`closed ${match.id.slice(0, SHORT_ID)} (${match.direction === 'out' ? 'outgoing to' : 'incoming from'} ${match.remoteDomain ?? match.remoteAddress})\n`);
    return 0;
  });
}

/** The one connection whose id starts with `prefix`, or what is wrong with it. */
export function matchId(rows: readonly S2sRow[], prefix: string): S2sRow | string {
  const wanted = prefix.toLowerCase();
  const matches = rows.filter((row) => row.id.toLowerCase().startsWith(wanted));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) return `no server connection with an id starting with ${JSON.stringify(prefix)}; see: trellis s2s`;
  return `${JSON.stringify(prefix)} matches ${matches.length} connections (${matches.map((row) => row.id.slice(0, SHORT_ID + 4)).join(', ')}); give more of the id`;
}
