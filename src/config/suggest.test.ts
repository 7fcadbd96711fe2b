import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, nearest } from './suggest.ts';

test('editDistance counts insertions, deletions, substitutions and swaps', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['abc', 'abc', 0],
    ['requre_tls', 'require_tls', 1],
    ['port', 'prot', 1],
    ['idle', 'idel', 1],
    ['level', 'lever', 1],
    ['', 'tls', 3],
    ['kitten', 'sitting', 3],
  ];
  for (const [a, b, expected] of cases) assert.equal(editDistance(a, b), expected, `${a} → ${b}`);
});

test('nearest suggests only plausible typos', () => {
  const keys = ['require_tls', 'sasl_mechanisms', 'pre_auth_timeout', 'idle_timeout', 'limits'];
  assert.equal(nearest('requre_tls', keys), 'require_tls');
  assert.equal(nearest('idle_timout', keys), 'idle_timeout');
  assert.equal(nearest('limit', keys), 'limits');
  assert.equal(nearest('federation', keys), undefined);
  assert.equal(nearest('plain', ['SCRAM-SHA-256', 'PLAIN']), 'PLAIN');
  assert.equal(nearest('x', []), undefined);
});
