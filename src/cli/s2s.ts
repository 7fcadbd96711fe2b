/**
 * `trellis s2s`: the server connections of the running server and the domain pairs each carries
 * (the connection table), then every pair with the connections that carry it (the binding
 * table), from the admin API (docs/admin.md explains the columns); `trellis s2s close ID` closes
 * one connection, `trellis s2s revoke LOCAL REMOTE` revokes one pair.
 */
import type { TrellisConfig } from '../config/types.ts';
import { AdminApiError, adminJson } from '../admin/client.ts';
import type { RevokeAnswer, S2sPairRow, S2sRow } from '../admin/types.ts';
import { formatDuration, formatTable, withAdminSocket } from './admin-call.ts';

/** Shown ids are this long; any unique prefix selects a connection. */
const SHORT_ID = 8;
/** Names and pairs listed in a connection's row before the rest are only counted (the pairs table lists them all). */
const LISTED = 4;

const HEADER = ['ID', 'DIR', 'REMOTE', 'HOST', 'ADDRESS', 'TLS', 'CERTIFICATE', 'AUTH', 'LEVEL', 'NAMES', 'DOMAINS', 'IDLE'];
const PAIR_HEADER = ['LOCAL', 'REMOTE', 'OUTBOUND', 'INBOUND'];

interface S2sAnswer {
  connections: S2sRow[];
  pairs: S2sPairRow[];
}

export function listS2s(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const answer = await adminJson<S2sAnswer>(socket, 'GET', '/v1/s2s');
    if (asJson) process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
    else process.stdout.write(s2sReport(answer));
    return 0;
  });
}

/** Both tables, the connections first. */
export function s2sReport({ connections, pairs }: S2sAnswer): string {
  if (connections.length === 0) return 'no server connections\n';
  return `${s2sTable(connections)}\n${pairs.length === 0 ? 'no domain pairs authorized yet\n' : pairTable(pairs)}`;
}

export function s2sTable(rows: readonly S2sRow[]): string {
  return formatTable(
    HEADER,
    rows.map((row) => [
      row.id.slice(0, SHORT_ID),
      row.bidi ? `${row.direction}+bidi` : row.direction,
      row.remoteDomain ?? '?',
      row.remoteHost ?? '-',
      row.remoteAddress,
      row.tls ? `${row.tls.protocol} ${row.tls.cipher}` : 'none',
      row.certificate,
      row.authentication,
      row.level ?? '-',
      abbreviate([...row.serverNames, ...row.delegatedNames.map((name) => `${name} (delegated)`)]),
      abbreviate(row.pairs.map((pair) => `${pair.local} ${pair.direction === 'out' ? '->' : '<-'} ${pair.remote} (${pair.method})`)),
      formatDuration(row.idleSeconds),
    ]),
  );
}

/** The binding table: each pair, the connections it is sent on (the first is used) and accepted from. */
export function pairTable(rows: readonly S2sPairRow[]): string {
  const bindings = (list: S2sPairRow['outbound']) => list.map((binding) => `${binding.connection.slice(0, SHORT_ID)} ${binding.method} ${binding.level}`).join(', ') || '-';
  return formatTable(
    PAIR_HEADER,
    rows.map((row) => [row.local, row.remote, bindings(row.outbound), bindings(row.inbound)]),
  );
}

function abbreviate(items: readonly string[]): string {
  if (items.length === 0) return '-';
  if (items.length <= LISTED) return items.join(', ');
  return `${items.slice(0, LISTED - 1).join(', ')} and ${items.length - LISTED + 1} more`;
}

export function closeS2s(config: TrellisConfig, idPrefix: string): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { connections } = await adminJson<S2sAnswer>(socket, 'GET', '/v1/s2s');
    const match = matchId(connections, idPrefix);
    if (typeof match === 'string') {
      // In a cluster the connection may be another node's (docs/cluster.md, "Operator commands"): that node closes it.
      const elsewhere = connections.some((row) => row.id.toLowerCase().startsWith(idPrefix.toLowerCase())) ? undefined : await closeOnAnotherNode(socket, idPrefix);
      if (elsewhere === undefined) {
        process.stderr.write(`trellis: ${match}\n`);
        return 1;
      }
      process.stdout.write(`closed ${elsewhere.closed.slice(0, SHORT_ID)} (${elsewhere.direction === 'out' ? 'outgoing to' : 'incoming from'} ${elsewhere.remote}) on ${elsewhere.node}\n`);
      return 0;
    }
    await adminJson(socket, 'DELETE', `/v1/s2s/${encodeURIComponent(match.id)}`);
    process.stdout.write(`closed ${match.id.slice(0, SHORT_ID)} (${match.direction === 'out' ? 'outgoing to' : 'incoming from'} ${match.remoteDomain ?? match.remoteAddress})\n`);
    return 0;
  });
}

/** What another node of a cluster closed for `trellis s2s close` (admin/cluster-routes.ts); undefined when none holds the connection. */
async function closeOnAnotherNode(socket: string, idPrefix: string): Promise<{ closed: string; node: string; direction: 'in' | 'out'; remote: string } | undefined> {
  try {
    const answer = await adminJson<{ closed: string; node?: string; direction?: 'in' | 'out'; remote?: string }>(socket, 'DELETE', `/v1/s2s/${encodeURIComponent(idPrefix.toLowerCase())}`);
    return answer.node === undefined ? undefined : { closed: answer.closed, node: answer.node, direction: answer.direction ?? 'in', remote: answer.remote ?? '?' };
  } catch (error) {
    if (error instanceof AdminApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** Revokes REMOTE's authorization to send to LOCAL (draft-ietf-xmpp-dna-01 section 6); its other pairs keep flowing. */
export function revokeS2sPair(config: TrellisConfig, local: string, remote: string): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const answer = await adminJson<RevokeAnswer>(socket, 'DELETE', `/v1/s2s/pairs/${encodeURIComponent(local)}/${encodeURIComponent(remote)}`);
    const plural = answer.connections === 1 ? '' : 's';
    process.stdout.write(`revoked ${remote} -> ${local} on ${answer.connections} connection${plural}; its server may ask again\n`);
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
