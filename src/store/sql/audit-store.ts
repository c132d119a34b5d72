// AuditStore over Kysely: an append-only table, read newest first per project.
import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { AuditRecord, NewAuditRecord } from '../../domain/audit.ts';
import type { AuditStore } from '../store.ts';
import type { AuditLogTable, Database } from './schema.ts';

const toRecord = (r: Selectable<AuditLogTable>): AuditRecord => ({
  id: Number(r.id),
  at: Number(r.at),
  projectId: r.project_id,
  actorId: r.actor_id,
  actorName: r.actor_name,
  sourceIp: r.source_ip,
  method: r.method,
  path: r.path,
  operation: r.operation,
  target: r.target,
  statusCode: Number(r.status_code),
  errorCode: r.error_code,
  requestId: r.request_id,
});

/** At most this many records per INSERT statement. */
const MAX_ROWS_PER_INSERT = 32;

const parametersOf = (r: NewAuditRecord) => [r.at, r.projectId, r.actorId, r.actorName, r.sourceIp, r.method, r.path, r.operation, r.target, r.statusCode, r.errorCode, r.requestId];

export function createAuditStore(db: Kysely<Database>): AuditStore {
  // Every mutating call appends a record after its change committed, so the records of calls that
  // were answered together arrive together: those appended in one turn of the event loop go in as
  // one multi-row INSERT (compiled once per row count), and each caller is still answered only
  // after the COMMIT that holds its record. One statement instead of one write per call (bench/api).
  const inserts: CompiledQuery[] = [];
  const insertOf = (rows: number) => {
    const placeholder = { at: 0, project_id: null, actor_id: null, actor_name: null, source_ip: '', method: '', path: '', operation: '', target: null, status_code: 0, error_code: null, request_id: '' };
    return (inserts[rows] ??= db.insertInto('audit_log').values(Array.from({ length: rows }, () => placeholder)).compile());
  };
  let batch: { records: NewAuditRecord[]; written: Promise<void> } | null = null;

  async function write(records: NewAuditRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += MAX_ROWS_PER_INSERT) {
      const chunk = records.slice(i, i + MAX_ROWS_PER_INSERT);
      await db.executeQuery({ ...insertOf(chunk.length), parameters: chunk.flatMap(parametersOf) });
    }
  }

  return {
    append(r) {
      if (!batch) {
        const records: NewAuditRecord[] = [];
        const written = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          batch = null;
          return write(records);
        });
        batch = { records, written };
      }
      batch.records.push(r);
      return batch.written;
    },

    async list(q) {
      let base = db.selectFrom('audit_log').where('project_id', '=', q.projectId);
      if (q.actorId !== undefined) base = base.where('actor_id', '=', q.actorId);
      if (q.operation !== undefined) base = base.where('operation', '=', q.operation);
      if (q.sinceAt !== undefined) base = base.where('at', '>=', q.sinceAt);
      if (q.untilAt !== undefined) base = base.where('at', '<=', q.untilAt);
      const [rows, count] = await Promise.all([
        base.selectAll().orderBy('id', 'desc').offset(q.offset).limit(q.limit).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      ]);
      return { items: rows.map(toRecord), total: Number(count?.n ?? 0) };
    },
  };
}
