/** docs/cluster.md cannot drift: its example configuration set loads, and its nodes agree on what they share. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConfig } from '../config/load.ts';

const DOC = readFileSync(new URL('../../docs/cluster.md', import.meta.url), 'utf8');
const examples = new Map([...DOC.matchAll(/```yaml\n# example: ([\w-]+)\n([\s\S]*?)```/g)].map((match) => [match[1]!, parseConfig(match[2]!, { baseDir: '/srv/trellis' })]));

test('every YAML block of docs/cluster.md is a named example that loads', () => {
  assert.equal(examples.size, DOC.match(/```yaml\n/g)?.length ?? 0);
  assert.deepEqual([...examples.keys()], ['node1', 'node2', 'node3']);
});

test('the three nodes share hosts, PostgreSQL and Redis, and each has a name and an address of its own', () => {
  const configs = [...examples.values()];
  const shared = configs.map((config) => JSON.stringify({ hosts: config.hosts, storage: config.storage, redis: config.cluster?.redis_url, prefix: config.cluster?.key_prefix }));
  assert.equal(new Set(shared).size, 1);
  assert.ok(configs.every((config) => config.storage.driver === 'postgres' && config.cluster !== undefined));
  assert.deepEqual(configs.map((config) => config.cluster!.node), ['node1', 'node2', 'node3']);
  assert.equal(new Set(configs.map((config) => config.listeners.c2s.addresses.join())).size, 3);
  // Federation is shared (one node per remote domain sends), and a peer may reach any node.
  assert.ok(configs.every((config) => config.s2s.enabled && config.listeners.s2s.enabled));
  assert.equal(new Set(configs.map((config) => config.listeners.s2s.addresses.join())).size, 3);
});

test('the table of what fails names the behaviours the timings control', () => {
  const config = examples.get('node1')!;
  assert.ok(config.cluster!.lease_ms >= 3 * config.cluster!.heartbeat_interval_ms);
  for (const key of ['lease_ms', 'heartbeat_interval_ms', 'inbox_max_entries']) assert.match(DOC, new RegExp(`cluster\\.${key}|\`${key}\``));
});
