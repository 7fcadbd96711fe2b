/** The audit trail of peering rules in PostgreSQL (the PolicyAuditStore of src/storage/types.ts). */
import type { Pool } from 'pg';
import { auditFilter, auditRecordOf } from './codec.ts';
import { inTransaction } from './postgres-transaction.ts';
import type { PolicyAuditStore } from './types.ts';

/** values a record */
const COLUMNS = 9;
/**
 * Records a statement inserts: the protocol's Bind message counts parameters in 16 bits, so a
 * statement takes at most 65,535 (PostgreSQL's documentation, "Message Formats"), 7,281 records.
 */
const RECORDS_PER_STATEMENT = 1000;

export function postgresAuditStore(pool: Pool): PolicyAuditStore {
  return {
    async append(records) {
      for (let start = 0; start < records.length; start += RECORDS_PER_STATEMENT) {
        const chunk = records.slice(start, start + RECORDS_PER_STATEMENT);
        const rows = chunk.map((_, index) => `(${Array.from({ length: COLUMNS }, (__, column) => `$${index * COLUMNS + column + 1}`).join(', ')})`);
        const values = chunk.flatMap((record) => [record.time, record.rule, record.verdict, record.direction, record.from, record.to, record.kind, record.label ?? null, record.text]);
        await pool.query(`INSERT INTO policy_audit (time, rule, verdict, direction, from_jid, to_jid, kind, label, text) VALUES ${rows.join(', ')}`, values);
      }
    },
    async query(query) {
      const { where, values } = auditFilter(query, (position) => `$${position}`);
      const { rows } = await pool.query(`SELECT * FROM policy_audit ${where} ORDER BY id DESC LIMIT $${values.length + 1}`, [...values, query.limit]);
      return rows.map(auditRecordOf);
    },
    async prune({ before, keep }) {
      return inTransaction(pool, async (client) => {
        const old = await client.query('DELETE FROM policy_audit WHERE time < $1', [before]);
        const many = await client.query('DELETE FROM policy_audit WHERE id <= (SELECT id FROM policy_audit ORDER BY id DESC LIMIT 1 OFFSET $1)', [keep]);
        return (old.rowCount ?? 0) + (many.rowCount ?? 0);
      });
    },
  };
}
