/** `trellis status`: what the running server is and does, from the admin API. */
import type { TrellisConfig } from '../config/types.ts';
import { adminJson } from '../admin/client.ts';
import type { ClusterNodeRow, LinkRow, StatusReport } from '../admin/types.ts';
import { formatDuration, withAdminSocket } from './admin-call.ts';

export function showStatus(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const status = await adminJson<StatusReport>(socket, 'GET', '/v1/status');
    process.stdout.write(asJson ? JSON.stringify(status, null, 2) + '\n' : statusText(status, socket));
    return 0;
  });
}

function count(value: number, noun: string): string {
  return `${value} ${noun}${value === 1 ? '' : 's'}`;
}

export function statusText(status: StatusReport, socket: string): string {
  const listeners = Object.entries(status.listeners)
    .filter(([, addresses]) => addresses.length > 0)
    .map(([name, addresses]) => `${name} ${addresses.join(' ')}`);
  return [
    `Trellis ${status.version}, pid ${status.pid}, up ${formatDuration(status.uptimeSeconds)} (since ${status.startedAt})`,
    `hosts:       ${status.hosts.join(', ')}`,
    `listening:   ${listeners.join('; ') || 'nothing'}`,
    `federation:  ${status.federation === 'off' ? 'off' : `on, default level ${status.federation}`}`,
    `clients:     ${status.c2s.sessions} session${status.c2s.sessions === 1 ? '' : 's'} (${status.c2s.connections} connection${status.c2s.connections === 1 ? '' : 's'})`,
    `servers:     ${status.s2s.connections} connection${status.s2s.connections === 1 ? '' : 's'} (${status.s2s.incoming} in, ${status.s2s.outgoing} out)`,
    ...(status.muc.length > 0 ? [`rooms:       ${status.muc.map((row) => `${row.service} ${count(row.rooms, 'room')}, ${count(row.occupants, 'occupant')}`).join('; ')}`] : []),
    ...(status.components.length > 0 ? [`components:  ${status.components.map((row) => `${row.domain} (${row.connected ? `connected from ${row.address}` : 'not connected'})`).join(', ')}`] : []),
    ...status.links.map((row, index) => `${index === 0 ? 'links:' : ''}`.padEnd(13) + linkLine(row)),
    ...(status.cluster ?? []).map((row, index) => `${index === 0 ? 'cluster:' : ''}`.padEnd(13) + nodeLine(row)),
    `admin API:   ${socket}`,
  ].join('\n') + '\n';
}

/** A node's row: its name and incarnation, state, addresses, sessions, last heartbeat and the remote domains it federates with. */
function nodeLine(row: ClusterNodeRow): string {
  const federates = row.federates.length === 0 ? '' : `; federates with ${row.federates.join(', ')}`;
  return `${row.name}${row.self ? ' (this node)' : ''} ${row.state}, incarnation ${row.incarnation}, ${row.addresses.join(' ') || 'no listeners'}, ${count(row.sessions, 'session')}, heartbeat ${row.lastHeartbeat ?? 'never'}${federates}`;
}

/** A link's row: its state, where it goes, what waits, what crossed, and its last failure. */
function linkLine(row: LinkRow): string {
  const state = row.up ? 'up' : 'down';
  const where = row.connect === 'in' ? `listening on ${row.address}` : `${row.protocol === 's2s' ? 's2s ' : ''}to ${row.address}${row.connect === 'both' ? ' (both connect)' : ''}`;
  const failure = row.lastError === null ? '' : `; last error ${row.lastError.at}: ${row.lastError.text}`;
  return `${row.name} ${state}, ${where}, ${count(row.queued, 'message')} queued, ${row.stanzasOut} stanzas (${row.bytesOut} bytes) out, ${row.stanzasIn} (${row.bytesIn} bytes) in${failure}`;
}
