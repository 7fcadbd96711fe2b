/**
 * The admin API's view of the peering rules' audit trail and alerts (docs/peering.md, "Audit and
 * alerts"); records are read from storage, so they answer asynchronously:
 *
 *   GET /v1/audit    records, newest first: ?since=<ISO time or ms>&rule=<key path prefix>&verdict=refuse|drop|transform&limit=<1..1000, default 100>
 *   GET /v1/alerts   the recent alerts (refusals) since the start, at most 100, oldest first: ?after=<sequence>
 */
import type { PolicyAlert } from '../audit/policy-audit.ts';
import type { PolicyAuditRecord, PolicyAuditStore, StoredPolicyAuditRecord } from '../storage/types.ts';
import { errorResponse, json, type AdminResponse } from './routes.ts';
import type { AdminSources } from './sources.ts';

/** What the routes read: the store and the trail's alerts. */
export interface AuditSources {
  store: Pick<PolicyAuditStore, 'query'>;
  alerts(after: number): PolicyAlert[];
}

const MAX_LIMIT = 1000;
const VERDICTS: readonly PolicyAuditRecord['verdict'][] = ['refuse', 'drop', 'transform'];

/** An audit record as the API writes it: its time in ISO 8601. */
export type AuditRow = Omit<StoredPolicyAuditRecord, 'time'> & { time: string };

/** Answers /v1/audit and /v1/alerts; undefined for any other path. */
export async function handleAuditRequest(method: string, target: string, sources: AdminSources): Promise<AdminResponse | undefined> {
  const [rawPath = '', query = ''] = target.split('?', 2);
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  if (path !== '/v1/audit' && path !== '/v1/alerts') return undefined;
  if (method !== 'GET' && method !== 'HEAD') return errorResponse(405, `${method} is not allowed on ${path}; use GET, HEAD`, { Allow: 'GET, HEAD' });
  const audit = sources.audit;
  if (!audit) return errorResponse(404, 'this server keeps no audit trail');
  const parameters = new URLSearchParams(query);
  if (path === '/v1/alerts') {
    const after = Number(parameters.get('after') ?? 0);
    if (!Number.isInteger(after) || after < 0) return errorResponse(400, 'after is the sequence number of an alert, a whole number');
    return json(200, { alerts: audit.alerts(after).map((alert) => ({ ...alert, time: new Date(alert.time).toISOString() })) });
  }
  const limit = Number(parameters.get('limit') ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return errorResponse(400, `limit is a whole number from 1 to ${MAX_LIMIT}`);
  const sinceText = parameters.get('since');
  const since = sinceText === null ? undefined : /^\d+$/.test(sinceText) ? Number(sinceText) : Date.parse(sinceText);
  if (since !== undefined && Number.isNaN(since)) return errorResponse(400, `since is a time (2026-01-31T12:00:00Z) or milliseconds since the epoch, not ${JSON.stringify(sinceText)}`);
  const verdict = parameters.get('verdict') ?? undefined;
  if (verdict !== undefined && !VERDICTS.includes(verdict as PolicyAuditRecord['verdict'])) return errorResponse(400, `verdict is one of ${VERDICTS.join(', ')}`);
  const rule = parameters.get('rule') ?? undefined;
  const records = await audit.store.query({ limit, ...(since === undefined ? {} : { since }), ...(rule === undefined ? {} : { rule }), ...(verdict === undefined ? {} : { verdict: verdict as PolicyAuditRecord['verdict'] }) });
  return json(200, { records: records.map((record): AuditRow => ({ ...record, time: new Date(record.time).toISOString() })) });
}
