// bench/api/list-store.ts: the store's ListNotebooks query alone, in process, with no HTTP: p50/p99
// of store.notebooks.list() over many calls on the same 10,000 records and the same filtered page
// as bench/api/run.ts (a page of 50, offset 50, of `status=STOPPED&name=nb-1`), on SQLite and on a
// throwaway PostgreSQL (test/support/postgres.ts). Shared machines make the HTTP figures noisy;
// this one isolates the store's part of a list request.
//
//   node --import tsx bench/api/list-store.ts
//   (BENCH_INSTANCES, default 10000; BENCH_CALLS, default 400; BENCH_STORES=sqlite,postgres)
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Notebook } from '../../src/domain/notebook.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import type { NotebookQuery, Store } from '../../src/store/store.ts';
import { populate } from './records.ts';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 400);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const PROJECT = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const OWNER = { id: 'a11ce000a11ce000a11ce000a11ce000', name: 'admin', domainId: PROJECT, domainName: 'default' };

const QUERIES: Record<string, NotebookQuery> = {
  'own, STOPPED, name nb-1, offset 50': { projectId: PROJECT, ownerId: OWNER.id, status: 'STOPPED', nameContains: 'nb-1', sortKey: 'create_at', sortDir: 'DESC', offset: 50, limit: 50, includeDeleted: false },
  'all, STOPPED, name nb-1, offset 50': { projectId: PROJECT, status: 'STOPPED', nameContains: 'nb-1', sortKey: 'create_at', sortDir: 'DESC', offset: 50, limit: 50, includeDeleted: false },
  'own, no filter, offset 0': { projectId: PROJECT, ownerId: OWNER.id, sortKey: 'create_at', sortDir: 'DESC', offset: 0, limit: 50, includeDeleted: false },
  'own, name nb-99, sort name ASC': { projectId: PROJECT, ownerId: OWNER.id, nameContains: 'nb-99', sortKey: 'name', sortDir: 'ASC', offset: 0, limit: 50, includeDeleted: false },
  'own, tag team=t3, offset 100': { projectId: PROJECT, ownerId: OWNER.id, tags: [{ key: 'team', value: 't3' }], sortKey: 'create_at', sortDir: 'DESC', offset: 100, limit: 50, includeDeleted: false },
};

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function measure(kind: string, store: Store): Promise<void> {
  for (const [label, q] of Object.entries(QUERIES)) {
    for (let i = 0; i < 20; i++) await store.notebooks.list(q); // warm-up
    const ms: number[] = [];
    let page = { items: [] as Notebook[], total: 0 };
    for (let i = 0; i < CALLS; i++) {
      const t = performance.now();
      page = await store.notebooks.list(q);
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    console.log(`${kind.padEnd(8)} ${label.padEnd(36)} ${String(page.items.length).padStart(2)} of ${String(page.total).padStart(5)}  p50 ${pct(ms, 50).toFixed(2)} ms  p99 ${pct(ms, 99).toFixed(2)} ms`);
  }
}

async function main() {
  console.log(`bench/api/list-store — ${INSTANCES} instances, ${CALLS} calls per query, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (STORES.includes('sqlite')) {
    const dir = await mkdtemp(join(tmpdir(), 'notebookd-bench-list-'));
    const store = await createSqliteStore(join(dir, 'notebookd.db'));
    await store.migrate();
    await populate(store, OWNER, INSTANCES, Date.UTC(2026, 0, 1));
    await measure('sqlite', store);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (STORES.includes('postgres')) {
    const { startPostgres } = await import('../../test/support/postgres.ts');
    const { createPostgresStore } = await import('../../src/store/sql/postgres.ts');
    const database = await startPostgres();
    const store = await createPostgresStore(database.url);
    await store.migrate();
    await populate(store, OWNER, INSTANCES, Date.UTC(2026, 0, 1));
    // The test server runs without autovacuum; a real one would have analysed the table by now
    // (without statistics the planner picks nested loops for tag filters that take seconds).
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('VACUUM ANALYZE');
    await client.end();
    await measure('postgres', store);
    await store.close();
    await database.dropDatabase();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
