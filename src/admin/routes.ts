/**
 * The admin API's endpoints, as a function from method and path to a response, so that the
 * socket server only deals with HTTP and every answer is decided here.
 *
 *   GET    /v1/status      the server: version, uptime, hosts, listeners, connection counts
 *   GET    /v1/s2s         server connections
 *   DELETE /v1/s2s/<id>    close one server connection
 *   GET    /v1/c2s         bound client sessions
 *   GET    /v1/components  external components (XEP-0114), connected or not
 *   GET    /v1/rooms       group-chat rooms (XEP-0045) per service
 *   GET    /metrics        Prometheus text format
 *
 * Bans and domain blocks (/v1/bans, /v1/blocked-domains) are in abuse-routes.ts.
 */
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.ts';
import { c2sRows, componentRows, roomRows, s2sRows, statusReport, type AdminSources } from './sources.ts';

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

type Handler = (sources: AdminSources, parameter: string) => AdminResponse;

interface Route {
  /** a fixed path, or a prefix ending in "/" followed by one path segment (the parameter) */
  path: string;
  withParameter: boolean;
  methods: Partial<Record<'GET' | 'DELETE', Handler>>;
}

const ROUTES: Route[] = [
  { path: '/v1/status', withParameter: false, methods: { GET: (sources) => json(200, statusReport(sources)) } },
  { path: '/v1/s2s', withParameter: false, methods: { GET: (sources) => json(200, { connections: s2sRows(sources) }) } },
  {
    path: '/v1/s2s/',
    withParameter: true,
    methods: {
      DELETE: (sources, id) =>
        sources.s2s.closeConnection(id) ? json(200, { closed: id }) : errorResponse(404, `no server connection with id ${JSON.stringify(id)}`),
    },
  },
  { path: '/v1/c2s', withParameter: false, methods: { GET: (sources) => json(200, { sessions: c2sRows(sources) }) } },
  { path: '/v1/components', withParameter: false, methods: { GET: (sources) => json(200, { components: componentRows(sources) }) } },
  { path: '/v1/rooms', withParameter: false, methods: { GET: (sources) => json(200, { services: roomRows(sources) }) } },
  { path: '/metrics', withParameter: false, methods: { GET: (sources) => ({ status: 200, contentType: METRICS_CONTENT_TYPE, body: renderMetrics(sources) }) } },
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
    let parameter = '';
    if (route.withParameter) {
      if (!path.startsWith(route.path)) continue;
      parameter = path.slice(route.path.length);
      if (parameter === '' || parameter.includes('/')) continue;
    } else if (path !== route.path) {
      continue;
    }
    // HEAD is GET without the body (RFC 9110 section 9.3.2); node leaves the body out.
    const handler = route.methods[(method === 'HEAD' ? 'GET' : method) as 'GET' | 'DELETE'];
    const allowed = Object.keys(route.methods).flatMap((name) => (name === 'GET' ? ['GET', 'HEAD'] : [name])).join(', ');
    // RFC 9110 section 15.5.6: 405 names the allowed methods.
    if (!handler) return errorResponse(405, `${method} is not allowed on ${path}; use ${allowed}`, { Allow: allowed });
    return handler(sources, parameter);
  }
  return errorResponse(404, `no such endpoint: ${path}; the API serves /v1/status, /v1/s2s, /v1/c2s, /v1/components, /v1/rooms, /v1/bans, /v1/blocked-domains and /metrics`);
}
