import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { downgradeProtectionHash } from './scram-downgrade.ts';

test('the XEP-0474 section 5.3 example: mechanisms and binding types sorted, joined, hashed with the SCRAM hash', () => {
  const advertised = { mechanisms: ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1'], channelBindings: ['tls-server-end-point', 'tls-exporter'] };
  assert.equal(downgradeProtectionHash('SHA-1', advertised), 'G6k/rBLDqgOhRRaCuuatSDFkJ08=');
});

test('without XEP-0440 types there is no %x1F part, and SHA-256 hashes the same text', () => {
  const expected = createHash('sha256').update('PLAIN\x1eSCRAM-SHA-256').digest('base64');
  assert.equal(downgradeProtectionHash('SHA-256', { mechanisms: ['SCRAM-SHA-256', 'PLAIN'] }), expected);
  assert.notEqual(downgradeProtectionHash('SHA-256', { mechanisms: ['SCRAM-SHA-256', 'PLAIN'], channelBindings: [] }), expected);
});
