/** The storage contract for the audit trail of peering rules (PolicyAuditStore), run by storageContract. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { PolicyAuditRecord, Storage } from './types.ts';

type OpenFor = (t: TestContext) => Promise<Storage>;

/** A rule key path no other test writes, so queries by it see this test's records only. */
const ruleOfThisTest = (): string => `s2s.peering["${randomUUID()}.example"]`;

function record(rule: string, time: number, changes: Partial<PolicyAuditRecord> = {}): PolicyAuditRecord {
  return { time, rule: `${rule}.block`, verdict: 'refuse', direction: 'out', from: 'alice@example.com/r', to: 'bob@partner.example', kind: 'iq', text: 'file transfer may not cross', ...changes };
}

export function policyAuditTests(openFor: OpenFor): void {
  test('records come back newest first, as appended, filtered by rule prefix, verdict and time', async (t) => {
    const storage = await openFor(t);
    const rule = ruleOfThisTest();
    await storage.policyAudit.append([record(rule, 1000), record(rule, 2000, { verdict: 'transform', rule: `${rule}.fold_presence`, kind: 'presence', label: 'SECRET', text: 'removed <status/> 100%_' })]);
    await storage.policyAudit.append([record(rule, 3000, { direction: 'in', from: 'bob@partner.example', to: 'alice@example.com' })]);
    const all = await storage.policyAudit.query({ rule, limit: 10 });
    assert.deepEqual(all.map((row) => row.time), [3000, 2000, 1000]);
    assert.ok(all[0]!.id > all[1]!.id && all[1]!.id > all[2]!.id);
    const { id: _, ...folded } = all[1]!;
    assert.deepEqual(folded, record(rule, 2000, { verdict: 'transform', rule: `${rule}.fold_presence`, kind: 'presence', label: 'SECRET', text: 'removed <status/> 100%_' }));
    assert.equal(all[0]!.label, undefined);
    assert.deepEqual((await storage.policyAudit.query({ rule, verdict: 'refuse', limit: 10 })).map((row) => row.time), [3000, 1000]);
    assert.deepEqual((await storage.policyAudit.query({ rule, since: 2000, limit: 10 })).map((row) => row.time), [3000, 2000]);
    assert.deepEqual((await storage.policyAudit.query({ rule, limit: 1 })).map((row) => row.time), [3000]);
    assert.deepEqual(await storage.policyAudit.query({ rule: `${rule}.block_`, limit: 10 }), [], 'a prefix is matched as written, "_" included');
  });

  test('a batch of more records than one statement takes parameters for is written whole', async (t) => {
    const storage = await openFor(t);
    const rule = ruleOfThisTest();
    // 9 values a record: 8,000 records are 72,000, past PostgreSQL's 65,535 parameters a statement.
    // Every other record labelled: a statement of many records (SQLite writes a transaction's in one) keeps each one's own fields.
    await storage.policyAudit.append(Array.from({ length: 8000 }, (_, index) => record(rule, 10_000 + index, index % 2 === 0 ? { label: `L${index}` } : {})));
    const rows = await storage.policyAudit.query({ rule, limit: 10_000 });
    assert.equal(rows.length, 8000);
    assert.deepEqual(
      rows.map((row) => [row.time, row.label]),
      Array.from({ length: 8000 }, (_, back) => 7999 - back).map((index) => [10_000 + index, index % 2 === 0 ? `L${index}` : undefined]),
    );
  });

  test('pruning keeps the newest records up to a count (SQLite removes the rest a thousand at a time)', async (t) => {
    const storage = await openFor(t);
    const rule = ruleOfThisTest();
    const start = Date.now();
    await storage.policyAudit.append(Array.from({ length: 2500 }, (_, index) => record(rule, start + index)));
    assert.ok((await storage.policyAudit.prune({ before: 0, keep: 1000 })) >= 1500);
    const kept = await storage.policyAudit.query({ rule, limit: 5000 });
    assert.equal(kept.length, 1000);
    assert.deepEqual([kept[0]!.time, kept.at(-1)!.time], [start + 2499, start + 1500]);
  });

  test('pruning removes records older than a time', async (t) => {
    const storage = await openFor(t);
    const rule = ruleOfThisTest();
    await storage.policyAudit.append([record(rule, 5), record(rule, 6), record(rule, Date.now())]);
    assert.ok((await storage.policyAudit.prune({ before: 7, keep: Number.MAX_SAFE_INTEGER })) >= 2);
    assert.equal((await storage.policyAudit.query({ rule, limit: 10 })).length, 1);
  });
}
