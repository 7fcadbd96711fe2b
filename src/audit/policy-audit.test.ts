/** The audit trail and alerts of peering rules, on a real SQLite store: what is recorded, what is kept, what is counted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { handleAuditRequest } from '../admin/audit-routes.ts';
import type { AdminSources } from '../admin/sources.ts';
import type { S2sPeeringAuditConfig } from '../config/types.ts';
import { openSqliteStorage } from '../storage/sqlite.ts';
import type { PolicyAuditRecord } from '../storage/types.ts';
import { memoryLogger } from '../util/log.ts';
import { PolicyAuditTrail } from './policy-audit.ts';

const SETTINGS: S2sPeeringAuditConfig = { enabled: true, record_actions: false, retention_days: 90, max_records: 1000, write_interval: 60, webhook_timeout: 1 };

const decision = (verdict: PolicyAuditRecord['verdict'], index = 0): PolicyAuditRecord => ({
  time: Date.now(),
  rule: `s2s.peering["*"].${verdict === 'refuse' ? 'block' : 'fold_presence'}`,
  verdict,
  direction: 'in',
  from: `x${index}@remote.example`,
  to: 'alice@example.com',
  kind: 'message',
  text: verdict,
});

test('refusals are written and alerted; actions only with record_actions; the alerts kept are the last 100', async () => {
  const storage = await openSqliteStorage(':memory:');
  const trail = new PolicyAuditTrail(storage.policyAudit, SETTINGS, memoryLogger().logger);
  for (let index = 0; index < 120; index++) trail.decided(decision('refuse', index));
  trail.decided(decision('transform'));
  await trail.flush();
  const records = await storage.policyAudit.query({ limit: 1000 });
  assert.equal(records.length, 120);
  assert.ok(records.every((record) => record.verdict === 'refuse'));
  const alerts = trail.alerts();
  assert.equal(alerts.length, 100);
  assert.deepEqual([alerts[0]!.sequence, alerts.at(-1)!.sequence], [21, 120]);
  assert.equal(trail.alerts(118).length, 2);
  const violations = trail.metrics().find((family) => family.name === 'trellis_policy_violations_total')!;
  assert.deepEqual(violations.samples, [{ labels: { rule: 's2s.peering["*"].block' }, value: 120 }]);
  const withActions = new PolicyAuditTrail(storage.policyAudit, { ...SETTINGS, record_actions: true }, memoryLogger().logger);
  withActions.decided(decision('transform'));
  await withActions.close();
  assert.equal((await storage.policyAudit.query({ verdict: 'transform', limit: 10 })).length, 1);
  await trail.close();
  await storage.close();
});

test('records are written once 100 wait, without waiting for write_interval', async () => {
  const storage = await openSqliteStorage(':memory:');
  const trail = new PolicyAuditTrail(storage.policyAudit, { ...SETTINGS, record_actions: true }, memoryLogger().logger);
  /** How many records are written after a few turns of the event loop (a batch goes in transactions of 50, a turn apart). */
  const written = async () => {
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    return (await storage.policyAudit.query({ limit: 1000 })).length;
  };
  for (let index = 0; index < 99; index++) trail.decided(decision('transform', index));
  assert.equal(await written(), 0, 'fewer than 100 wait for write_interval (60 s here)');
  trail.decided(decision('transform', 99));
  assert.equal(await written(), 100);
  for (let index = 100; index < 250; index++) trail.decided(decision('transform', index));
  assert.equal(await written(), 200, 'the last 50 wait');
  await trail.close();
  assert.equal(await written(), 250);
  await storage.close();
});

test('what waits and what a store has not finished writing stay within 10,000 records together', async () => {
  const storage = await openSqliteStorage(':memory:');
  // A store that does not finish: the records handed to it still count against the bound.
  const stalled = { ...storage.policyAudit, append: () => new Promise<void>(() => {}) };
  const trail = new PolicyAuditTrail(stalled, { ...SETTINGS, record_actions: true }, memoryLogger().logger);
  const notKept = () => trail.metrics().find((family) => family.name === 'trellis_policy_audit_not_kept_total')!.samples;
  for (let index = 0; index < 6_000; index++) trail.decided(decision('transform', index));
  void trail.flush();
  for (let index = 6_000; index < 10_100; index++) trail.decided(decision('transform', index));
  assert.deepEqual(notKept(), [{ value: 100 }]);
  void trail.flush();
  trail.decided(decision('transform', 10_100));
  assert.deepEqual(notKept(), [{ value: 101 }], 'a second batch handed over frees nothing');
  await storage.close();
});

test('a webhook that is not there is counted and logged, and the server goes on', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const storage = await openSqliteStorage(':memory:');
  const { logger, lines } = memoryLogger();
  const trail = new PolicyAuditTrail(storage.policyAudit, { ...SETTINGS, webhook: `http://127.0.0.1:${port}/hook` }, logger);
  trail.decided(decision('refuse'));
  trail.decided(decision('refuse', 1));
  await trail.close();
  const failures = trail.metrics().find((family) => family.name === 'trellis_policy_webhook_failures_total')!;
  assert.equal(failures.samples[0]!.value, 2);
  assert.ok(lines.some((line) => line.includes('policy alert webhook failed')));
  assert.equal((await storage.policyAudit.query({ limit: 10 })).length, 2);
  await storage.close();
});

test('the admin API refuses a bad query with what to write', async () => {
  const storage = await openSqliteStorage(':memory:');
  const sources = { audit: { store: storage.policyAudit, alerts: () => [], metrics: () => [] } } as unknown as AdminSources;
  const answers = await Promise.all(['/v1/audit?limit=0', '/v1/audit?since=yesterday', '/v1/audit?verdict=maybe', '/v1/alerts?after=-1'].map((path) => handleAuditRequest('GET', path, sources)));
  assert.deepEqual(answers.map((answer) => answer?.status), [400, 400, 400, 400]);
  assert.match(answers[1]!.body, /since is a time/);
  assert.equal((await handleAuditRequest('DELETE', '/v1/audit', sources))?.status, 405);
  assert.equal(await handleAuditRequest('GET', '/v1/status', sources), undefined);
  assert.equal((await handleAuditRequest('GET', '/v1/audit?since=2026-01-01T00:00:00Z&rule=s2s.peering', sources))?.status, 200);
  await storage.close();
});
