/** s2s.delegation turned into the checks: methods that can run, resolver, POSH, unsigned-SRV policy. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { S2sDelegationConfig } from '../config/types.ts';
import { createDelegationChecks } from './from-config.ts';

const settings = (overrides: Partial<S2sDelegationConfig> = {}): S2sDelegationConfig => ({
  methods: ['dnssec_srv', 'dane', 'posh'],
  resolvers: [],
  resolver_timeout: 3,
  accept_unsigned_srv: [],
  posh: { ca_files: [], use_system_ca: true, timeout: 10, max_bytes: 65536, cache_entries: 100, max_cache_time: 3600 },
  ...overrides,
});

test('without a validating resolver only POSH and host activation can run', async () => {
  const checks = await createDelegationChecks(settings({ methods: ['dnssec_srv', 'dane', 'posh', 'host_activation'] }));
  assert.deepEqual([...checks.methods], ['posh', 'host_activation']);
  assert.equal(checks.resolver, undefined);
  assert.ok(checks.posh);
});

test('with one, every configured method runs; a method left out stays off', async () => {
  const checks = await createDelegationChecks(settings({ resolvers: ['127.0.0.1:5353'], methods: ['dane', 'dnssec_srv'] }));
  assert.deepEqual([...checks.methods].sort(), ['dane', 'dnssec_srv']);
  assert.ok(checks.resolver);
  assert.equal(checks.posh, undefined);
});

test('unsigned SRV delegation is accepted only for the listed domains and patterns', async () => {
  const checks = await createDelegationChecks(settings({ accept_unsigned_srv: ['lab.example', '*.trusted.example'] }));
  assert.ok(checks.acceptsUnsignedSrv('lab.example'));
  assert.ok(checks.acceptsUnsignedSrv('Muc.Trusted.Example'));
  assert.ok(!checks.acceptsUnsignedSrv('trusted.example'));
  assert.ok(!checks.acceptsUnsignedSrv('other.example'));
  assert.ok(!(await createDelegationChecks(settings())).acceptsUnsignedSrv('lab.example'));
});

test('an unreadable POSH CA file is named', async () => {
  await assert.rejects(createDelegationChecks(settings({ posh: { ...settings().posh, ca_files: ['/nonexistent/ca.pem'] } })), /posh\.ca_files: cannot read \/nonexistent\/ca\.pem/);
});
