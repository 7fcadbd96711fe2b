/**
 * GET /metrics: the Prometheus text exposition format (version 0.0.4). Only what the server
 * really tracks: gauges read from the live connection tables at scrape time.
 */
import { FEDERATION_LEVELS } from '../config/types.ts';
import { SERVER_VERSION, c2sRows, type AdminSources } from './sources.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A server connection that has not authenticated a domain yet. */
const NO_LEVEL = 'none';

interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export function renderMetrics(sources: AdminSources): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: Sample[]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const sample of samples) lines.push(`${name}${formatLabels(sample.labels)} ${sample.value}`);
  };

  gauge('trellis_info', 'Version of the running server.', [{ labels: { version: SERVER_VERSION }, value: 1 }]);
  gauge('trellis_start_time_seconds', 'When the server started, in seconds since the epoch.', [{ value: sources.startedAt / 1000 }]);
  gauge('trellis_hosts', 'Domains served.', [{ value: sources.hosts().length }]);
  gauge('trellis_c2s_connections', 'Open client connections, negotiating or bound.', [{ value: sources.c2s.connections.size }]);
  gauge('trellis_c2s_sessions', 'Bound client sessions (resources).', [{ value: c2sRows(sources).length }]);

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
  return lines.join('\n') + '\n';
}

/** Label values escape backslash, double quote and line feed. */
function formatLabels(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${pairs.join(',')}}`;
}
