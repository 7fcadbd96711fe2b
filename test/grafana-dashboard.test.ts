/**
 * docs/grafana-dashboard.json stays true: every metric its panels query is one a running server
 * serves at /metrics (a renamed or removed metric would leave an empty panel).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { adminRequest } from '../src/admin/client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
}

/** The metric names an expression reads: identifiers that are not PromQL's own words or label names. */
function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}|\[[^\]]*\]/g, '').replace(/\b(by|without)\s*\([^)]*\)/g, '');
  const words = withoutLabels.match(/[a-z_][a-z0-9_]*/g) ?? [];
  const promql = new Set(['sum', 'rate', 'irate', 'increase', 'avg', 'max', 'min', 'count', 'histogram_quantile', 'by', 'without']);
  return words.filter((word) => !promql.has(word));
}

let server: TestServer;
before(async () => {
  server = await startTestServer();
  await server.addUser('alice', 'localhost', 'secret');
  (await login(server, { username: 'alice', password: 'secret', resource: 'r' })).client.close();
});
after(() => server.stop());

test('every metric the Grafana dashboard queries is served at /metrics', async () => {
  const dashboard = JSON.parse(await readFile(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
  const scrape = (await adminRequest(server.server.adminSocket!, 'GET', '/metrics')).body;
  const served = new Set([...scrape.matchAll(/^# HELP (\S+)/gm)].map((match) => match[1]!));
  const queried = dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => metricNames(target.expr).map((name) => ({ panel: panel.title, name }))));
  assert.ok(queried.length >= 20, `${queried.length} metrics queried`);
  const missing = queried.filter(({ name }) => !served.has(name));
  assert.deepEqual(missing, [], 'queried by the dashboard but not served');
});
