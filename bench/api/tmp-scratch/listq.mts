import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { createSqliteStore } from '/work/main/src/store/sql/sqlite.ts';
import { makeNotebook, makeOwner } from '/work/main/test/support/notebook-fixture.ts';
const dir = mkdtempSync(join(tmpdir(), 'listq-'));
const path = join(dir, 'db');
const store = await createSqliteStore(path);
await store.migrate();
const t = performance.now();
const owner = makeOwner('u1');
for (let i = 0; i < 10000; i++) {
  const st = ['STOPPED','STOPPED','STOPPED','ERROR','STOPPED'][i % 5] as any;
  await store.notebooks.insert(makeNotebook({ id: randomUUID(), projectId: 'p1', owner, name: `nb-${i}`, status: st, createAt: 1e12 + i * 1000, tags: i % 5 === 0 ? [{ key: 'team', value: 't' }] : [] }), []);
}
console.log('insert', Math.round(performance.now() - t), 'ms');
const q = { projectId: 'p1', ownerId: 'u1', nameContains: 'nb-1', status: 'STOPPED' as const, sortKey: 'create_at' as const, sortDir: 'DESC' as const, offset: 50, limit: 50 };
for (let r = 0; r < 3; r++) { const t1 = performance.now(); for (let i = 0; i < 50; i++) await store.notebooks.list(q); console.log('list', ((performance.now() - t1) / 50).toFixed(2), 'ms'); }
const one = (await store.notebooks.list(q)).items[0]!;
{ const t1 = performance.now(); for (let i = 0; i < 2000; i++) await store.notebooks.get(one.id); console.log('get', ((performance.now() - t1) / 2000 * 1000).toFixed(1), 'us'); }
const db = new SQLite(path, { readonly: true });
for (const sql of [
  `explain query plan select doc, version from notebooks where project_id = 'p1' and owner_id = 'u1' and name_lower like '%nb-1%' escape '\\' and status = 'STOPPED' and status != 'DELETED' order by create_at desc, id desc limit 50 offset 50`,
  `explain query plan select count(*) as n from notebooks where project_id = 'p1' and owner_id = 'u1' and name_lower like '%nb-1%' escape '\\' and status = 'STOPPED' and status != 'DELETED'`,
]) console.log(db.prepare(sql).all().map((r: any) => r.detail).join(' | '));
for (const sql of [
  `select doc, version from notebooks where project_id = 'p1' and owner_id = 'u1' and name_lower like '%nb-1%' escape '\\' and status = 'STOPPED' and status != 'DELETED' order by create_at desc, id desc limit 50 offset 50`,
  `select count(*) as n from notebooks where project_id = 'p1' and owner_id = 'u1' and name_lower like '%nb-1%' escape '\\' and status = 'STOPPED' and status != 'DELETED'`,
]) { const s = db.prepare(sql); const t1 = performance.now(); for (let i = 0; i < 50; i++) s.all(); console.log('raw', ((performance.now() - t1) / 50).toFixed(2), 'ms'); }
await store.close();
const w = new SQLite(path);
w.exec(`create index if not exists nb_owner_list on notebooks (project_id, owner_id, create_at, id, status, name_lower)`);
w.exec(`create index if not exists nb_project_list on notebooks (project_id, create_at, id, status, owner_id, name_lower)`);
w.close();
const store2 = await createSqliteStore(path);
for (let r = 0; r < 3; r++) { const t1 = performance.now(); for (let i = 0; i < 50; i++) await store2.notebooks.list(q); console.log('list+idx', ((performance.now() - t1) / 50).toFixed(2), 'ms'); }
{ const t1 = performance.now(); for (let i = 0; i < 50; i++) await store2.notebooks.list({ ...q, status: undefined, nameContains: undefined, offset: 0 }); console.log('list+idx unfiltered', ((performance.now() - t1) / 50).toFixed(2), 'ms'); }
{ const t1 = performance.now(); for (let i = 0; i < 50; i++) await store2.notebooks.list({ ...q, ownerId: undefined }); console.log('list-all+idx', ((performance.now() - t1) / 50).toFixed(2), 'ms'); }
{ const t1 = performance.now(); for (let i = 0; i < 50; i++) await store2.notebooks.list({ ...q, tags: [{ key: 'team' }], nameContains: undefined }); console.log('list tags+idx', ((performance.now() - t1) / 50).toFixed(2), 'ms'); }
const db2 = new SQLite(path, { readonly: true });
for (const sql of [
  `explain query plan select doc, version from notebooks where project_id = 'p1' and owner_id = 'u1' and name_lower like '%nb-1%' escape '\\' and status = 'STOPPED' and status != 'DELETED' order by create_at desc, id desc limit 50 offset 50`,
  `explain query plan select count(*) as n from notebooks where project_id = 'p1' and owner_id = 'u1' and name_lower like '%nb-1%' escape '\\' and status = 'STOPPED' and status != 'DELETED'`,
]) console.log(db2.prepare(sql).all().map((r: any) => r.detail).join(' | '));
await store2.close();
