// NotebookStore over Kysely, shared by SQLite and PostgreSQL. The JSON `doc` is the record;
// the other columns and the tag rows are re-derived from it on every write.
import { sql, type CompiledQuery, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool, type Transaction } from 'kysely';
import { dueAt } from '../../domain/lease.ts';
import { NOTEBOOK_STATUSES, type NotebookStatus } from '../../domain/lifecycle.ts';
import type { Notebook, NotebookEvent } from '../../domain/notebook.ts';
import { VersionConflict, type NotebookQuery, type NotebookStore, type Page, type SortKey } from '../store.ts';
import type { Database, NotebookEventsTable, NotebooksTable, StoreKind } from './schema.ts';

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

/** The columns derived from a record, all but its id, version and document. */
const derivedColumns = (nb: Notebook) => ({
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
  due_at: dueAt(nb),
});

const notebookRow = (nb: Notebook): NotebooksTable => ({ id: nb.id, ...derivedColumns(nb), version: nb.version, doc: JSON.stringify(nb) });

const sameTags = (a: Notebook['tags'], b: Notebook['tags']) => a.length === b.length && a.every((t, i) => t.key === b[i]!.key && t.value === b[i]!.value);

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

/**
 * Each dialect's plain substring search (position, 0 when absent): user input matches literally
 * with no wildcards to escape, and it costs less per index entry than LIKE '%…%' (SQLite's LIKE
 * folds case character by character; the column is lower-cased already). bench/api/list-store.ts.
 */
const SUBSTRING_POSITION = { sqlite: 'instr', postgres: 'strpos' } as const satisfies Record<StoreKind, string>;

