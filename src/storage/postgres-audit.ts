/** The audit trail of peering rules in PostgreSQL (the PolicyAuditStore of src/storage/types.ts). */
import type { Pool } from 'pg';
import { auditFilter, auditRecordOf } from './codec.ts';
import { inTransaction } from './postgres-transaction.ts';
import type { PolicyAuditStore } from './types.ts';

export function postgresAuditStore(pool: Pool): PolicyAuditStore {
  return {
    async append(records) {
      if (records.length === 0) return;
      const columns = 9;
      const rows = records.map((_, index) => `(${Array.from({ length: columns }, (__, column) => `$${index * columns + column + 1}`).join(', ')})`);
      const values = records.flatMap((record) => [record.time, record.rule, record.verdict, record.direction, record.from, record.to, record.kind, record.label ?? null, record.text]);
      await pool.query(`INSERT INTO policy_audit (time, rule, verdict, direction, from_jid, to_jid, kind, label, text) VALUES ${rows.join(', ')}`, values);
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
