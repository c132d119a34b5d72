// Concurrency: a burst of prolongs, renames, description updates and tag writes on ONE running
// instance, all sent at once, on SQLite and on PostgreSQL, while a second "replica" (another store
// on the same database) writes to the same instance. Each write is compare-and-set on the
// record's version; a loser re-decides on the fresh record, and only one that keeps losing gets
// ModelArts.6357. Afterwards the store must say exactly what the accepted requests said:
//   - version = version before + accepted requests + replica writes that landed (each changes something);
//   - one event per accepted request, of its type, carrying its value (none lost, none twice);
//   - the final lease is the last renew's (by event order, which is commit order);
//   - the tags are exactly the accepted ones, and the derived columns and tag rows the store
//     queries by (name filter, tag filter, due index) agree with the record.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { DomainError } from '../../src/domain/errors.ts';
import { dueAt, leaseStopAt } from '../../src/domain/lease.ts';
import { mutateNotebook } from '../../src/store/mutate.ts';
import { createPostgresStore } from '../../src/store/sql/postgres.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import { startPostgres, type TestDatabase } from '../support/postgres.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const PROLONGS = 60;
const RENAMES = 40;
const DESCRIPTIONS = 30;
const TAGS = 18; // an instance holds at most 20 tags
const BASE_MS = 2 * 3_600_000;
const REPLICA_WRITES = 40;

type Kind = 'prolong' | 'rename' | 'describe' | 'tag';
interface Sent {
  kind: Kind;
  i: number;
  status: number;
  body: any;
}

function burst(svc: TestService, id: string): Promise<Sent>[] {
  const api = svc.api;
  const jobs: [Kind, number, () => Promise<{ status: number; body: any }>][] = [];
  for (let i = 0; i < PROLONGS; i++) jobs.push(['prolong', i, () => api.patch(`${NB}/${id}/lease`, { duration: BASE_MS + i * 1_000, type: 'TIMING' })]);
  for (let i = 0; i < RENAMES; i++) jobs.push(['rename', i, () => api.put(`${NB}/${id}`, { name: `renamed-${i}` })]);
  for (let i = 0; i < DESCRIPTIONS; i++) jobs.push(['describe', i, () => api.put(`${NB}/${id}`, { description: `description ${i}` })]);
  for (let i = 0; i < TAGS; i++) jobs.push(['tag', i, () => api.post(`${NB}/${id}/tags/create`, { tags: [{ key: `k${i}`, value: `v${i}` }] })]);
  // Interleave the kinds so that every kind races with every other.
  jobs.sort((a, b) => (a[1] * 7 + a[0].length) % 13 - (b[1] * 7 + b[0].length) % 13);
  return jobs.map(async ([kind, i, send]) => ({ kind, i, ...(await send()) }));
}

