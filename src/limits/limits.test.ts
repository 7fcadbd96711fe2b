import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LimitsConfig } from '../config/types.ts';
import { memoryLogger } from '../util/log.ts';
import { Element } from '../xml/element.ts';
import { ConnectBackoff } from './connect-backoff.ts';
import { ConnectionGate, isRefusal, type Ticket } from './connection-gate.ts';
import { LoginThrottle } from './login-throttle.ts';
import { judge, softFileLimit, type ProcessMeasurement } from './process-guard.ts';
import { Refusals } from './refusals.ts';

const MIB = 1024 * 1024;

const CONFIG: LimitsConfig = {
  c2s_per_address: 2,
  s2s_per_address: 3,
  component_per_address: 2,
  s2s_new_connections: { per_address: 4, window: 60, backoff: 10, backoff_max: 40, held_per_address: 2 },
  c2s_unauthenticated: 3,
  max_open_files_percent: 90,
  max_heap_percent: 85,
  max_memory_mib: 0,
  log_interval: 60,
  auth: { window: 600, block_duration: 600, max_failures_per_address: 20, max_failures_per_account_address: 5, max_failures_per_account: 50 },
};

test('the gate counts per address (IPv6 by /64) and unauthenticated connections, and releases once', () => {
  const gate = new ConnectionGate(() => CONFIG);
  const a = gate.admit('c2s', '2001:db8:0:1::1') as Ticket;
  gate.admit('c2s', '2001:db8:0:1::2');
  const third = gate.admit('c2s', '2001:db8:0:1:ffff::3');
  assert.ok(isRefusal(third) && third.reason === 'per_address' && third.key === '2001:db8:0:1::/64');
  assert.ok(!isRefusal(gate.admit('c2s', '2001:db8:0:2::1')), 'another /64 is another address');
  const full = gate.admit('c2s', '192.0.2.1');
  assert.ok(isRefusal(full) && full.reason === 'unauthenticated');
  a.authenticated();
  a.authenticated();
  assert.equal(gate.unauthenticated, 2);
  a.release();
  a.release();
  assert.equal(gate.openFrom('c2s', '2001:db8:0:1::9'), 1);
  assert.equal(gate.unauthenticated, 2);
  for (let i = 0; i < 3; i++) assert.ok(!isRefusal(gate.admit('s2s', '192.0.2.9')), 'server connections are counted apart and not as unauthenticated clients');
  assert.ok(isRefusal(gate.admit('s2s', '192.0.2.9')));
});

test('new server connections: a burst per address, then refusal periods that double, and a fresh start after good behaviour', () => {
  const config = { ...CONFIG.s2s_new_connections };
  const backoff = new ConnectBackoff(() => config);
  const refused = (address: string, at: number) => backoff.admit(address, at).refused;
  let now = 1_000_000;
  for (let i = 0; i < 4; i++) assert.equal(refused('192.0.2.1', now), false, 'the burst');
  const first = backoff.admit('192.0.2.1', now);
  assert.ok(first.refused && first.started && first.seconds === 10 && first.key === '192.0.2.1');
  const again = backoff.admit('192.0.2.1', now + 5000);
  assert.ok(again.refused && !again.started && again.until === first.until, 'refused until the period ends, without starting another');
  assert.equal(backoff.refusedUntil('192.0.2.1', now + 5000), first.until);
  assert.equal(refused('192.0.2.2', now), false, 'other addresses are not affected');
  assert.equal(backoff.refusing(now), 1);
  // A peer that keeps reconnecting every 100 ms for ten minutes: the periods double up to
  // backoff_max, and it gets in only as fast as the bucket refills (4 per minute).
  const periods = [first.seconds];
  let admitted = 0;
  for (const end = now + 600_000; now < end; now += 100) {
    const verdict = backoff.admit('192.0.2.1', now);
    if (!verdict.refused) admitted++;
    else if (verdict.started) periods.push(verdict.seconds);
  }
  assert.deepEqual(periods.slice(0, 4), [10, 20, 40, 40]);
  assert.ok(periods.every((seconds) => seconds <= 40));
  assert.ok(admitted <= 4 * 10, `${admitted} admitted in ten minutes`);
  now = Math.max(now, backoff.refusedUntil('192.0.2.1', now) ?? 0);
  // Keeping under the rate for backoff_max after the last period starts the doubling over.
  now += 40_000 + 60_000;
  for (let i = 0; i < 4; i++) assert.equal(refused('192.0.2.1', now), false);
  const fresh = backoff.admit('192.0.2.1', now);
  assert.ok(fresh.refused && fresh.seconds === 10);
  // IPv6 counts by /64; 0 turns the limit off.
  for (let i = 0; i < 4; i++) backoff.admit(`2001:db8:0:1::${i + 1}`, now);
  assert.equal(refused('2001:db8:0:1:ffff::9', now), true);
  config.per_address = 0;
  assert.equal(refused('2001:db8:0:1::1', now), false);
});

