/**
 * The event-loop delay is sampled from the first scrape on, so that a server nobody scrapes does
 * not wake every 10 ms for it. In a file of its own: the sampling, once started, lasts for the
 * process, and this test needs a process where no scrape came before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleAdminRequest } from './routes.ts';
import type { AdminSources } from './sources.ts';

const blockFor = (milliseconds: number): void => {
  const until = performance.now() + milliseconds;
  while (performance.now() < until); // the event loop is blocked
};
const maxLag = (body: string): number => Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(body)?.[1]);

test('the event loop is watched from the first scrape on: a delay before it is not counted, one after it is', async () => {
  const sources: AdminSources = {
    startedAt: Date.now(),
    hosts: () => ['local.example'],
    listening: { c2s: [], c2sDirectTls: [], s2s: [], s2sDirectTls: [] },
    federation: () => 'encrypted',
    c2s: { connections: new Set() },
    s2s: { connections: () => [], closeConnection: () => false, pairs: () => [], revokePair: () => 0 },
  };
  await new Promise((resolve) => setTimeout(resolve, 20));
  blockFor(120);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(maxLag(handleAdminRequest('GET', '/metrics', sources).body), 0, 'nothing was sampled before the first scrape');
  await new Promise((resolve) => setTimeout(resolve, 30));
  blockFor(120);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const lag = maxLag(handleAdminRequest('GET', '/metrics', sources).body);
  assert.ok(lag >= 0.08, `the delay after the first scrape is counted: max ${lag} s`);
});