function suite(name: string, open: () => Promise<{ databaseUrl?: string; cleanup(): Promise<void> }>) {
  describe(`concurrent writes to one instance never lose an update (${name})`, () => {
    let svc: TestService;
    let db: { databaseUrl?: string };
    let cleanup: () => Promise<void> = async () => {};

    before(async () => {
      const opened = await open();
      db = opened;
      const { cleanup: close } = opened;
      cleanup = close;
      svc = await startTestService({
        ...(db.databaseUrl && { databaseUrl: db.databaseUrl }),
        overrides: { limits: { rateLimit: { enabled: false, perSecond: 1, burst: 1 } } },
      });
    });
    after(async () => {
      await svc?.close();
      await cleanup();
    });

    it(`${PROLONGS + RENAMES + DESCRIPTIONS + TAGS} concurrent prolongs, updates and tag writes`, async () => {
      const created = await svc.api.post(NB, createBody({ name: 'contended' }));
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const id = created.body.id as string;
      await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING');
      const store = svc.service.store;
      // Quiet: the reconciler writes nothing more for a healthy RUNNING instance.
      const v0 = (await store.notebooks.get(id))!.version;
      const eventsBefore = await store.notebooks.events(id, 0, 10_000);
      const lastEventId = eventsBefore.at(-1)!.id!;

      // A second replica on the same database writes too: in-process writers take turns, writers in
      // different processes are kept apart by the version alone, so here conflicts can happen.
      const replica = db.databaseUrl ? await createPostgresStore(db.databaseUrl) : await createSqliteStore(join(svc.dataDir, 'notebookd.db'));
      const replicaWrites = Array.from({ length: REPLICA_WRITES }, (_, i) =>
        mutateNotebook(replica, id, (cur) => ({ next: { ...cur, updateAt: cur.updateAt + 1 }, events: [{ notebookId: id, at: cur.updateAt + 1, type: 'test.replica', message: `replica write ${i}` }] })).then(
          () => 'ok' as const,
          (e: unknown) => {
            assert.ok(e instanceof DomainError && e.code === 'ModelArts.6357', `a replica write failed otherwise than by a conflict: ${e}`);
            return 'conflict' as const;
          },
        ),
      );
      const [results, replicaResults] = await Promise.all([Promise.all(burst(svc, id)), Promise.all(replicaWrites)]);
      await replica.close();
      const replicaOk = replicaResults.filter((r) => r === 'ok').length;

      const accepted = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status !== 200);
      for (const r of refused) {
        assert.ok(r.status >= 400 && r.status < 500, `${r.kind}#${r.i}: HTTP ${r.status}`);
        assert.equal(r.body.error_code, 'ModelArts.6357', `${r.kind}#${r.i}: only conflicts may refuse a valid write: ${JSON.stringify(r.body)}`);
        assert.equal(typeof r.body.error_msg, 'string');
      }
      const ok = (kind: Kind) => accepted.filter((r) => r.kind === kind);
      // Every accepted answer shows its own write.
      for (const r of ok('prolong')) assert.equal(r.body.duration - (r.body.update_at - r.body.create_at), BASE_MS + r.i * 1_000);
      for (const r of ok('rename')) assert.equal(r.body.name, `renamed-${r.i}`);
      for (const r of ok('describe')) assert.equal(r.body.description, `description ${r.i}`);

      const final = (await store.notebooks.get(id))!;
      assert.equal(final.version, v0 + accepted.length + replicaOk, `version ${final.version} = ${v0} + ${accepted.length} accepted API writes + ${replicaOk} replica writes`);

      const all = (await store.notebooks.events(id, lastEventId, 10_000)).filter((e) => e.type !== 'lease.warning_withdrawn');
      assert.equal(all.filter((e) => e.type === 'test.replica').length, replicaOk, 'one event per replica write that landed');
      const events = all.filter((e) => e.type !== 'test.replica');
      assert.equal(events.length, accepted.length, `one event per accepted write: ${events.map((e) => e.type).join(', ')}`);
      const renewed = events.filter((e) => e.type === 'lease.renewed');
      assert.deepEqual(
        renewed.map((e) => e.data!.durationMs).sort(),
        ok('prolong').map((r) => BASE_MS + r.i * 1_000).sort(),
        'each accepted renew has its event, with its duration',
      );
      assert.equal(events.filter((e) => e.type === 'notebook.updated').length, ok('rename').length + ok('describe').length);
      assert.equal(events.filter((e) => e.type === 'notebook.tagged').length, ok('tag').length);

      // The last renew to commit decides the lease; the last rename and description are among the accepted.
      if (renewed.length > 0) assert.equal(leaseStopAt(final.lease), renewed.at(-1)!.data!.stopAt);
      if (ok('rename').length > 0) assert.ok(ok('rename').some((r) => r.body.name === final.name), `final name ${final.name} was accepted`);
      if (ok('describe').length > 0) assert.ok(ok('describe').some((r) => r.body.description === final.description));
      assert.deepEqual(
        final.tags.map((t) => `${t.key}=${t.value}`).sort(),
        ok('tag').map((r) => `k${r.i}=v${r.i}`).sort(),
        'exactly the accepted tags: none lost',
      );

      // The columns and rows the store searches by agree with the record.
      const page = (q: Record<string, unknown>) => store.notebooks.list({ projectId: PROJECT, sortKey: 'create_at', sortDir: 'DESC', offset: 0, limit: 50, ...q });
      assert.deepEqual((await page({ nameContains: final.name })).items.map((n) => n.id), [id]);
      for (const t of final.tags) assert.deepEqual((await page({ tags: [{ key: t.key, value: t.value }] })).items.map((n) => n.id), [id], `tag ${t.key}`);
      for (let i = 0; i < TAGS; i++) {
        if (final.tags.some((t) => t.key === `k${i}`)) continue;
        assert.equal((await page({ tags: [{ key: `k${i}` }] })).total, 0, `no tag row for refused k${i}`);
      }
      assert.deepEqual((await store.notebooks.tagSummary(PROJECT)).map((s) => s.key).sort(), final.tags.map((t) => t.key).sort());
      assert.equal(await store.notebooks.nextDueAt(), dueAt(final), 'the due index holds the final stop time');
      const shown = await svc.api.get(`${NB}/${id}/lease`);
      assert.equal(shown.body.stop_at, leaseStopAt(final.lease));
      console.log(`# ${name}: API ${accepted.length} accepted, ${refused.length} refused with ModelArts.6357; replica ${replicaOk} landed, ${REPLICA_WRITES - replicaOk} refused with ModelArts.6357`);
    });
  });
}

suite('SQLite', async () => ({ cleanup: async () => {} }));

let pg: TestDatabase | undefined;
suite('PostgreSQL', async () => {
  pg = await startPostgres();
  return { databaseUrl: pg.url, cleanup: async () => pg?.dropDatabase() };
});