const measurement = (changes: Partial<ProcessMeasurement>): ProcessMeasurement => ({
  openFiles: 100,
  maxOpenFiles: 20_000,
  heapUsed: 50 * MIB,
  heapLimit: 4096 * MIB,
  rss: 200 * MIB,
  availableMemory: 8192 * MIB,
  ...changes,
});

test('the process guard refuses near the descriptor limit, the heap limit and the memory budget', () => {
  assert.equal(judge(measurement({}), CONFIG), undefined);
  assert.equal(judge(measurement({ openFiles: 18_000 }), CONFIG)?.reason, 'open_files');
  assert.equal(judge(measurement({ openFiles: 17_999 }), CONFIG), undefined);
  assert.equal(judge(measurement({ openFiles: 19_999 }), { ...CONFIG, max_open_files_percent: 100 }), undefined, '100 turns it off');
  assert.equal(judge(measurement({ heapUsed: 3500 * MIB }), CONFIG)?.reason, 'heap');
  assert.equal(judge(measurement({ rss: 7400 * MIB }), CONFIG)?.reason, 'memory', '90% of the available memory by default');
  assert.equal(judge(measurement({ rss: 7300 * MIB }), CONFIG), undefined);
  assert.equal(judge(measurement({}), { ...CONFIG, max_memory_mib: 100 })?.reason, 'memory');
  assert.equal(softFileLimit('Max cpu time              unlimited            unlimited            seconds\nMax open files            1024                 20000                files\n'), 1024);
  assert.equal(softFileLimit('Max open files            unlimited            unlimited            files\n'), undefined);
});

test('failed logins lengthen the delay across streams and addresses, and a block refuses without looking the account up', async () => {
  const { logger, lines } = memoryLogger();
  const config = { ...CONFIG, auth: { ...CONFIG.auth, max_failures_per_account_address: 3, max_failures_per_account: 100 } };
  const throttle = new LoginThrottle(() => config, logger, new Refusals(logger, () => 60_000));
  const failure = { kind: 'failure' as const, element: new Element('failure', 'urn:ietf:params:xml:ns:xmpp-sasl'), condition: 'not-authorized' };
  const delays: number[] = [];
  for (let stream = 0; stream < 4; stream++) {
    // A new stream from a new address each time: only the account links them.
    const guard = throttle.forStream(`198.51.100.${stream}`, 'example.com');
    await guard.lookup('alice', async () => 'credentials');
    delays.push(guard.failed(guard.review(failure) as typeof failure, 1, 100));
  }
  assert.deepEqual(delays, [100, 200, 400, 800]);
  const guard = throttle.forStream('198.51.100.9', 'example.com');
  for (let i = 0; i < 3; i++) {
    await guard.lookup('bob', async () => 'credentials');
    guard.failed(failure, i + 1, 0);
  }
  let looked = false;
  assert.equal(await guard.lookup('bob', async () => ((looked = true), 'credentials')), undefined);
  assert.equal(looked, false, 'a blocked attempt does not reach storage or the password check');
  const success = { kind: 'success' as const, element: new Element('success', 'urn:ietf:params:xml:ns:xmpp-sasl'), username: 'bob', mechanism: 'PLAIN' };
  assert.equal(guard.review(success).kind, 'failure');
  assert.ok(lines.some((line) => line.includes('c2s login blocked after repeated failures') && line.includes('account=bob@example.com') && line.includes('address=198.51.100.9')));
});
