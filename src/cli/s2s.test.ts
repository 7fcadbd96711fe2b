import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { S2sRow } from '../admin/types.ts';
import { formatDuration } from './admin-call.ts';
import { matchId, pairTable, s2sReport, s2sTable } from './s2s.ts';

const row = (id: string, overrides: Partial<S2sRow> = {}): S2sRow => ({
  id,
  direction: 'out',
  remoteDomain: 'remote.example',
  remoteAddress: '192.0.2.7:5269',
  remoteIp: '192.0.2.7',
  remoteHost: 'xmpp.remote.example',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  certificate: 'valid',
  authentication: 'sasl-external',
  level: 'trusted',
  bidi: false,
  domains: ['local.example -> remote.example'],
  serverNames: ['remote.example'],
  delegatedNames: [],
  pairs: [{ local: 'local.example', remote: 'remote.example', direction: 'out', method: 'sasl-external', level: 'trusted' }],
  connectedAt: '2026-01-01T00:00:00.000Z',
  idleSeconds: 75,
  bytesIn: 0,
  bytesOut: 0,
  stanzasIn: 0,
  stanzasOut: 0,
  errorsIn: 0,
  errorsOut: 0,
  ...overrides,
});

test('durations show two units at most', () => {
  assert.deepEqual([0, 59, 75, 3600, 3725, 90061].map(formatDuration), ['0s', '59s', '1m15s', '1h00m', '1h02m', '1d01h']);
});

test('the table aligns columns and shows what is missing as such', () => {
  const pending: Partial<S2sRow> = { direction: 'in', remoteDomain: null, remoteHost: null, tls: null, level: null, authentication: 'pending', domains: [], serverNames: [], pairs: [] };
  const table = s2sTable([row('3f2a9c1e-aaaa'), row('77aa0000-bbbb', pending)]);
  const [header, first, second] = table.trimEnd().split('\n');
  assert.match(header!, /^ID {8}DIR {2}REMOTE +HOST +ADDRESS +TLS +CERTIFICATE +AUTH +LEVEL +NAMES +DOMAINS +IDLE$/);
  assert.match(first!, /^3f2a9c1e {2}out {2}remote\.example +xmpp\.remote\.example .*TLSv1\.3 TLS_AES_256_GCM_SHA384 .*sasl-external +trusted +remote\.example +local\.example -> remote\.example \(sasl-external\) +1m15s$/);
  assert.match(second!, /^77aa0000 {2}in {3}\? +- .* none .* pending +- +- +- +1m15s$/);
  assert.equal(header!.indexOf('IDLE'), first!.indexOf('1m15s'));
});

test('a unique prefix selects a connection; none or several is explained', () => {
  const rows = [row('3f2a9c1e-aaaa'), row('3f2b0000-bbbb')];
  assert.equal((matchId(rows, '3F2A') as S2sRow).id, '3f2a9c1e-aaaa');
  assert.match(matchId(rows, '3f2') as string, /matches 2 connections/);
  assert.match(matchId(rows, 'ff') as string, /no server connection with an id starting with "ff"/);
});

test('a connection with many names and pairs lists a few and counts the rest; the pairs table lists each pair', () => {
  const pairs = Array.from({ length: 6 }, (_, i) => ({ local: `l${i}.example`, remote: 'remote.example', direction: 'in' as const, method: 'certificate' as const, level: 'trusted' }));
  const many = row('3f2a9c1e-aaaa', { serverNames: ['a', 'b', 'c', 'd', 'e'], delegatedNames: ['f'], pairs });
  const [, line] = s2sTable([many]).trimEnd().split('\n');
  assert.match(line!, / a, b, c and 3 more +l0\.example <- remote\.example \(certificate\), l1\.example <- remote\.example \(certificate\), l2\.example <- remote\.example \(certificate\) and 3 more /);
  const table = pairTable([
    { local: 'l0.example', remote: 'remote.example', outbound: [{ connection: '3f2a9c1e-aaaa', method: 'sasl-external', level: 'trusted' }], inbound: [] },
    { local: 'l1.example', remote: 'remote.example', outbound: [], inbound: [{ connection: '3f2a9c1e-aaaa', method: 'posh', level: 'trusted' }, { connection: '77aa0000-bbbb', method: 'dialback', level: 'encrypted' }] },
  ]);
  assert.deepEqual(table.trimEnd().split('\n').map((text) => text.replace(/ +/g, ' ')), [
    'LOCAL REMOTE OUTBOUND INBOUND',
    'l0.example remote.example 3f2a9c1e sasl-external trusted -',
    'l1.example remote.example - 3f2a9c1e posh trusted, 77aa0000 dialback encrypted',
  ]);
  assert.equal(s2sReport({ connections: [], pairs: [] }), 'no server connections\n');
  assert.match(s2sReport({ connections: [many], pairs: [] }), /\n\nno domain pairs authorized yet\n$/);
});
