/**
 * `trellis audit [--since T] [--rule PREFIX] [--verdict V] [--limit N] [--json]` and
 * `trellis audit alerts`: the peering rules' audit trail and recent alerts of the running server,
 * through the admin API (docs/peering.md, "Audit and alerts").
 */
import type { TrellisConfig } from '../config/types.ts';
import { adminJson } from '../admin/client.ts';
import type { AuditRow } from '../admin/audit-routes.ts';
import { formatTable, withAdminSocket } from './admin-call.ts';

export interface AuditFilter {
  since?: string;
  rule?: string;
  verdict?: string;
  limit?: string;
}

export function listAudit(config: TrellisConfig, filter: AuditFilter, asJson: boolean): Promise<number> {
  const query = new URLSearchParams(Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined)).toString();
  return withAdminSocket(config, async (socket) => {
    const { records } = await adminJson<{ records: AuditRow[] }>(socket, 'GET', `/v1/audit${query ? `?${query}` : ''}`);
    print(records, asJson, 'no audit records');
    return 0;
  });
}

export function listAlerts(config: TrellisConfig, asJson: boolean): Promise<number> {
  return withAdminSocket(config, async (socket) => {
    const { alerts } = await adminJson<{ alerts: AuditRow[] }>(socket, 'GET', '/v1/alerts');
    print(alerts, asJson, 'no alerts since the server started');
    return 0;
  });
}

function print(rows: AuditRow[], asJson: boolean, none: string): void {
  if (asJson) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  if (rows.length === 0) return void process.stdout.write(`${none}\n`);
  process.stdout.write(formatTable(['TIME', 'VERDICT', 'DIR', 'KIND', 'FROM', 'TO', 'RULE', 'LABEL'], rows.map((row) => [row.time, row.verdict, row.direction, row.kind, row.from, row.to, row.rule, row.label ?? '-'])));
}
