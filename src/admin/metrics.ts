/**
 * GET /metrics: the Prometheus text exposition format (version 0.0.4). Only what the server
 * really tracks: gauges read from the live connection tables at scrape time, and the process's
 * own memory and CPU under the names Prometheus client libraries use for them.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FEDERATION_LEVELS } from '../config/types.ts';
import { SERVER_VERSION, c2sRows, componentRows, type AdminSources } from './sources.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * How long the event loop was late, sampled every 10 ms since the previous scrape: one stanza
 * handler or a burst that blocks it delays every connection (the names prom-client uses).
 */
const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
eventLoopDelay.enable();

/** A server connection that has not authenticated a domain yet. */
const NO_LEVEL = 'none';

interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** written after the name: "_bucket", "_sum", "_count" for a histogram's series */
  suffix?: string;
}

type Emit = (type: 'gauge' | 'counter' | 'histogram', name: string, help: string, samples: Sample[]) => void;

/** Upper bounds of the pairs-per-connection histogram. */
const PAIR_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];

/** Proof methods written even at zero, per direction, so that their series do not come and go; others appear when counted. */
const PAIR_METHODS = ['sasl-external', 'dialback', 'certificate', 'dane', 'dnssec-srv', 'unsigned-srv', 'posh'];

/**
 * The two tables in figures: connections per peer host (its IP address, the same whichever side
 * opened them), domain pairs per connection (each direction a binding, at scrape time), and the
 * pairs authorized and refused since the start by direction and proof method.
 */
function s2sTableMetrics(sources: AdminSources, metric: Emit): void {
  const rows = sources.s2s.connections();
  const perPeer = Map.groupBy(rows, (row) => row.remoteIp);
  metric('gauge', 'trellis_s2s_peer_connections', 'Open server connections per peer host (IP address), both directions: one per pair of hosts is the aim (docs/federation.md, "Hosting many domains").', [...perPeer].map(([address, connections]) => ({ labels: { address }, value: connections.length })));
  const buckets = PAIR_BUCKETS.map((bound) => ({ bound, count: rows.filter((row) => row.pairs.length <= bound).length }));
  metric('histogram', 'trellis_s2s_connection_pairs', 'Domain pairs bound to each open server connection at scrape time, each direction counted (the binding table).', [
    ...buckets.map(({ bound, count }) => ({ suffix: '_bucket', labels: { le: String(bound) }, value: count })),
    { suffix: '_bucket', labels: { le: '+Inf' }, value: rows.length },
    { suffix: '_sum', value: rows.reduce((sum, row) => sum + row.pairs.length, 0) },
    { suffix: '_count', value: rows.length },
  ]);
  const counts = sources.s2s.pairCounters?.all();
  if (!counts) return;
  for (const [outcome, name, help] of [
    ['authorized', 'trellis_s2s_pair_authorizations_total', 'Domain pairs authorized on a server connection, by direction (in: we granted it, out: the peer did) and proof method.'],
    ['refused', 'trellis_s2s_pair_refusals_total', 'Domain pairs refused on a server connection, by direction (in: we refused, out: the peer did) and the method that did not prove them ("keyless": a request without a key nothing proved).'],
  ] as const) {
    const series = new Map<string, number>();
    for (const direction of ['in', 'out']) for (const method of PAIR_METHODS) series.set(`${direction} ${method}`, 0);
    for (const entry of counts) if (entry.outcome === outcome) series.set(`${entry.direction} ${entry.method}`, entry.count);
    metric('counter', name, help, [...series].map(([key, value]) => {
      const [direction, method] = key.split(' ') as [string, string];
      return { labels: { direction, method }, value };
    }));
  }
}

