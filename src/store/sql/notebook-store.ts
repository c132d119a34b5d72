// NotebookStore over Kysely, shared by SQLite and PostgreSQL. The JSON `doc` is the record;
// the other columns and the tag rows are re-derived from it on every write.
import { sql, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool, type Transaction } from 'kysely';
import { dueAt } from '../../domain/lease.ts';
import { NOTEBOOK_STATUSES, type NotebookStatus } from '../../domain/lifecycle.ts';
import type { Notebook, NotebookEvent } from '../../domain/notebook.ts';
import { VersionConflict, type NotebookQuery, type NotebookStore, type Page, type SortKey } from '../store.ts';
import type { Database, NotebookEventsTable, NotebooksTable } from './schema.ts';

/** Statuses the reconciler has nothing to do for; everything else (transitional, RUNNING) is active. */
const INACTIVE: ReadonlySet<NotebookStatus> = new Set([
  'STOPPED',
  'DELETED',
  'CREATE_FAILED',
  'START_FAILED',
  'ERROR',
  'DELETE_FAILED',
  'FROZEN',
]);
// Listed positively so that the status index serves the query (an IN list, not NOT IN).
const ACTIVE: readonly NotebookStatus[] = NOTEBOOK_STATUSES.filter((s) => !INACTIVE.has(s));

const SORT_COLUMNS = {
  create_at: 'create_at',
  update_at: 'update_at',
  name: 'name',
  status: 'status',
  flavor: 'flavor_id',
} as const satisfies Record<SortKey, keyof NotebooksTable>;

type Db = Kysely<Database> | Transaction<Database>;

const notebookRow = (nb: Notebook): NotebooksTable => ({
  id: nb.id,
  project_id: nb.projectId,
  owner_id: nb.owner.id,
  name: nb.name,
  name_lower: nb.name.toLowerCase(),
  status: nb.status,
  flavor_id: nb.flavorId,
  image_id: nb.imageId,
  feature: nb.feature,
  pool_id: nb.poolId,
  workspace_id: nb.workspaceId,
  create_at: nb.createAt,
  update_at: nb.updateAt,
  version: nb.version,
  due_at: dueAt(nb),
  doc: JSON.stringify(nb),
});

const toNotebook = (row: Pick<NotebooksTable, 'doc' | 'version'>): Notebook => ({
  ...(JSON.parse(row.doc) as Notebook),
  version: Number(row.version),
});

const toEvent = (row: Selectable<NotebookEventsTable>): NotebookEvent => {
  const event: NotebookEvent = {
    id: Number(row.id),
    notebookId: row.notebook_id,
    at: Number(row.at),
    type: row.type,
    message: row.message,
  };
  if (row.data !== null) event.data = JSON.parse(row.data) as Record<string, unknown>;
  return event;
};

/** Escapes LIKE wildcards so user input matches literally (used with ESCAPE '\'). */
const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function filters(eb: ExpressionBuilder<Database, 'notebooks'>, q: NotebookQuery): Expression<SqlBool> {
  const conds: Expression<SqlBool>[] = [eb('notebooks.project_id', '=', q.projectId)];
  if (q.ownerId !== undefined) conds.push(eb('notebooks.owner_id', '=', q.ownerId));
  if (q.nameContains !== undefined) {
    const pattern = `%${escapeLike(q.nameContains.toLowerCase())}%`;
    conds.push(sql<SqlBool>`${sql.ref('notebooks.name_lower')} like ${pattern} escape '\\'`);
  }
  if (q.id !== undefined) conds.push(eb('notebooks.id', '=', q.id));
  if (q.status !== undefined) conds.push(eb('notebooks.status', '=', q.status));
  if (q.flavorId !== undefined) conds.push(eb('notebooks.flavor_id', '=', q.flavorId));
  if (q.imageId !== undefined) conds.push(eb('notebooks.image_id', '=', q.imageId));
  if (q.feature !== undefined) conds.push(eb('notebooks.feature', '=', q.feature));
  if (q.poolId !== undefined) conds.push(eb('notebooks.pool_id', '=', q.poolId));
  if (q.workspaceId !== undefined) conds.push(eb('notebooks.workspace_id', '=', q.workspaceId));
  for (const tag of q.tags ?? []) {
    let match = eb
      .selectFrom('notebook_tags')
      .select(sql.lit(1).as('one'))
      .whereRef('notebook_tags.notebook_id', '=', 'notebooks.id')
      .where('notebook_tags.key', '=', tag.key);
    if (tag.value !== undefined) match = match.where('notebook_tags.value', '=', tag.value);
    conds.push(eb.exists(match));
  }
  if (!q.includeDeleted) conds.push(eb('notebooks.status', '!=', 'DELETED'));
  return eb.and(conds);
}

async function writeTags(db: Db, nb: Notebook, replace: boolean): Promise<void> {
  if (replace) await db.deleteFrom('notebook_tags').where('notebook_id', '=', nb.id).execute();
  // Distinct pairs: the same key=value twice in a record is one tag row.
  const pairs = new Map(nb.tags.map((t) => [JSON.stringify([t.key, t.value]), t]));
  if (pairs.size === 0) return;
  await db
    .insertInto('notebook_tags')
    .values([...pairs.values()].map((t) => ({ notebook_id: nb.id, key: t.key, value: t.value })))
    .execute();
}

