// The store conformance suite: every Store implementation runs it (store-*.test.ts) against a
// real database. Each test gets a fresh, migrated, empty store.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Image } from '../../src/domain/catalog.ts';
import type { AccessKey, AuthToken, Project, User } from '../../src/domain/identity.ts';
import { DEFAULT_LEASE_POLICY, HOUR_MS, newLease } from '../../src/domain/lease.ts';
import { NOTEBOOK_STATUSES, type NotebookStatus } from '../../src/domain/lifecycle.ts';
import type { Notebook, NotebookEvent } from '../../src/domain/notebook.ts';
import { VersionConflict, type NotebookQuery, type SortKey, type Store } from '../../src/store/store.ts';
import { LIST_LOOKAHEAD } from '../../src/store/sql/notebook-store.ts';
import { FIXTURE_NOW as T, makeNotebook, makeOwner } from '../support/notebook-fixture.ts';

export interface OpenedStore {
  /** A fresh, empty, un-migrated store. */
  store: Store;
  /** Opens another store on the same data (same file or database), un-migrated. */
  reopen(): Promise<Store>;
  /** Closes every store opened here and removes the data. */
  cleanup(): Promise<void>;
}

const event = (notebookId: string, type: string, extra: Partial<NotebookEvent> = {}): NotebookEvent => ({
  notebookId,
  at: T,
  type,
  message: `${type} happened`,
  ...extra,
});

/** A query over project p1, oldest first, one page of 100; tests override what they check. */
const query = (overrides: Partial<NotebookQuery> = {}): NotebookQuery => ({
  projectId: 'p1',
  sortKey: 'create_at',
  sortDir: 'ASC',
  offset: 0,
  limit: 100,
  ...overrides,
});

const ids = (nbs: readonly Notebook[]) => nbs.map((nb) => nb.id);

const withoutIds = (events: readonly NotebookEvent[]) => events.map(({ id: _id, ...rest }) => rest);

function makeImage(overrides: Partial<Image> = {}): Image {
  return {
    id: 'img-1',
    projectId: 'p1',
    name: 'my-image',
    namespace: 'team',
    tag: 'v1',
    swrPath: 'swr.example.com/team/my-image:v1',
    description: 'an image',
    arch: 'x86_64',
    origin: 'CUSTOMIZE',
    type: 'DEDICATED',
    visibility: 'PRIVATE',
    serviceType: 'UNKNOWN',
    devServices: ['NOTEBOOK', 'SSH'],
    resourceCategories: ['CPU', 'GPU'],
    workspaceId: '0',
    status: 'ACTIVE',
    statusMessage: '',
    program: 'jupyter_server',
    tags: ['a', 'b'],
    readMe: '# read me',
    sizeBytes: 3_376_133_259,
    createAt: T,
    updateAt: T,
    ...overrides,
  };
}