export function renderMetrics(sources: AdminSources): string {
  const lines: string[] = [];
  const metric: Emit = (type, name, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const sample of samples) lines.push(`${name}${sample.suffix ?? ''}${formatLabels(sample.labels)} ${sample.value}`);
  };
  const gauge = (name: string, help: string, samples: Sample[]): void => metric('gauge', name, help, samples);

  gauge('trellis_info', 'Version of the running server.', [{ labels: { version: SERVER_VERSION }, value: 1 }]);
  gauge('trellis_start_time_seconds', 'When the server started, in seconds since the epoch.', [{ value: sources.startedAt / 1000 }]);
  gauge('trellis_hosts', 'Domains served.', [{ value: sources.hosts().length }]);
  gauge('trellis_c2s_connections', 'Open client connections, negotiating or bound.', [{ value: sources.c2s.connections.size }]);
  gauge('trellis_c2s_sessions', 'Bound client sessions (resources).', [{ value: c2sRows(sources).length }]);
  if (sources.c2s.sessions) {
    const detached = [...sources.c2s.sessions].filter((session) => session.state === 'detached').length;
    gauge('trellis_c2s_sessions_awaiting_resumption', 'Sessions whose connection dropped, waiting for their client to resume (XEP-0198).', [{ value: detached }]);
  }
  const budget = sources.c2s.budget;
  if (budget) {
    gauge('trellis_c2s_output_bytes', 'Bytes of stanzas held for clients until they have them.', [{ value: budget.used }]);
    gauge('trellis_c2s_output_budget_bytes', 'The most the server holds for all clients (c2s.output.total_buffer).', [{ value: budget.globalLimit }]);
    metric('counter', 'trellis_c2s_output_overflows_total', 'Stanzas that did not fit a session\'s or the total output budget: messages stored offline, requests bounced.', [{ value: budget.overflows }]);
  }
  const resends = sources.s2s.resends;
  if (resends) {
    metric('counter', 'trellis_s2s_resent_total', 'Stanzas a dropped server connection had not confirmed, sent again on a new one.', [{ value: resends.resent }]);
    metric('counter', 'trellis_s2s_unconfirmed_bounced_total', 'Stanzas a dropped server connection had not confirmed, bounced to their senders.', [{ value: resends.bounced }]);
  }
  const s2sOutput = sources.s2s.output;
  if (s2sOutput) {
    gauge('trellis_s2s_output_bytes', 'Bytes of stanzas held for remote servers until they have them.', [{ value: s2sOutput.used }]);
    gauge('trellis_s2s_output_budget_bytes', 'The most the server holds for all server connections (s2s.output.total_buffer).', [{ value: s2sOutput.globalLimit }]);
    metric('counter', 'trellis_s2s_output_overflows_total', "Stanzas bounced because a server connection's or the total output budget was spent.", [{ value: s2sOutput.overflows }]);
  }

  // Every direction and level is written, zero included, so that series do not come and go.
  const counts = new Map<string, number>();
  for (const direction of ['in', 'out']) for (const level of [...FEDERATION_LEVELS, NO_LEVEL]) counts.set(`${direction} ${level}`, 0);
  for (const row of sources.s2s.connections()) {
    const key = `${row.direction} ${row.level ?? NO_LEVEL}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  gauge(
    'trellis_s2s_connections',
    'Open server connections by direction and the federation level they reached ("none" while authenticating).',
    [...counts].map(([key, value]) => {
      const [direction, level] = key.split(' ') as [string, string];
      return { labels: { direction, level }, value };
    }),
  );

  s2sTableMetrics(sources, metric);

  const components = componentRows(sources);
  gauge('trellis_component_connected', 'Whether each configured external component (XEP-0114) is connected (1) or not (0).', components.map((row) => ({ labels: { domain: row.domain }, value: row.connected ? 1 : 0 })));
  metric('counter', 'trellis_component_bounced_total', 'Stanzas for an external component bounced with service-unavailable because it was not connected.', components.map((row) => ({ labels: { domain: row.domain }, value: row.bounced })));

  for (const family of [...(sources.limits?.metrics() ?? []), ...(sources.audit?.metrics() ?? [])]) metric(family.type, family.name, family.help, family.samples);
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  gauge('process_resident_memory_bytes', 'Resident memory of the server process.', [{ value: memory.rss }]);
  metric('counter', 'process_cpu_seconds_total', 'CPU time the server process has used, user and system.', [{ value: (cpu.user + cpu.system) / 1e6 }]);
  gauge('nodejs_heap_size_total_bytes', 'Memory the JavaScript heap holds.', [{ value: memory.heapTotal }]);
  gauge('nodejs_heap_size_used_bytes', 'Memory in use by JavaScript objects.', [{ value: memory.heapUsed }]);
  gauge('nodejs_external_memory_bytes', 'Memory outside the JavaScript heap held by its objects (buffers, TLS, SQLite).', [{ value: memory.external }]);
  // The histogram is in nanoseconds and counts from the previous scrape (none yet: NaN, written as 0).
  const seconds = (nanoseconds: number): number => (Number.isFinite(nanoseconds) ? nanoseconds / 1e9 : 0);
  gauge('nodejs_eventloop_lag_p50_seconds', 'Median event loop delay since the previous scrape.', [{ value: seconds(eventLoopDelay.percentile(50)) }]);
  gauge('nodejs_eventloop_lag_p99_seconds', '99th percentile of the event loop delay since the previous scrape.', [{ value: seconds(eventLoopDelay.percentile(99)) }]);
  gauge('nodejs_eventloop_lag_max_seconds', 'Longest event loop delay since the previous scrape.', [{ value: seconds(eventLoopDelay.max) }]);
  eventLoopDelay.reset();
  return lines.join('\n') + '\n';
}

/** Label values escape backslash, double quote and line feed. */
function formatLabels(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${pairs.join(',')}}`;
}
