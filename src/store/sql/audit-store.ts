// AuditStore over Kysely: an append-only table, read newest first per project.
import type { Kysely, Selectable } from 'kysely';
import type { AuditRecord } from '../../domain/audit.ts';
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

export function createAuditStore(db: Kysely<Database>): AuditStore {
  return {
    async append(r) {
      await db
        .insertInto('audit_log')
        .values({
          at: r.at,
          project_id: r.projectId,
          actor_id: r.actorId,
          actor_name: r.actorName,
          source_ip: r.sourceIp,
          method: r.method,
          path: r.path,
          operation: r.operation,
          target: r.target,
          status_code: r.statusCode,
          error_code: r.errorCode,
          request_id: r.requestId,
        })
        .execute();
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
