/**
 * `trellis sessions list` and `trellis sessions kick JID`: the running server's client
 * sessions, through the admin API (GET /v1/c2s, DELETE /v1/sessions/<jid>).
 */
import type { TrellisConfig } from '../config/types.ts';
import { adminJson } from '../admin/client.ts';
import type { C2sRow } from '../admin/types.ts';
import { formatDuration, formatTable, withAdminSocket } from './admin-call.ts';

export function listSessions(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { sessions } = await adminJson<{ sessions: C2sRow[] }>(socket, 'GET', '/v1/c2s');
    if (asJson) process.stdout.write(JSON.stringify({ sessions }, null, 2) + '\n');
    else if (sessions.length === 0) process.stdout.write('no client sessions\n');
    else {
      const rows = sessions.map((row) => [row.jid, row.address, row.tls ? `${row.tls.protocol} ${row.tls.cipher}` : 'none', row.connectedAt, formatDuration(row.idleSeconds)]);
      process.stdout.write(formatTable(['JID', 'ADDRESS', 'TLS', 'SINCE', 'IDLE'], rows));
    }
    return 0;
  });
}

/** A full JID ends that session, a bare JID every session of the account. */
export function kickSession(config: TrellisConfig, jid: string, reason: string | undefined): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const query = reason ? `?reason=${encodeURIComponent(reason)}` : '';
    const { kicked } = await adminJson<{ kicked: string[] }>(socket, 'DELETE', `/v1/sessions/${encodeURIComponent(jid)}${query}`);
    process.stdout.write(`disconnected ${kicked.join(', ')}\n`);
    return 0;
  });
}
