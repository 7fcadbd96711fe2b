import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { S2sConnectionInfo, S2sPairInfo } from '../s2s/context.ts';
import { PairCounters } from '../s2s/pair-counters.ts';
import { handleAdminRequest } from './routes.ts';
import { ROW } from './s2s-fixtures.ts';
import type { AdminSources } from './sources.ts';


const PAIRS: S2sPairInfo[] = [
  { local: 'local.example', remote: 'remote.example', outbound: [{ connection: ROW.id, method: 'sasl-external', level: 'trusted' }], inbound: [{ connection: ROW.id, method: 'sasl-external', level: 'trusted' }] },
  { local: 'local.example', remote: 'legacy.example', outbound: [], inbound: [{ connection: 'b5c0ffee-0000', method: 'dialback', level: 'encrypted' }] },
];

function sources(rows: S2sConnectionInfo[] = [ROW]): AdminSources & { closed: string[]; revoked: string[] } {
  const closed: string[] = [];
  const revoked: string[] = [];
  const counters = new PairCounters();
  counters.count('in', 'authorized', 'certificate');
  counters.count('in', 'authorized', 'certificate');
  counters.count('in', 'refused', 'keyless');
  counters.count('in', 'authorized', 'host-activation');
  return {
    closed,
    revoked,
    startedAt: Date.now() - 65_000,
    hosts: () => ['local.example'],
    listening: { c2s: [{ address: '127.0.0.1', port: 5222 }], c2sDirectTls: [], s2s: [{ address: '::', port: 5269 }], s2sDirectTls: [] },
    federation: () => 'encrypted',
    c2s: { connections: new Set() },
    s2s: {
      connections: () => rows,
      closeConnection: (id) => {
        closed.push(id);
        return rows.some((row) => row.id === id);
      },
      pairs: () => PAIRS.map((pair) => ({ ...pair })),
      revokePair: (pair) => {
        revoked.push(`${pair.local} ${pair.remote}`);
        return pair.remote === 'remote.example' ? 1 : 0;
      },
      pairCounters: counters,
    },
  };
}

const body = (response: { body: string }): Record<string, unknown> => JSON.parse(response.body) as Record<string, unknown>;

test('status reports version, uptime, hosts, listeners and counts', () => {
  const response = handleAdminRequest('GET', '/v1/status', sources());
  assert.equal(response.status, 200);
  assert.match(response.contentType, /^application\/json/);
  const status = body(response);
  assert.equal(status.uptimeSeconds, 65);
  assert.deepEqual(status.hosts, ['local.example']);
  assert.deepEqual(status.listeners, { c2s: ['127.0.0.1:5222'], c2s_direct_tls: [], s2s: ['[::]:5269'], s2s_direct_tls: [], component: [] });
  assert.deepEqual(status.s2s, { connections: 1, incoming: 0, outgoing: 1 });
  assert.deepEqual(status.c2s, { connections: 0, sessions: 0 });
});

test('s2s rows carry every field, with null for what is unknown and ISO times', () => {
  const pending: S2sConnectionInfo = { ...ROW, id: 'b', direction: 'in', remoteDomain: undefined, tls: undefined, authentication: 'pending', level: undefined, domains: [] };
  const { connections } = body(handleAdminRequest('GET', '/v1/s2s', sources([ROW, pending]))) as { connections: Record<string, unknown>[] };
  assert.equal(connections[0]!.connectedAt, '2026-01-01T00:00:00.000Z');
  assert.deepEqual(connections[0]!.tls, ROW.tls);
  assert.deepEqual([connections[1]!.remoteDomain, connections[1]!.tls, connections[1]!.level], [null, null, null]);
});

test('s2s lists the binding table beside the connections: each pair with its connections and proofs, sorted', () => {
  const { connections, pairs } = body(handleAdminRequest('GET', '/v1/s2s', sources())) as { connections: Record<string, unknown>[]; pairs: S2sPairInfo[] };
  assert.deepEqual(connections[0]!.serverNames, ['remote.example']);
  assert.equal((connections[0]!.pairs as unknown[]).length, 2);
  assert.deepEqual(pairs.map((pair) => pair.remote), ['legacy.example', 'remote.example']);
  assert.deepEqual(pairs[1]!.outbound, [{ connection: ROW.id, method: 'sasl-external', level: 'trusted' }]);
});

test('DELETE on a pair revokes it; 409 when only standard streams carry it, 404 when nothing does', () => {
  const source = sources();
  const revoked = handleAdminRequest('DELETE', '/v1/s2s/pairs/local.example/remote.example', source);
  assert.deepEqual([revoked.status, body(revoked)], [200, { revoked: { local: 'local.example', remote: 'remote.example' }, connections: 1 }]);
  const standard = handleAdminRequest('DELETE', '/v1/s2s/pairs/local.example/legacy.example', source);
  assert.equal(standard.status, 409);
  assert.match(String(body(standard).error), /only on standard streams \(b5c0ffee\).*trellis s2s close ID/);
  assert.equal(handleAdminRequest('DELETE', '/v1/s2s/pairs/local.example/nobody.example', source).status, 404);
  assert.deepEqual(source.revoked, ['local.example remote.example', 'local.example legacy.example', 'local.example nobody.example']);
  assert.equal(handleAdminRequest('DELETE', '/v1/s2s/pairs/local.example', source).status, 404, 'both domains are needed');
  assert.equal(handleAdminRequest('GET', '/v1/s2s/pairs/local.example/remote.example', source).status, 405);
});

