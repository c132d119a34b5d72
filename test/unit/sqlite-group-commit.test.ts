// Group commit on SQLite (src/store/sql/sqlite-driver.ts) and coalesced writes to one instance
// (src/store/mutate.ts): writers that arrive together share one COMMIT, yet each keeps its own
// result, its own failure, and its own version step; nobody is answered before the COMMIT.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { errors } from '../../src/domain/errors.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import { mutateNotebook } from '../../src/store/mutate.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook } from '../support/notebook-fixture.ts';

describe('SQLite group commit and coalesced writes', () => {
  let dir: string;
  let file: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notebookd-group-commit-'));
    file = join(dir, 'notebookd.db');
    store = await createSqliteStore(file);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Commits seen by another connection: SQLite's data_version moves once per foreign commit. */
  const commitsSeenBy = (observer: SQLite.Database) => {
    const version = observer.prepare('PRAGMA data_version').pluck();
    const start = version.get() as number;
    return () => (version.get() as number) - start;
  };

  it('writers that arrive together share one COMMIT; a failing one is undone alone', async () => {
    const nbs = await Promise.all(Array.from({ length: 6 }, (_, i) => store.notebooks.insert(makeNotebook({ id: `g${i}`, name: `g${i}` }), [])));
    const observer = new SQLite(file, { readonly: true });
    try {
      const commits = commitsSeenBy(observer);
      // Given six updates issued in one turn, the fourth with a stale version
      const writes = nbs.map((nb, i) => store.notebooks.update({ ...nb, name: `renamed-${i}`, version: i === 3 ? nb.version + 5 : nb.version }, [{ notebookId: nb.id, at: 1, type: 'test.renamed', message: `${i}` }]));
      const results = await Promise.allSettled(writes);
      // Then the five others landed, the stale one conflicted, and all of it took one commit
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.equal(commits(), 1);
      for (const [i, nb] of nbs.entries()) {
        const now = (await store.notebooks.get(nb.id))!;
        assert.equal(now.name, i === 3 ? 'g3' : `renamed-${i}`);
        assert.equal((await store.notebooks.events(nb.id, 0, 10)).length, i === 3 ? 0 : 1, 'the stale writer left no event behind');
      }
    } finally {
      observer.close();
    }
  });

  it('answers a writer only once its COMMIT is visible to another connection', async () => {
    const nb = await store.notebooks.insert(makeNotebook({ id: 'visible' }), []);
    const observer = new SQLite(file, { readonly: true });
    try {
      const updated = await store.notebooks.update({ ...nb, name: 'seen' }, []);
      const row = observer.prepare('select name, version from notebooks where id = ?').get(nb.id) as { name: string; version: number };
      assert.deepEqual(row, { name: 'seen', version: updated.version });
    } finally {
      observer.close();
    }
  });

  it('reads outside a transaction never see a group that has not committed yet', async () => {
    const nb = await store.notebooks.insert(makeNotebook({ id: 'uncommitted' }), []);
    const pending = store.notebooks.update({ ...nb, name: 'pending' }, []);
    // The UPDATE ran in this turn; its COMMIT waits for the next one.
    assert.equal((await store.notebooks.get(nb.id))!.name, nb.name);
    await pending;
    assert.equal((await store.notebooks.get(nb.id))!.name, 'pending');
  });

  it('coalesces concurrent writers to one instance: each decides on its predecessor, each step is a version', async () => {
    const nb = await store.notebooks.insert(makeNotebook({ id: 'coalesced', description: '' }), []);
    const observer = new SQLite(file, { readonly: true });
    try {
      const commits = commitsSeenBy(observer);
      const append = (s: string) => (cur: Notebook) => ({
        next: { ...cur, description: cur.description + s },
        events: [{ notebookId: cur.id, at: 1, type: 'test.append', message: s }],
      });
      const results = await Promise.allSettled([
        mutateNotebook(store, nb.id, append('a')),
        mutateNotebook(store, nb.id, append('b')),
        mutateNotebook(store, nb.id, () => {
          throw errors.conflict('refused');
        }),
        mutateNotebook(store, nb.id, () => null),
        mutateNotebook(store, nb.id, append('c')),
      ]);
      const value = (i: number) => (results[i] as PromiseFulfilledResult<Notebook>).value;
      // Every writer saw its predecessors' changes; the refusal and the no-op changed nothing
      assert.equal(value(0).description, 'a');
      assert.equal(value(1).description, 'ab');
      assert.equal(results[2]!.status, 'rejected');
      assert.equal(value(3).description, 'ab');
      assert.equal(value(4).description, 'abc');
      // The stored record has one version per change, and their events in order, from one commit
      const stored = (await store.notebooks.get(nb.id))!;
      assert.equal(stored.description, 'abc');
      assert.equal(stored.version, nb.version + 3);
      assert.equal(value(4).version, stored.version);
      assert.deepEqual((await store.notebooks.events(nb.id, 0, 10)).map((e) => e.message), ['a', 'b', 'c']);
      assert.equal(commits(), 1);
    } finally {
      observer.close();
    }
  });
});
