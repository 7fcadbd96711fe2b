/** The audit trail of peering rules in SQLite (the PolicyAuditStore of src/storage/types.ts). */
import type { DatabaseSync } from 'node:sqlite';
import type { SqliteWrite } from './sqlite-write.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { auditFilter, auditRecordOf } from './codec.ts';
import type { PolicyAuditStore } from './types.ts';

/**
 * Records written per transaction. SQLite runs on the event loop, so a batch of thousands (a
 * second of a busy relay with actions recorded) would hold every stanza for tens of
 * milliseconds; in chunks, other work runs between them. 50 records take about half a
 * millisecond: 250 held a relay's stanzas long enough to show in its p99 (docs/performance.md,
 * "Latency per hop").
 */
const RECORDS_PER_TRANSACTION = 50;

export function sqliteAuditStore(db: DatabaseSync, write: SqliteWrite): PolicyAuditStore {
  const insert = db.prepare('INSERT INTO policy_audit (time, rule, verdict, direction, from_jid, to_jid, kind, label, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const pruneOld = db.prepare('DELETE FROM policy_audit WHERE time < ?');
  const pruneMany = db.prepare('DELETE FROM policy_audit WHERE id <= (SELECT id FROM policy_audit ORDER BY id DESC LIMIT 1 OFFSET ?)');
  return {
    async append(records) {
      for (let start = 0; start < records.length; start += RECORDS_PER_TRANSACTION) {
        if (start > 0) await nextTurn();
        write(() => {
          for (const record of records.slice(start, start + RECORDS_PER_TRANSACTION)) insert.run(record.time, record.rule, record.verdict, record.direction, record.from, record.to, record.kind, record.label ?? null, record.text);
        });
      }
    },
    async query(query) {
      const { where, values } = auditFilter(query, (position) => `?${position}`);
      return db.prepare(`SELECT * FROM policy_audit ${where} ORDER BY id DESC LIMIT ?${values.length + 1}`).all(...values, query.limit).map(auditRecordOf);
    },
    async prune({ before, keep }) {
      return write(() => Number(pruneOld.run(before).changes) + Number(pruneMany.run(keep).changes));
    },
  };
}
