/** The audit trail of peering rules in SQLite (the PolicyAuditStore of src/storage/types.ts). */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SqliteWrite } from './sqlite-write.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { auditFilter, auditRecordOf } from './codec.ts';
import type { PolicyAuditRecord, PolicyAuditStore } from './types.ts';

/**
 * Records written per transaction. SQLite runs on the event loop, so a batch of thousands (a
 * second of a busy relay with actions recorded) would hold every stanza for tens of
 * milliseconds; in chunks, other work runs between them. 50 records take about half a
 * millisecond: 250 held a relay's stanzas long enough to show in its p99 (docs/performance.md,
 * "Latency per hop").
 */
const RECORDS_PER_TRANSACTION = 50;
/**
 * Records one pruning transaction removes. A busy trail's minute of records (600,000 at 10,000 a
 * second, once `max_records` is reached) removed by one statement held the event loop for
 * seconds; in chunks, other work runs between them.
 */
const PRUNED_PER_TRANSACTION = 1000;

const INSERT = 'INSERT INTO policy_audit (time, rule, verdict, direction, from_jid, to_jid, kind, label, text) VALUES ';
const ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';

export function sqliteAuditStore(db: DatabaseSync, write: SqliteWrite): PolicyAuditStore {
  const insert = db.prepare(INSERT + ROW);
  // A whole transaction's records in one statement: 2.1 µs a record against 2.8 with one statement each (docs/performance.md, "Latency per hop").
  const insertChunk = db.prepare(INSERT + Array<string>(RECORDS_PER_TRANSACTION).fill(ROW).join(', '));
  const fieldsOf = (record: PolicyAuditRecord): (string | number | null)[] => [record.time, record.rule, record.verdict, record.direction, record.from, record.to, record.kind, record.label ?? null, record.text];
  const pruneOld = db.prepare('DELETE FROM policy_audit WHERE id IN (SELECT id FROM policy_audit WHERE time < ?1 ORDER BY time LIMIT ?2)');
  const pruneUpTo = db.prepare('DELETE FROM policy_audit WHERE id IN (SELECT id FROM policy_audit WHERE id <= ?1 ORDER BY id LIMIT ?2)');
  // IDs grow by one a record (AUTOINCREMENT never reuses one), so the newest `keep` are those above the last ID less `keep`.
  const lastId = db.prepare('SELECT max(id) AS id FROM policy_audit');
  /** Runs `statement` (bound, chunk size) in transactions of its own, a turn apart, until one removes less than a chunk. */
  const removeInChunks = async (statement: StatementSync, bound: number): Promise<number> => {
    let removed = 0;
    for (;;) {
      const changes = write(() => Number(statement.run(bound, PRUNED_PER_TRANSACTION).changes));
      removed += changes;
      if (changes < PRUNED_PER_TRANSACTION) return removed;
      await nextTurn();
    }
  };
  return {
    async append(records) {
      for (let start = 0; start < records.length; start += RECORDS_PER_TRANSACTION) {
        if (start > 0) await nextTurn();
        const chunk = records.slice(start, start + RECORDS_PER_TRANSACTION);
        write(() => {
          if (chunk.length === RECORDS_PER_TRANSACTION) insertChunk.run(...chunk.flatMap(fieldsOf));
          else for (const record of chunk) insert.run(...fieldsOf(record));
        });
      }
    },
    async query(query) {
      const { where, values } = auditFilter(query, (position) => `?${position}`);
      return db.prepare(`SELECT * FROM policy_audit ${where} ORDER BY id DESC LIMIT ?${values.length + 1}`).all(...values, query.limit).map(auditRecordOf);
    },
    async prune({ before, keep }) {
      const old = await removeInChunks(pruneOld, before);
      const last = Number((lastId.get() as { id: number | null }).id ?? 0);
      return old + (last > keep ? await removeInChunks(pruneUpTo, last - keep) : 0);
    },
  };
}