test('metrics count connections per peer host, pairs per connection, and pair decisions by proof method', () => {
  const other: S2sConnectionInfo = { ...ROW, id: 'c', direction: 'in', pairs: [] };
  const elsewhere: S2sConnectionInfo = { ...ROW, id: 'd', remoteIp: '198.51.100.1', pairs: Array.from({ length: 30 }, () => ROW.pairs[0]!) };
  const metrics = handleAdminRequest('GET', '/metrics', sources([ROW, other, elsewhere])).body;
  assert.match(metrics, /^trellis_s2s_peer_connections\{address="192\.0\.2\.7"\} 2$/m);
  assert.match(metrics, /^trellis_s2s_peer_connections\{address="198\.51\.100\.1"\} 1$/m);
  assert.match(metrics, /^# TYPE trellis_s2s_connection_pairs histogram$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_bucket\{le="1"\} 1$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_bucket\{le="2"\} 2$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_bucket\{le="20"\} 2$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_bucket\{le="50"\} 3$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_bucket\{le="\+Inf"\} 3$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_sum 32$/m);
  assert.match(metrics, /^trellis_s2s_connection_pairs_count 3$/m);
  assert.match(metrics, /^trellis_s2s_pair_authorizations_total\{direction="in",method="certificate"\} 2$/m);
  assert.match(metrics, /^trellis_s2s_pair_authorizations_total\{direction="in",method="host-activation"\} 1$/m, 'a method the tables record is counted as it comes');
  assert.match(metrics, /^trellis_s2s_pair_authorizations_total\{direction="out",method="posh"\} 0$/m);
  assert.match(metrics, /^trellis_s2s_pair_refusals_total\{direction="in",method="keyless"\} 1$/m);
  assert.match(metrics, /^trellis_s2s_pair_refusals_total\{direction="in",method="dane"\} 0$/m);
});

test('DELETE closes a connection by id, 404 when there is none', () => {
  const source = sources();
  assert.deepEqual([handleAdminRequest('DELETE', `/v1/s2s/${ROW.id}`, source).status, source.closed], [200, [ROW.id]]);
  const missing = handleAdminRequest('DELETE', '/v1/s2s/nothing', source);
  assert.equal(missing.status, 404);
  assert.match(String(body(missing).error), /no server connection with id "nothing"/);
});

test('unknown paths are 404, other methods 405 naming the allowed ones, bad escapes 400', () => {
  assert.equal(handleAdminRequest('GET', '/v2/status', sources()).status, 404);
  assert.equal(handleAdminRequest('GET', '/v1/s2s/a/b', sources()).status, 404);
  const wrong = handleAdminRequest('POST', '/v1/s2s', sources());
  assert.deepEqual([wrong.status, wrong.headers], [405, { Allow: 'GET, HEAD' }]);
  assert.equal(handleAdminRequest('GET', `/v1/s2s/${ROW.id}`, sources()).status, 405);
  assert.equal(handleAdminRequest('GET', '/v1/s2s/%zz', sources()).status, 400);
  assert.equal(handleAdminRequest('GET', '/v1/status/?x=1', sources()).status, 200);
});

test('metrics count server connections per direction and level, zeros included', () => {
  const response = handleAdminRequest('GET', '/metrics', sources());
  assert.match(response.contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(response.body, /^# TYPE trellis_s2s_connections gauge$/m);
  assert.match(response.body, /^trellis_s2s_connections\{direction="out",level="trusted"\} 1$/m);
  assert.match(response.body, /^trellis_s2s_connections\{direction="in",level="none"\} 0$/m);
  assert.match(response.body, /^trellis_c2s_sessions 0$/m);
  assert.match(response.body, /^trellis_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
  assert.ok(response.body.endsWith('\n'));
});

test('metrics carry the process memory and CPU under the usual client-library names', () => {
  const body = handleAdminRequest('GET', '/metrics', sources()).body;
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
  assert.match(body, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(body, /^# TYPE process_resident_memory_bytes gauge$/m);
  // The test process itself is the server here: its figures, read at scrape time.
  const rss = value('process_resident_memory_bytes');
  assert.ok(rss > 10 * 2 ** 20 && Math.abs(rss - process.memoryUsage().rss) < 64 * 2 ** 20, `rss ${rss}`);
  assert.ok(value('process_cpu_seconds_total') > 0);
  assert.ok(value('nodejs_heap_size_used_bytes') > 0 && value('nodejs_heap_size_used_bytes') <= value('nodejs_heap_size_total_bytes'));
  assert.ok(value('nodejs_external_memory_bytes') > 0);
});

test('metrics show how late the event loop was since the previous scrape', async () => {
  handleAdminRequest('GET', '/metrics', sources());
  await new Promise((resolve) => setTimeout(resolve, 30));
  const blockedUntil = performance.now() + 120;
  while (performance.now() < blockedUntil); // the event loop is blocked for 120 ms
  await new Promise((resolve) => setTimeout(resolve, 30));
  const body = handleAdminRequest('GET', '/metrics', sources()).body;
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
  assert.ok(value('nodejs_eventloop_lag_max_seconds') >= 0.08, `max ${value('nodejs_eventloop_lag_max_seconds')} s`);
  assert.ok(value('nodejs_eventloop_lag_p50_seconds') < value('nodejs_eventloop_lag_max_seconds'));
  const after = handleAdminRequest('GET', '/metrics', sources()).body;
  assert.ok(Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(after)?.[1]) < 0.08, 'the next scrape starts afresh');
});
