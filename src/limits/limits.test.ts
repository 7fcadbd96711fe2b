import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LimitsConfig } from '../config/types.ts';
import { memoryLogger } from '../util/log.ts';
import { Element } from '../xml/element.ts';
import { ConnectionGate, isRefusal, type Ticket } from './connection-gate.ts';
import { LoginThrottle } from './login-throttle.ts';
import { judge, softFileLimit, type ProcessMeasurement } from './process-guard.ts';
import { Refusals } from './refusals.ts';

const MIB = 1024 * 1024;

const CONFIG: LimitsConfig = {
  c2s_per_address: 2,
  s2s_per_address: 3,
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
