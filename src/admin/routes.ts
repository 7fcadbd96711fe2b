/**
 * The admin API's endpoints, as a function from method and path to a response, so that the
 * socket server only deals with HTTP and every answer is decided here.
 *
 *   GET    /v1/status      the server: version, uptime, hosts, listeners, connection counts
 *   GET    /v1/s2s         server connections (the connection table) and domain pairs (the binding table)
 *   DELETE /v1/s2s/<id>    close one server connection
 *   DELETE /v1/s2s/pairs/<local>/<remote>   revoke the remote domain's authorization to send to the local one
 *   GET    /v1/c2s         bound client sessions
 *   GET    /v1/components  external components (XEP-0114), connected or not
 *   GET    /v1/rooms       group-chat rooms (XEP-0045) per service
 *   GET    /metrics        Prometheus text format
 *
 * Bans and domain blocks (/v1/bans, /v1/blocked-domains) are in abuse-routes.ts; the audit trail and
 * alerts of peering rules (/v1/audit, /v1/alerts) in audit-routes.ts.
 */
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.ts';
import { c2sRows, componentRows, pairRows, roomRows, s2sRows, statusReport, type AdminSources } from './sources.ts';
import type { RevokeAnswer } from './types.ts';

export interface AdminResponse {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function json(status: number, value: unknown, headers?: Record<string, string>): AdminResponse {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value, null, 2) + '\n', ...(headers ? { headers } : {}) };
}

export function errorResponse(status: number, error: string, headers?: Record<string, string>): AdminResponse {
  return json(status, { error }, headers);
}

type Handler = (sources: AdminSources, ...parameters: string[]) => AdminResponse;

interface Route {
  /** a fixed path, or a prefix ending in "/" followed by `parameters` path segments */
  path: string;
  parameters: 0 | 1 | 2;
  methods: Partial<Record<'GET' | 'DELETE', Handler>>;
}

const ROUTES: Route[] = [
  { path: '/v1/status', parameters: 0, methods: { GET: (sources) => json(200, statusReport(sources)) } },
  { path: '/v1/s2s', parameters: 0, methods: { GET: (sources) => json(200, { connections: s2sRows(sources), pairs: pairRows(sources) }) } },
  { path: '/v1/s2s/pairs/', parameters: 2, methods: { DELETE: revokePair } },
  {
    path: '/v1/s2s/',
    parameters: 1,
    methods: {
      DELETE: (sources, id) =>
        sources.s2s.closeConnection(id) ? json(200, { closed: id }) : errorResponse(404, `no server connection with id ${JSON.stringify(id)}`),
    },
  },
  { path: '/v1/c2s', parameters: 0, methods: { GET: (sources) => json(200, { sessions: c2sRows(sources) }) } },
  { path: '/v1/components', parameters: 0, methods: { GET: (sources) => json(200, { components: componentRows(sources) }) } },
  { path: '/v1/rooms', parameters: 0, methods: { GET: (sources) => json(200, { services: roomRows(sources) }) } },
  { path: '/metrics', parameters: 0, methods: { GET: (sources) => ({ status: 200, contentType: METRICS_CONTENT_TYPE, body: renderMetrics(sources) }) } },
];

export function handleAdminRequest(method: string, target: string, sources: AdminSources): AdminResponse {
  let path: string;
  try {
    path = decodeURIComponent(target.split('?')[0]!);
  } catch {
    return errorResponse(400, 'malformed percent-encoding in the path');
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  for (const route of ROUTES) {
    let parameters: string[] = [];
    if (route.parameters > 0) {
      if (!path.startsWith(route.path)) continue;
      parameters = path.slice(route.path.length).split('/');
      if (parameters.length !== route.parameters || parameters.includes('')) continue;
    } else if (path !== route.path) {
      continue;
    }
    // HEAD is GET without the body (RFC 9110 section 9.3.2); node leaves the body out.
    const handler = route.methods[(method === 'HEAD' ? 'GET' : method) as 'GET' | 'DELETE'];
    const allowed = Object.keys(route.methods).flatMap((name) => (name === 'GET' ? ['GET', 'HEAD'] : [name])).join(', ');
    // RFC 9110 section 15.5.6: 405 names the allowed methods.
    if (!handler) return errorResponse(405, `${method} is not allowed on ${path}; use ${allowed}`, { Allow: allowed });
    return handler(sources, ...parameters);
  }
  return errorResponse(404, `no such endpoint: ${path}; the API serves /v1/status, /v1/s2s, /v1/c2s, /v1/components, /v1/rooms, /v1/bans, /v1/blocked-domains, /v1/audit, /v1/alerts and /metrics`);
}

/**
 * Draft-ietf-xmpp-dna-01 section 6: the remote domain may no longer send to the local one on
 * the connections where it asked for pairs one by one (`<db:result type='invalid'/>`, the
 * pair alone stops). On a standard stream `invalid` would end the stream (XEP-0220), so a pair
 * carried only there is not revoked: 409, with what to do instead.
 */
function revokePair(sources: AdminSources, local = '', remote = ''): AdminResponse {
  const pair = { local, remote };
  const connections = sources.s2s.revokePair(pair);
  if (connections > 0) return json(200, { revoked: pair, connections } satisfies RevokeAnswer);
  const row = sources.s2s.pairs().find((candidate) => candidate.local === local && candidate.remote === remote);
  if (row && row.inbound.length > 0) {
    const ids = row.inbound.map((binding) => binding.connection.slice(0, 8)).join(', ');
    return errorResponse(409, `${remote} -> ${local} is carried only on standard streams (${ids}), where a revocation would end the stream; close it (trellis s2s close ID) or block ${remote} (trellis s2s block)`);
  }
  return errorResponse(404, `no connection accepts stanzas from ${remote} to ${local}; see: trellis s2s`);
}