async function writeEvents(db: Db, events: readonly NotebookEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('notebook_events')
    .values(
      events.map((e) => ({
        notebook_id: e.notebookId,
        at: e.at,
        type: e.type,
        message: e.message,
        data: e.data === undefined ? null : JSON.stringify(e.data),
      })),
    )
    .execute();
}

const countOf = (row: { n: number | string | bigint } | undefined): number => Number(row?.n ?? 0);

export function createNotebookStore(db: Kysely<Database>): NotebookStore {
  return {
    async insert(nb, events) {
      const stored: Notebook = { ...nb, version: 1 };
      const row = notebookRow(stored);
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('notebooks').values(row).execute();
        await writeTags(trx, stored, false);
        await writeEvents(trx, events);
      });
      // Read back through JSON, so the caller gets exactly what get() will return.
      return toNotebook(row);
    },

    async get(id) {
      const row = await db.selectFrom('notebooks').select(['doc', 'version']).where('id', '=', id).executeTakeFirst();
      return row && toNotebook(row);
    },

    async update(next, events) {
      const stored: Notebook = { ...next, version: next.version + 1 };
      const row = notebookRow(stored);
      const { id: _id, ...columns } = row;
      await db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('notebooks')
          .set(columns)
          .where('id', '=', next.id)
          .where('version', '=', next.version)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw new VersionConflict(next.id);
        await writeTags(trx, stored, true);
        await writeEvents(trx, events);
      });
      return toNotebook(row);
    },

    async list(q): Promise<Page<Notebook>> {
      const dir = q.sortDir === 'ASC' ? 'asc' : 'desc';
      const [rows, count] = await Promise.all([
        db
          .selectFrom('notebooks')
          .select(['doc', 'version'])
          .where((eb) => filters(eb, q))
          .orderBy(SORT_COLUMNS[q.sortKey], dir)
          .orderBy('id', dir)
          .offset(q.offset)
          .limit(q.limit)
          .execute(),
        db
          .selectFrom('notebooks')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where((eb) => filters(eb, q))
          .executeTakeFirst(),
      ]);
      return { items: rows.map(toNotebook), total: countOf(count) };
    },

    async listActive() {
      const rows = await db.selectFrom('notebooks').select(['doc', 'version']).where('status', 'in', ACTIVE).orderBy('id').execute();
      return rows.map(toNotebook);
    },

    async nextDueAt() {
      // `is not null` lets both planners use the partial due_at index.
      const row = await db
        .selectFrom('notebooks')
        .select('due_at')
        .where('due_at', 'is not', null)
        .orderBy('due_at')
        .limit(1)
        .executeTakeFirst();
      return row?.due_at == null ? null : Number(row.due_at);
    },

    async listDue(now, limit) {
      const rows = await db
        .selectFrom('notebooks')
        .select(['doc', 'version'])
        .where('due_at', 'is not', null)
        .where('due_at', '<=', now)
        .orderBy('due_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toNotebook);
    },

    async countByOwner(projectId, ownerId, feature) {
      let q = db
        .selectFrom('notebooks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', projectId)
        .where('owner_id', '=', ownerId)
        .where('status', '!=', 'DELETED');
      if (feature !== undefined) q = q.where('feature', '=', feature);
      return countOf(await q.executeTakeFirst());
    },

    async tagSummary(projectId) {
      const rows = await db
        .selectFrom('notebook_tags')
        .innerJoin('notebooks', 'notebooks.id', 'notebook_tags.notebook_id')
        .select(['notebook_tags.key', 'notebook_tags.value'])
        .distinct()
        .where('notebooks.project_id', '=', projectId)
        .where('notebooks.status', '!=', 'DELETED')
        .execute();
      const byKey = new Map<string, Set<string>>();
      for (const { key, value } of rows) byKey.set(key, (byKey.get(key) ?? new Set()).add(value));
      // Sorted here, not in SQL, so the order is the same whatever the database's collation.
      const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      return [...byKey.keys()].sort(byCodeUnit).map((key) => ({ key, values: [...byKey.get(key)!].sort(byCodeUnit) }));
    },

    async countUsingImage(imageId) {
      const row = await db
        .selectFrom('notebooks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('image_id', '=', imageId)
        .where('status', '!=', 'DELETED')
        .executeTakeFirst();
      return countOf(row);
    },

    async usageRows(projectId) {
      const rows = await db
        .selectFrom('notebooks')
        .select(['id', 'owner_id', 'status', 'flavor_id', 'doc'])
        .where('project_id', '=', projectId)
        .where('status', '!=', 'DELETED')
        .execute();
      return rows.map((r) => {
        const { volume } = JSON.parse(r.doc) as Pick<Notebook, 'volume'>;
        return {
          id: r.id,
          ownerId: r.owner_id,
          status: r.status as NotebookStatus,
          flavorId: r.flavor_id,
          storageGb: volume.pendingCapacityGb ?? volume.capacityGb,
        };
      });
    },

    async events(notebookId, afterId, limit) {
      const rows = await db
        .selectFrom('notebook_events')
        .selectAll()
        .where('notebook_id', '=', notebookId)
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toEvent);
    },

    async eventsSince(afterId, limit) {
      const rows = await db.selectFrom('notebook_events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
      return rows.map(toEvent);
    },

    async appendEvents(events) {
      await writeEvents(db, events);
    },
  };
}
