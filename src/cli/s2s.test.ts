import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { S2sRow } from '../admin/types.ts';
import { formatDuration } from './admin-call.ts';
import { matchId, s2sTable } from './s2s.ts';

const row = (id: string, overrides: Partial<S2sRow> = {}): S2sRow => ({
  id,
  direction: 'out',
  remoteDomain: 'remote.example',
  remoteAddress: '192.0.2.7:5269',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  certificate: 'valid',
  authentication: 'sasl-external',
  level: 'trusted',
  bidi: false,
  domains: ['local.example -> remote.example'],
  connectedAt: '2026-01-01T00:00:00.000Z',
  idleSeconds: 75,
  bytesIn: 0,
  bytesOut: 0,
  ...overrides,
});

test('durations show two units at most', () => {
  assert.deepEqual([0, 59, 75, 3600, 3725, 90061].map(formatDuration), ['0s', '59s', '1m15s', '1h00m', '1h02m', '1d01h']);
});

test('the table aligns columns and shows what is missing as such', () => {
  const table = s2sTable([row('3f2a9c1e-aaaa'), row('77aa0000-bbbb', { direction: 'in', remoteDomain: null, tls: null, level: null, authentication: 'pending', domains: [] })]);
  const [header, first, second] = table.trimEnd().split('\n');
  assert.match(header!, /^ID {8}DIR {2}REMOTE +ADDRESS +TLS +CERTIFICATE +AUTH +LEVEL +DOMAINS +IDLE$/);
  assert.match(first!, /^3f2a9c1e {2}out {2}remote\.example .*TLSv1\.3 TLS_AES_256_GCM_SHA384 .*sasl-external +trusted +local\.example -> remote\.example +1m15s$/);
  assert.match(second!, /^77aa0000 {2}in {3}\? .* none .* pending +- +- +1m15s$/);
  assert.equal(header!.indexOf('IDLE'), first!.indexOf('1m15s'));
});

test('a unique prefix selects a connection; none or several is explained', () => {
  const rows = [row('3f2a9c1e-aaaa'), row('3f2b0000-bbbb')];
  assert.equal((matchId(rows, '3F2A') as S2sRow).id, '3f2a9c1e-aaaa');
  assert.match(matchId(rows, '3f2') as string, /matches 2 connections/);
  assert.match(matchId(rows, 'ff') as string, /no server connection with an id starting with "ff"/);
});