export function runStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`store contract: ${name}`, () => {
    let opened: OpenedStore | undefined;
    let store: Store;

    beforeEach(async () => {
      opened = undefined;
      opened = await open();
      store = opened.store;
      await store.migrate();
    });
    afterEach(() => opened?.cleanup());

    const insertAll = async (nbs: readonly Notebook[]) => {
      for (const nb of nbs) await store.notebooks.insert(nb, []);
    };

    describe('notebook records', () => {
      it('given a record with nested JSON, when inserted and read back, then the whole record is equal and at version 1', async () => {
        const nb = makeNotebook({
          version: 7,
          description: 'Ünïcødé ✓ "quoted" \\ back\nslash',
          tags: [
            { key: 'env', value: 'prod' },
            { key: 'team', value: 'ml' },
          ],
          endpoints: [{ service: 'SSH', keyPairNames: ['kp-1'], allowedAccessIps: ['192.0.2.1', '198.51.100.7'] }],
          hooks: { preStart: { script: 'echo hi', type: 'COMMAND', mode: 'BLOCK' } },
          volume: {
            category: 'EFS',
            ownership: 'DEDICATED',
            capacityGb: 50,
            mountPath: '/home/ma-user/work/',
            readOnly: true,
            uri: 'nfs://192.0.2.9/share',
            id: 'efs-1',
            status: 'RESIZING',
            pendingCapacityGb: 60,
          },
          actionProgress: [{ step: 1, status: 'COMPLETED', description: 'Prepare the storage.' }],
          runtimeHandle: { pid: 4242, dirs: ['/a', '/b'], nested: { ok: true, none: null } },
          runtimeTarget: { origin: 'http://127.0.0.1:41234', basePath: '/nb/x/', jupyterToken: 'secret' },
          stopReason: 'lease_expired',
          failReason: 'boom',
          lease: { ...newLease(T, { durationMs: 2 * HOUR_MS, type: 'IDLE' }, DEFAULT_LEASE_POLICY), lastActivityAt: T + 5, lastActivitySource: 'proxy' },
        });

        const inserted = await store.notebooks.insert(nb, []);

        assert.deepEqual(inserted, { ...nb, version: 1 });
        assert.deepEqual(await store.notebooks.get(nb.id), inserted);
      });

      it('given an empty store, when getting an unknown id, then it is undefined', async () => {
        assert.equal(await store.notebooks.get('no-such-notebook'), undefined);
      });

      it('given a stored id, when inserting the same id again, then it fails and its events are not appended', async () => {
        const nb = makeNotebook();
        await store.notebooks.insert(nb, [event(nb.id, 'created')]);

        await assert.rejects(store.notebooks.insert(nb, [event(nb.id, 'created-again')]));

        assert.deepEqual(
          (await store.notebooks.events(nb.id, 0, 100)).map((e) => e.type),
          ['created'],
        );
      });
    });

    describe('compare-and-set update', () => {
      it('given version 1, when updated from version 1, then the change is stored at version 2', async () => {
        const v1 = await store.notebooks.insert(makeNotebook(), []);

        const v2 = await store.notebooks.update({ ...v1, name: 'renamed', status: 'STARTING', desired: 'running' }, []);

        assert.equal(v2.version, 2);
        assert.equal(v2.name, 'renamed');
        assert.deepEqual(await store.notebooks.get(v1.id), v2);
      });

      it('given a record already updated, when updated from the stale version, then VersionConflict and nothing changes', async () => {
        const v1 = await store.notebooks.insert(makeNotebook(), []);
        const v2 = await store.notebooks.update({ ...v1, description: 'first' }, [event(v1.id, 'first')]);

        await assert.rejects(
          store.notebooks.update({ ...v1, description: 'stale', tags: [{ key: 'k', value: 'v' }] }, [event(v1.id, 'stale')]),
          (e: unknown) => e instanceof VersionConflict && e.notebookId === v1.id,
        );

        assert.deepEqual(await store.notebooks.get(v1.id), v2);
        assert.deepEqual(
          (await store.notebooks.events(v1.id, 0, 100)).map((e) => e.type),
          ['first'],
        );
        assert.equal((await store.notebooks.list(query({ tags: [{ key: 'k' }] }))).total, 0);
      });

      it('given an unknown id, when updated, then VersionConflict', async () => {
        await assert.rejects(store.notebooks.update(makeNotebook({ id: 'ghost' }), []), VersionConflict);
      });

      it('given one version, when two updates race from it, then exactly one wins and only its events are kept', async () => {
        const v1 = await store.notebooks.insert(makeNotebook(), []);

        const results = await Promise.allSettled([
          store.notebooks.update({ ...v1, name: 'writer-a' }, [event(v1.id, 'by-a')]),
          store.notebooks.update({ ...v1, name: 'writer-b' }, [event(v1.id, 'by-b')]),
        ]);

        const won = results.filter((r): r is PromiseFulfilledResult<Notebook> => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(won.length, 1);
        assert.equal(lost.length, 1);
        assert.ok(lost[0]!.reason instanceof VersionConflict);
        const winner = won[0]!.value;
        assert.equal(winner.version, 2);
        assert.deepEqual(await store.notebooks.get(v1.id), winner);
        assert.deepEqual(
          (await store.notebooks.events(v1.id, 0, 100)).map((e) => e.type),
          [winner.name === 'writer-a' ? 'by-a' : 'by-b'],
        );
      });
    });

    describe('events', () => {
      it('given events from insert, update and append, when read, then they come back in order, pageable by afterId', async () => {
        const nb = makeNotebook();
        const other = makeNotebook();
        const v1 = await store.notebooks.insert(nb, [event(nb.id, 'created', { data: { step: 1, nested: { list: [1, 'two'] } } })]);
        await store.notebooks.insert(other, [event(other.id, 'other-created')]);
        await store.notebooks.update({ ...v1, status: 'STARTING' }, [event(nb.id, 'starting', { at: T + 1 })]);
        await store.notebooks.appendEvents([event(other.id, 'other-note'), event(nb.id, 'note-1', { at: T + 2 }), event(nb.id, 'note-2', { at: T + 3 })]);
        await store.notebooks.appendEvents([event(nb.id, 'note-3', { at: T + 4, data: {} })]);

        const all = await store.notebooks.events(nb.id, 0, 100);

        assert.deepEqual(withoutIds(all), [
          event(nb.id, 'created', { data: { step: 1, nested: { list: [1, 'two'] } } }),
          event(nb.id, 'starting', { at: T + 1 }),
          event(nb.id, 'note-1', { at: T + 2 }),
          event(nb.id, 'note-2', { at: T + 3 }),
          event(nb.id, 'note-3', { at: T + 4, data: {} }),
        ]);
        const eventIds = all.map((e) => e.id!);
        assert.ok(eventIds.every((id, i) => Number.isSafeInteger(id) && (i === 0 || id > eventIds[i - 1]!)), `ids ascend: ${eventIds}`);

        const paged: NotebookEvent[] = [];
        for (let afterId = 0; ; ) {
          const page = await store.notebooks.events(nb.id, afterId, 2);
          if (page.length === 0) break;
          assert.ok(page.length <= 2);
          paged.push(...page);
          afterId = page.at(-1)!.id!;
        }
        assert.deepEqual(paged, all);
        assert.deepEqual(await store.notebooks.events(nb.id, eventIds.at(-1)!, 10), []);
      });

      it('given one write with 37 events (more than one insert statement holds), when read, then all are there in order', async () => {
        const v1 = await store.notebooks.insert(makeNotebook(), []);
        const many = Array.from({ length: 37 }, (_, i) => event(v1.id, `e${i}`, { at: T + i, ...(i % 3 === 0 && { data: { i } }) }));
        await store.notebooks.update({ ...v1, description: 'many events' }, many);
        assert.deepEqual(withoutIds(await store.notebooks.events(v1.id, 0, 100)), many);
      });

      it('given an unknown notebook, when reading its events, then there are none', async () => {
        assert.deepEqual(await store.notebooks.events('ghost', 0, 10), []);
      });
    });

    describe('list', () => {
      const seed = () => [
        makeNotebook({ id: 'nb-01', name: 'alpha-one', createAt: T + 1, tags: [{ key: 'env', value: 'prod' }, { key: 'team', value: 'ml' }] }),
        makeNotebook({ id: 'nb-02', name: 'My-Alpha', createAt: T + 2, owner: makeOwner('u2'), status: 'RUNNING', flavorId: 'gpu', tags: [{ key: 'env', value: 'dev' }] }),
        makeNotebook({ id: 'nb-03', name: 'a_b', createAt: T + 3, imageId: 'image-x', feature: 'DEFAULT' }),
        makeNotebook({ id: 'nb-04', name: 'axb', createAt: T + 4, workspaceId: 'ws-1', poolId: 'pool-1' }),
        makeNotebook({ id: 'nb-05', name: '50%off', createAt: T + 5 }),
        makeNotebook({ id: 'nb-06', name: '50-off', createAt: T + 6 }),
        makeNotebook({ id: 'nb-07', name: 'alpha-gone', createAt: T + 7, status: 'DELETED', tags: [{ key: 'env', value: 'prod' }] }),
        makeNotebook({ id: 'nb-08', name: 'alpha-elsewhere', createAt: T + 8, projectId: 'p2', tags: [{ key: 'env', value: 'prod' }] }),
      ];
      const live = ['nb-01', 'nb-02', 'nb-03', 'nb-04', 'nb-05', 'nb-06'];

      const cases: { when: string; filter: Partial<NotebookQuery>; expect: string[] }[] = [
        { when: 'no filter', filter: {}, expect: live },
        { when: 'deleted included', filter: { includeDeleted: true }, expect: [...live, 'nb-07'] },
        { when: 'owner u2', filter: { ownerId: 'u2' }, expect: ['nb-02'] },
        { when: 'name contains "ALPHA" (any case)', filter: { nameContains: 'ALPHA' }, expect: ['nb-01', 'nb-02'] },
        { when: 'name contains "a_b" (underscore is literal)', filter: { nameContains: 'a_b' }, expect: ['nb-03'] },
        { when: 'name contains "0%o" (percent is literal)', filter: { nameContains: '0%o' }, expect: ['nb-05'] },
        { when: 'name contains a backslash', filter: { nameContains: 'a\\b' }, expect: [] },
        { when: 'status RUNNING', filter: { status: 'RUNNING' }, expect: ['nb-02'] },
        { when: 'status DELETED, deleted included', filter: { status: 'DELETED', includeDeleted: true }, expect: ['nb-07'] },
        { when: 'flavor gpu', filter: { flavorId: 'gpu' }, expect: ['nb-02'] },
        { when: 'image image-x', filter: { imageId: 'image-x' }, expect: ['nb-03'] },
        { when: 'id nb-04', filter: { id: 'nb-04' }, expect: ['nb-04'] },
        { when: 'id of another project', filter: { id: 'nb-08' }, expect: [] },
        { when: 'feature DEFAULT', filter: { feature: 'DEFAULT' }, expect: ['nb-03'] },
        { when: 'workspace ws-1', filter: { workspaceId: 'ws-1' }, expect: ['nb-04'] },
        { when: 'pool pool-1', filter: { poolId: 'pool-1' }, expect: ['nb-04'] },
        { when: 'tag key env', filter: { tags: [{ key: 'env' }] }, expect: ['nb-01', 'nb-02'] },
        { when: 'tag env=prod', filter: { tags: [{ key: 'env', value: 'prod' }] }, expect: ['nb-01'] },
        { when: 'tags env=prod and team', filter: { tags: [{ key: 'env', value: 'prod' }, { key: 'team' }] }, expect: ['nb-01'] },
        { when: 'tags env=dev and team', filter: { tags: [{ key: 'env', value: 'dev' }, { key: 'team' }] }, expect: [] },
        { when: 'project p2', filter: { projectId: 'p2' }, expect: ['nb-08'] },
      ];
      for (const c of cases) {
        it(`given a mixed project, when filtering by ${c.when}, then it returns ${JSON.stringify(c.expect)}`, async () => {
          await insertAll(seed());

          const page = await store.notebooks.list(query(c.filter));

          assert.deepEqual(ids(page.items), c.expect);
          assert.equal(page.total, c.expect.length);
        });
      }

      // Same create_at for nb-a and nb-d: the id breaks the tie, in the same direction.
      const sortSeed = () => [
        makeNotebook({ id: 'nb-a', name: 'charlie', createAt: T + 2, updateAt: T + 40, status: 'STOPPED', flavorId: 'f-2' }),
        makeNotebook({ id: 'nb-b', name: 'alpha', createAt: T + 1, updateAt: T + 10, status: 'RUNNING', flavorId: 'f-3' }),
        makeNotebook({ id: 'nb-c', name: 'delta', createAt: T + 3, updateAt: T + 30, status: 'ERROR', flavorId: 'f-1' }),
        makeNotebook({ id: 'nb-d', name: 'bravo', createAt: T + 2, updateAt: T + 20, status: 'CREATE_FAILED', flavorId: 'f-4' }),
      ];
      const ascending: Record<SortKey, string[]> = {
        create_at: ['nb-b', 'nb-a', 'nb-d', 'nb-c'],
        update_at: ['nb-b', 'nb-d', 'nb-c', 'nb-a'],
        name: ['nb-b', 'nb-d', 'nb-a', 'nb-c'],
        status: ['nb-d', 'nb-c', 'nb-b', 'nb-a'],
        flavor: ['nb-c', 'nb-a', 'nb-b', 'nb-d'],
      };
      for (const [sortKey, asc] of Object.entries(ascending) as [SortKey, string[]][]) {
        for (const sortDir of ['ASC', 'DESC'] as const) {
          const expected = sortDir === 'ASC' ? asc : [...asc].reverse();
          it(`given four notebooks, when sorted by ${sortKey} ${sortDir}, then the order is ${expected.join(',')}`, async () => {
            await insertAll(sortSeed());

            const page = await store.notebooks.list(query({ sortKey, sortDir }));

            assert.deepEqual(ids(page.items), expected);
          });
        }
      }

      const pages: { offset: number; limit: number; expect: string[] }[] = [
        { offset: 0, limit: 2, expect: ['nb-b', 'nb-a'] },
        { offset: 1, limit: 2, expect: ['nb-a', 'nb-d'] },
        { offset: 3, limit: 10, expect: ['nb-c'] },
        { offset: 4, limit: 2, expect: [] },
      ];
      for (const p of pages) {
        it(`given four notebooks, when paging offset ${p.offset} limit ${p.limit}, then ${JSON.stringify(p.expect)} of total 4`, async () => {
          await insertAll(sortSeed());

          const page = await store.notebooks.list(query({ offset: p.offset, limit: p.limit }));

          assert.deepEqual(ids(page.items), p.expect);
          assert.equal(page.total, 4);
        });
      }

      it('given a tagged notebook, when its tags change, then tag filters follow the new tags', async () => {
        const v1 = await store.notebooks.insert(makeNotebook({ tags: [{ key: 'env', value: 'prod' }] }), []);

        await store.notebooks.update({ ...v1, tags: [{ key: 'env', value: 'dev' }, { key: 'new', value: '' }] }, []);

        assert.equal((await store.notebooks.list(query({ tags: [{ key: 'env', value: 'prod' }] }))).total, 0);
        assert.deepEqual(ids((await store.notebooks.list(query({ tags: [{ key: 'env', value: 'dev' }, { key: 'new', value: '' }] }))).items), [v1.id]);
      });

      // A filtered walk collects LIST_LOOKAHEAD ids past the page: the totals and pages must be the
      // same whether it ends before that (the total is the walk's) or not (a count is needed).
      it(`given more matches than ${LIST_LOOKAHEAD} past a page, when paging a filter from start to past the end, then every page and total is exact`, async () => {
        const all: Notebook[] = [];
        for (let i = 0; i < LIST_LOOKAHEAD + 400; i++) {
          const match = i % 4 !== 3 || i >= 1200;
          all.push(
            makeNotebook({
              id: `nb-${String(i).padStart(5, '0')}`,
              // Names do not follow creation order, so that name sorting is checked across pages.
              name: `${match ? 'Match' : 'other'}-${(i * 7919) % 10007}`,
              createAt: T + i,
              status: i % 50 === 7 ? 'DELETED' : i % 2 ? 'RUNNING' : 'STOPPED',
            }),
          );
        }
        await insertAll(all);
        const expected = (filter: (nb: Notebook) => boolean, by: (nb: Notebook) => string | number, dir: 1 | -1) =>
          all.filter((nb) => nb.status !== 'DELETED' && filter(nb)).sort((a, b) => dir * (by(a) < by(b) ? -1 : by(a) > by(b) ? 1 : a.id < b.id ? -1 : 1));
        const byName = expected((nb) => nb.name.startsWith('Match'), (nb) => nb.name, -1);
        const stoppedByCreate = expected((nb) => nb.name.startsWith('Match') && nb.status === 'STOPPED', (nb) => nb.createAt, 1);
        const everything = expected(() => true, (nb) => nb.createAt, 1);
        assert.ok(byName.length > LIST_LOOKAHEAD + 20, 'the seed has more matches than the lookahead past a page');

        const cases: { q: Partial<NotebookQuery>; want: Notebook[] }[] = [];
        for (const offset of [0, 10, 40, byName.length - 15, byName.length - 10, byName.length, byName.length + 500]) {
          cases.push({ q: { nameContains: 'match', sortKey: 'name', sortDir: 'DESC', offset, limit: 10 }, want: byName });
        }
        for (const offset of [0, 100, stoppedByCreate.length - 3, stoppedByCreate.length + 1]) {
          cases.push({ q: { nameContains: 'MATCH', status: 'STOPPED', offset, limit: 50 }, want: stoppedByCreate });
        }
        for (const offset of [0, 1000, everything.length - 20, everything.length]) cases.push({ q: { offset, limit: 50 }, want: everything });
        for (const c of cases) {
          const page = await store.notebooks.list(query(c.q));
          const offset = c.q.offset ?? 0;
          assert.equal(page.total, c.want.length, `total of ${JSON.stringify(c.q)}`);
          assert.deepEqual(ids(page.items), ids(c.want.slice(offset, offset + (c.q.limit ?? 100))), `page of ${JSON.stringify(c.q)}`);
        }
      });
    });

    describe('lease due index', () => {
      // No expiry warning here, so that the due time is the stop time (warnings: the case at the end).
      const running = (id: string, stopAt: number, enable = true, status: NotebookStatus = 'RUNNING') =>
        makeNotebook({ id, status, lease: { ...newLease(T, { durationMs: stopAt - T }, { ...DEFAULT_LEASE_POLICY, warningLeadMs: 0 }), enable } });
      const seed = () => [
        running('due-2h', T + 2 * HOUR_MS),
        running('due-1h', T + HOUR_MS),
        running('due-3h', T + 3 * HOUR_MS),
        running('disabled', T + HOUR_MS / 4, false),
        running('stopped', T + HOUR_MS / 4, true, 'STOPPED'),
        running('starting', T + HOUR_MS / 4, true, 'STARTING'),
      ];

      it('given no instances, when asking for the next due time, then it is null', async () => {
        assert.equal(await store.notebooks.nextDueAt(), null);
      });

      it('given running, disabled and non-running instances, when asking for the next due time, then it is the earliest RUNNING enabled stop', async () => {
        await insertAll(seed());

        assert.equal(await store.notebooks.nextDueAt(), T + HOUR_MS);
      });

      const dueCases: { now: number; limit: number; expect: string[] }[] = [
        { now: T + HOUR_MS / 2, limit: 10, expect: [] },
        { now: T + HOUR_MS, limit: 10, expect: ['due-1h'] },
        { now: T + 2.5 * HOUR_MS, limit: 10, expect: ['due-1h', 'due-2h'] },
        { now: T + 5 * HOUR_MS, limit: 10, expect: ['due-1h', 'due-2h', 'due-3h'] },
        { now: T + 5 * HOUR_MS, limit: 2, expect: ['due-1h', 'due-2h'] },
      ];
      for (const c of dueCases) {
        it(`given the same instances, when listing due at T+${(c.now - T) / HOUR_MS}h limit ${c.limit}, then ${JSON.stringify(c.expect)}`, async () => {
          await insertAll(seed());

          assert.deepEqual(ids(await store.notebooks.listDue(c.now, c.limit)), c.expect);
        });
      }

      it('given the earliest due instance, when it stops, then it leaves the due set', async () => {
        await insertAll(seed());
        const due1h = (await store.notebooks.get('due-1h'))!;

        await store.notebooks.update({ ...due1h, status: 'STOPPED', desired: 'stopped' }, []);

        assert.equal(await store.notebooks.nextDueAt(), T + 2 * HOUR_MS);
        assert.deepEqual(ids(await store.notebooks.listDue(T + 5 * HOUR_MS, 10)), ['due-2h', 'due-3h']);
      });

      it('given a running instance, when its lease moves earlier or is disabled, then the due time follows', async () => {
        await insertAll(seed());
        const due3h = (await store.notebooks.get('due-3h'))!;

        const moved = await store.notebooks.update({ ...due3h, lease: { ...due3h.lease, durationMs: HOUR_MS / 2 } }, []);
        assert.equal(await store.notebooks.nextDueAt(), T + HOUR_MS / 2);

        await store.notebooks.update({ ...moved, lease: { ...moved.lease, enable: false } }, []);
        assert.equal(await store.notebooks.nextDueAt(), T + HOUR_MS);
      });

      it('given a lease with a 10 min warning, then it is due at the warning time until warned, then at the stop time', async () => {
        const warned = makeNotebook({ id: 'warned', status: 'RUNNING', lease: newLease(T, { durationMs: HOUR_MS }, { ...DEFAULT_LEASE_POLICY, warningLeadMs: 600_000 }) });
        const stored = await store.notebooks.insert(warned, []);
        assert.equal(await store.notebooks.nextDueAt(), T + HOUR_MS - 600_000);
        assert.deepEqual(ids(await store.notebooks.listDue(T + HOUR_MS - 600_000, 10)), ['warned']);

        await store.notebooks.update({ ...stored, lease: { ...stored.lease, warnedFor: T + HOUR_MS } }, []);
        assert.equal(await store.notebooks.nextDueAt(), T + HOUR_MS);
        assert.deepEqual(ids(await store.notebooks.listDue(T + HOUR_MS - 1, 10)), []);
      });
    });

    describe('active instances, counts and tag summary', () => {
      const active: NotebookStatus[] = ['INIT', 'CREATING', 'STARTING', 'RUNNING', 'STOPPING', 'DELETING', 'SNAPSHOTTING'];

      it(`given one instance per status, when listing active ones, then they are ${active.join(', ')}`, async () => {
        await insertAll(NOTEBOOK_STATUSES.map((status) => makeNotebook({ id: `nb-${status}`, status })));

        const found = ids(await store.notebooks.listActive()).sort();

        assert.deepEqual(found, active.map((s) => `nb-${s}`).sort());
      });

      const owned = () => [
        makeNotebook({ feature: 'NOTEBOOK' }),
        makeNotebook({ feature: 'NOTEBOOK', status: 'RUNNING' }),
        makeNotebook({ feature: 'DEFAULT' }),
        makeNotebook({ feature: 'NOTEBOOK', status: 'DELETED' }),
        makeNotebook({ owner: makeOwner('u2') }),
        makeNotebook({ projectId: 'p2' }),
      ];
      const countCases: { ownerId: string; feature?: 'DEFAULT' | 'NOTEBOOK'; expect: number }[] = [
        { ownerId: 'u1', expect: 3 },
        { ownerId: 'u1', feature: 'NOTEBOOK', expect: 2 },
        { ownerId: 'u1', feature: 'DEFAULT', expect: 1 },
        { ownerId: 'u2', expect: 1 },
        { ownerId: 'nobody', expect: 0 },
      ];
      for (const c of countCases) {
        it(`given instances of several owners, when counting ${c.ownerId}'s ${c.feature ?? 'any'} ones in p1, then ${c.expect}`, async () => {
          await insertAll(owned());

          assert.equal(await store.notebooks.countByOwner('p1', c.ownerId, c.feature), c.expect);
        });
      }

      it('given tagged instances, when summarising tags, then keys and distinct values are sorted, deleted and other projects left out', async () => {
        await insertAll([
          makeNotebook({ tags: [{ key: 'team', value: 'ml' }, { key: 'env', value: 'prod' }] }),
          makeNotebook({ tags: [{ key: 'env', value: 'dev' }] }),
          makeNotebook({ tags: [{ key: 'env', value: 'prod' }, { key: 'env', value: 'prod' }] }),
          makeNotebook({ status: 'DELETED', tags: [{ key: 'gone', value: 'x' }] }),
          makeNotebook({ projectId: 'p2', tags: [{ key: 'other', value: 'y' }] }),
        ]);

        assert.deepEqual(await store.notebooks.tagSummary('p1'), [
          { key: 'env', values: ['dev', 'prod'] },
          { key: 'team', values: ['ml'] },
        ]);
        assert.deepEqual(await store.notebooks.tagSummary('p3'), []);
      });

      it('given instances on an image, when counting its users, then deleted instances do not count', async () => {
        await insertAll([
          makeNotebook({ imageId: 'img-a' }),
          makeNotebook({ imageId: 'img-a', projectId: 'p2' }),
          makeNotebook({ imageId: 'img-a', status: 'DELETED' }),
          makeNotebook({ imageId: 'img-b' }),
        ]);

        assert.equal(await store.notebooks.countUsingImage('img-a'), 2);
        assert.equal(await store.notebooks.countUsingImage('img-none'), 0);
      });
    });

    describe('images', () => {
      it('given an image, when inserted and read back, then it is equal; unknown ids are undefined', async () => {
        const image = makeImage();

        await store.images.insert(image);

        assert.deepEqual(await store.images.get(image.id), image);
        assert.equal(await store.images.get('img-none'), undefined);
      });

      it('given images of several projects and statuses, when listing p1, then only its live images, oldest first', async () => {
        await store.images.insert(makeImage({ id: 'img-2', createAt: T + 2 }));
        await store.images.insert(makeImage({ id: 'img-1', createAt: T + 1, status: 'CREATING' }));
        await store.images.insert(makeImage({ id: 'img-gone', status: 'DELETED' }));
        await store.images.insert(makeImage({ id: 'img-p2', projectId: 'p2' }));

        assert.deepEqual((await store.images.list('p1')).map((i) => i.id), ['img-1', 'img-2']);
      });

      it('given an image, when updated, then the new version is stored and deleting it hides it from the list', async () => {
        const image = makeImage();
        await store.images.insert(image);

        const changed = { ...image, status: 'DELETED' as const, description: 'gone', tags: [], updateAt: T + 9 };
        await store.images.update(changed);

        assert.deepEqual(await store.images.get(image.id), changed);
        assert.deepEqual(await store.images.list('p1'), []);
      });
    });

    describe('identity', () => {
      const project: Project = { id: 'p1', name: 'project one', createAt: T };
      const user = (overrides: Partial<User> = {}): User => ({
        id: 'u1',
        projectId: 'p1',
        name: 'alice',
        domainId: 'd1',
        domainName: 'domain1',
        role: 'admin',
        systemAdmin: true,
        passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
        createAt: T,
        ...overrides,
      });

      it('given no projects, when one is inserted, then it is counted and read back', async () => {
        assert.equal(await store.identity.countProjects(), 0);

        await store.identity.insertProject(project);

        assert.equal(await store.identity.countProjects(), 1);
        assert.deepEqual(await store.identity.getProject('p1'), project);
        assert.equal(await store.identity.getProject('p-none'), undefined);
      });

      it('given users, when read by id and by name, then they round-trip (booleans and null hash too)', async () => {
        await store.identity.insertProject(project);
        const alice = user();
        const bob = user({ id: 'u2', name: 'bob', role: 'viewer', systemAdmin: false, passwordHash: null });

        await store.identity.insertUser(alice);
        await store.identity.insertUser(bob);

        assert.deepEqual(await store.identity.getUser('u1'), alice);
        assert.deepEqual(await store.identity.getUserByName('p1', 'bob'), bob);
        assert.equal(await store.identity.getUser('u-none'), undefined);
        assert.equal(await store.identity.getUserByName('p1', 'carol'), undefined);
      });

      it('given a user name in a project, when the same name is inserted there again, then it is rejected; another project may reuse it', async () => {
        await store.identity.insertProject(project);
        await store.identity.insertProject({ id: 'p2', name: 'project two', createAt: T });
        await store.identity.insertUser(user());

        await assert.rejects(store.identity.insertUser(user({ id: 'u-dup' })));
        await store.identity.insertUser(user({ id: 'u-p2', projectId: 'p2' }));

        assert.equal((await store.identity.getUserByName('p2', 'alice'))?.id, 'u-p2');
        assert.equal((await store.identity.getUserByName('p1', 'alice'))?.id, 'u1');
      });

      it('given a token, when read and then revoked, then it round-trips and shows as revoked', async () => {
        await store.identity.insertProject(project);
        await store.identity.insertUser(user());
        const token: AuthToken = { tokenHash: 'h'.repeat(64), userId: 'u1', projectId: 'p1', expiresAt: T + HOUR_MS, revoked: false, createAt: T };

        await store.identity.insertToken(token);
        assert.deepEqual(await store.identity.getToken(token.tokenHash), token);

        await store.identity.revokeToken(token.tokenHash);
        assert.deepEqual(await store.identity.getToken(token.tokenHash), { ...token, revoked: true });
        assert.equal(await store.identity.getToken('unknown'), undefined);
      });

      it('given access keys, when inserted, listed and one deleted, then the store follows', async () => {
        await store.identity.insertProject(project);
        await store.identity.insertUser(user());
        await store.identity.insertUser(user({ id: 'u2', name: 'bob' }));
        const key = (accessKey: string, overrides: Partial<AccessKey> = {}): AccessKey => ({
          accessKey,
          secretKey: `sk-${accessKey}`,
          userId: 'u1',
          description: '',
          status: 'active',
          createAt: T,
          ...overrides,
        });
        const first = key('AK-ONE', { createAt: T + 1 });
        const second = key('AK-TWO', { createAt: T + 2, status: 'inactive', description: 'old' });
        await store.identity.insertAccessKey(second);
        await store.identity.insertAccessKey(first);
        await store.identity.insertAccessKey(key('AK-BOB', { userId: 'u2' }));

        assert.deepEqual(await store.identity.getAccessKey('AK-TWO'), second);
        assert.deepEqual(await store.identity.listAccessKeys('u1'), [first, second]);

        await store.identity.deleteAccessKey('AK-ONE');

        assert.equal(await store.identity.getAccessKey('AK-ONE'), undefined);
        assert.deepEqual(await store.identity.listAccessKeys('u1'), [second]);
      });
    });

    describe('lifecycle', () => {
      it('given a migrated store, when migrated again, then it still works', async () => {
        await store.migrate();
        await store.migrate();

        await store.ping();
        const nb = await store.notebooks.insert(makeNotebook(), []);
        assert.deepEqual(await store.notebooks.get(nb.id), nb);
      });

      it('given stored data, when the store is closed and reopened, then the data is still there', async () => {
        const fresh = makeNotebook({ tags: [{ key: 'env', value: 'prod' }] });
        const nb = await store.notebooks.insert(fresh, [event(fresh.id, 'created')]);
        const v2 = await store.notebooks.update({ ...nb, status: 'STARTING' }, []);
        await store.notebooks.appendEvents([event(nb.id, 'noted')]);
        await store.images.insert(makeImage());
        await store.identity.insertProject({ id: 'p1', name: 'one', createAt: T });
        const events = await store.notebooks.events(nb.id, 0, 100);
        await store.close();

        const again = await opened!.reopen();
        await again.migrate();

        assert.deepEqual(await again.notebooks.get(nb.id), v2);
        assert.deepEqual(await again.notebooks.events(nb.id, 0, 100), events);
        assert.deepEqual(await again.notebooks.tagSummary('p1'), [{ key: 'env', values: ['prod'] }]);
        assert.deepEqual(await again.images.get('img-1'), makeImage());
        assert.equal(await again.identity.countProjects(), 1);
      });
    });
  });
}