function filters(eb: ExpressionBuilder<Database, 'notebooks'>, q: NotebookQuery, kind: StoreKind): Expression<SqlBool> {
  const conds: Expression<SqlBool>[] = [eb('notebooks.project_id', '=', q.projectId)];
  if (q.ownerId !== undefined) conds.push(eb('notebooks.owner_id', '=', q.ownerId));
  if (q.nameContains !== undefined) {
    conds.push(sql<SqlBool>`${sql.raw(SUBSTRING_POSITION[kind])}(${sql.ref('notebooks.name_lower')}, ${q.nameContains.toLowerCase()}) > 0`);
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

const countOf = (row: { n: number | string | bigint } | undefined): number => Number(row?.n ?? 0);

/**
 * How many ids past the page a filtered list walk collects. A filter other than project and owner
 * is checked entry by entry along the sort order, so a filtered page can sit deep in the range and
 * a page query plus a count would walk it twice. One walk that collects the matching ids (at most
 * this many past the page, inside the database) gives the page and, when it ends early, the exact
 * total; a walk that reaches the cap costs one count more (bench/api/list-store.ts).
 */
export const LIST_LOOKAHEAD = 1000;

/** Whether the query filters on more than project, owner and "not deleted". */
const narrows = (q: NotebookQuery): boolean =>
  q.nameContains !== undefined ||
  q.id !== undefined ||
  q.status !== undefined ||
  q.flavorId !== undefined ||
  q.imageId !== undefined ||
  q.feature !== undefined ||
  q.poolId !== undefined ||
  q.workspaceId !== undefined ||
  (q.tags !== undefined && q.tags.length > 0);

/** At most this many events per INSERT statement. */
const EVENTS_PER_INSERT = 16;

/** Columns that are compared before an update when only changed ones are set (all but id, version, doc). */
const INDEXED = ['project_id', 'owner_id', 'name', 'name_lower', 'status', 'flavor_id', 'image_id', 'feature', 'pool_id', 'workspace_id', 'create_at', 'update_at', 'due_at'] as const;
type Derived = ReturnType<typeof derivedColumns>;

export interface NotebookStoreOptions {
  kind: StoreKind;
  /** Update only the columns whose value changed (SQLite; see update()). */
  setChangedOnly?: boolean;
  /** Turns a row read by a list into its record (record-cache.ts: the cached one at that version); default: parse it. */
  read?: (id: string, version: number, parse: () => Notebook) => Notebook;
}

export function createNotebookStore(db: Kysely<Database>, opts: NotebookStoreOptions): NotebookStore {
  const fromRow = (row: Pick<NotebooksTable, 'id' | 'doc' | 'version'>): Notebook =>
    opts.read ? opts.read(row.id, Number(row.version), () => toNotebook(row)) : toNotebook(row);
  // The hottest query (ShowNotebook, every write's read) is compiled once; only its parameter changes.
  const getById = db.selectFrom('notebooks').select(['doc', 'version']).where('id', '=', '').compile();
  // Updates are compiled once per set of changed columns (a handful occur: a renew sets the
  // document, version, update time and due time): building a query costs more than running it.
  const updates = new Map<string, CompiledQuery>();
  function compiledUpdate(columns: Partial<Derived>, version: number, doc: string, id: string, expectedVersion: number): CompiledQuery {
    const names = Object.keys(columns) as (keyof Derived)[];
    const key = names.join();
    let compiled = updates.get(key);
    if (!compiled) {
      const placeholders = Object.fromEntries(names.map((n) => [n, null]));
      compiled = db.updateTable('notebooks').set({ ...placeholders, version: 0, doc: '' }).where('id', '=', '').where('version', '=', 0).compile();
      updates.set(key, compiled);
    }
    // Parameters in the order compiled: the SET values as named, then the WHERE values.
    return { ...compiled, parameters: [...names.map((n) => columns[n]), version, doc, id, expectedVersion] };
  }

  // Event inserts are compiled once per row count (most writes append one or two; coalesced
  // writers one each), in statements of at most EVENTS_PER_INSERT rows.
  const eventInserts: CompiledQuery[] = [];
  const eventPlaceholder = { notebook_id: '', at: 0, type: '', message: '', data: null };
  async function writeEvents(trx: Db, events: readonly NotebookEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += EVENTS_PER_INSERT) {
      const chunk = events.slice(i, i + EVENTS_PER_INSERT);
      const insert = (eventInserts[chunk.length] ??= db.insertInto('notebook_events').values(chunk.map(() => eventPlaceholder)).compile());
      const parameters = chunk.flatMap((e) => [e.notebookId, e.at, e.type, e.message, e.data === undefined ? null : JSON.stringify(e.data)]);
      await trx.executeQuery({ ...insert, parameters });
    }
  }
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
      const { rows } = await db.executeQuery<Pick<NotebooksTable, 'doc' | 'version'>>({ ...getById, parameters: [id] });
      return rows[0] && toNotebook(rows[0]);
    },

    async update(next, events, steps = 1, base?) {
      const stored: Notebook = { ...next, version: next.version + steps };
      const doc = JSON.stringify(stored);
      const derived = derivedColumns(stored);
      // The caller's base is what the compare-and-set below finds stored (the version is the
      // guard), so what changed is known without reading the row again.
      const before = base?.id === next.id && base.version === next.version ? base : undefined;
      await db.transaction().execute(async (trx) => {
        let columns: Partial<Derived> = derived;
        if (opts.setChangedOnly) {
          // SQLite rewrites every index on a column named in SET, changed or not (and each page it
          // touches is one more WAL frame at commit): name only what changed. A RenewLease then
          // touches the row and the due-time index instead of all six indexes (bench/api).
          const old = before ? derivedColumns(before) : await trx.selectFrom('notebooks').select(INDEXED).where('id', '=', next.id).where('version', '=', next.version).executeTakeFirst();
          if (!old) throw new VersionConflict(next.id);
          columns = {};
          for (const c of INDEXED) if (old[c] !== derived[c]) (columns as Record<string, unknown>)[c] = derived[c];
        }
        const result = await trx.executeQuery(compiledUpdate(columns, stored.version, doc, next.id, next.version));
        if (result.numAffectedRows === 0n) throw new VersionConflict(next.id);
        if (!before || !sameTags(before.tags, stored.tags)) await writeTags(trx, stored, true);
        await writeEvents(trx, events);
      });
      return toNotebook({ doc, version: stored.version });
    },

    async list(q): Promise<Page<Notebook>> {
      const dir = q.sortDir === 'ASC' ? 'asc' : 'desc';
      const count = async () =>
        countOf(await db.selectFrom('notebooks').select((eb) => eb.fn.countAll<number>().as('n')).where((eb) => filters(eb, q, opts.kind)).executeTakeFirst());
      if (!narrows(q)) {
        // Unfiltered, (nearly) every entry matches: the page is the `limit` entries after the
        // offset, and the count walks the range once.
        const [rows, total] = await Promise.all([
          db
            .selectFrom('notebooks')
            .select(['id', 'doc', 'version'])
            .where((eb) => filters(eb, q, opts.kind))
            .orderBy(SORT_COLUMNS[q.sortKey], dir)
            .orderBy('id', dir)
            .offset(q.offset)
            .limit(q.limit)
            .execute(),
          count(),
        ]);
        return { items: rows.map(fromRow), total };
      }
      // Filtered: one walk over the covering list index in the sort order (`walk`: ids and sort
      // keys only, from the offset on, up to LIST_LOOKAHEAD past the page), documents read by
      // primary key for the page's rows alone. A walk that ends before its limit has seen every
      // match, so the total needs no second walk to count them.
      const window = q.limit + LIST_LOOKAHEAD;
      const rows = await db
        .with(
          (cte) => cte('walk').materialized(),
          (d) =>
            d
              .selectFrom('notebooks')
              .select(['id', sql.ref<string | number>(SORT_COLUMNS[q.sortKey]).as('k')])
              .where((eb) => filters(eb, q, opts.kind))
              .orderBy(SORT_COLUMNS[q.sortKey], dir)
              .orderBy('id', dir)
              .offset(q.offset)
              .limit(window),
        )
        .with('page', (d) => d.selectFrom('walk').select(['id', 'k']).orderBy('k', dir).orderBy('id', dir).limit(q.limit))
        .selectFrom('page')
        .innerJoin('notebooks', 'notebooks.id', 'page.id')
        .select((eb) => [
          'notebooks.id',
          'notebooks.doc',
          'notebooks.version',
          eb.selectFrom('walk').select((e) => e.fn.countAll<number>().as('n')).as('walked'),
        ])
        .orderBy('page.k', dir)
        .orderBy('page.id', dir)
        .execute();
      // No row: the walk found nothing from the offset on.
      const walked = rows.length === 0 ? 0 : Number(rows[0]!.walked);
      const total = walked < window && (walked > 0 || q.offset === 0) ? q.offset + walked : await count();
      return { items: rows.map(fromRow), total };
    },

    async listActive() {
      const rows = await db.selectFrom('notebooks').select(['id', 'doc', 'version']).where('status', 'in', ACTIVE).orderBy('id').execute();
      return rows.map(fromRow);
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
        .select(['id', 'doc', 'version'])
        .where('due_at', 'is not', null)
        .where('due_at', '<=', now)
        .orderBy('due_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(fromRow);
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
