// The notebook record cache of the SQLite store (src/store/sql/record-cache.ts): served from
// memory, yet never older than the last acknowledged write, a commit by another process, or a
// read that raced with a commit.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import type { Notebook } from '../../src/domain/notebook.ts';
import { createRecordCache } from '../../src/store/sql/record-cache.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook } from '../support/notebook-fixture.ts';
import { waitFor } from '../support/wait.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('SQLite notebook record cache', () => {
  let dir: string;
  let file: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notebookd-record-cache-'));
    file = join(dir, 'notebookd.db');
    store = await createSqliteStore(file);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves one frozen record until a write, then the written one', async () => {
    const nb = await store.notebooks.insert(makeNotebook({ name: 'cached' }), []);
    const first = (await store.notebooks.get(nb.id))!;
    assert.equal(await store.notebooks.get(nb.id), first, 'the second read is the cached object');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.lease) && Object.isFrozen(first.tags));
    assert.throws(() => {
      (first as { name: string }).name = 'mutated';
    }, TypeError);

    const renamed = await store.notebooks.update({ ...first, name: 'renamed' }, []);
    const read = (await store.notebooks.get(nb.id))!;
    assert.equal(read.name, 'renamed');
    assert.equal(read.version, renamed.version);
  });

  it('lists hand out the cached record of an unchanged row, and the new one after a write', async () => {
    const projectId = 'p-list-cache';
    const a = await store.notebooks.insert(makeNotebook({ projectId, name: 'list-a' }), []);
    await store.notebooks.insert(makeNotebook({ projectId, name: 'list-b' }), []);
    const query = { projectId, sortKey: 'name', sortDir: 'ASC', offset: 0, limit: 10 } as const;
    const first = await store.notebooks.list(query);
    const again = await store.notebooks.list({ ...query, nameContains: 'list-' });
    assert.deepEqual(first.items.map((nb) => nb.name), ['list-a', 'list-b']);
    assert.equal(again.items[0], first.items[0], 'the same row at the same version is the same object');
    assert.equal(await store.notebooks.get(a.id), first.items[0], 'and the one get() gives');
    assert.ok(Object.isFrozen(first.items[1]));

    await store.notebooks.update({ ...first.items[0]!, description: 'changed' }, []);
    const after = await store.notebooks.list(query);
    assert.equal(after.items[0]!.description, 'changed');
    assert.equal(after.items[1], first.items[1], 'the unchanged row is still the cached object');
  });

  it('drops what it holds when another process commits to the file', async () => {
    const nb = await store.notebooks.insert(makeNotebook({ name: 'before' }), []);
    assert.equal((await store.notebooks.get(nb.id))!.name, 'before');
    const other = new SQLite(file);
    try {
      other.pragma('busy_timeout = 5000');
      const doc = JSON.stringify({ ...nb, name: 'written-elsewhere', version: nb.version + 1 });
      other.prepare('update notebooks set doc = ?, name = ?, version = version + 1 where id = ?').run(doc, 'written-elsewhere', nb.id);
    } finally {
      other.close();
    }
    // The foreign commit is noticed within a millisecond (data_version is read at most once per ms).
    const read = await waitFor('the foreign commit to be seen', 1_000, async () => {
      const nbNow = (await store.notebooks.get(nb.id))!;
      return nbNow.name === 'written-elsewhere' && nbNow;
    }, 1);
    assert.equal(read.name, 'written-elsewhere');
    assert.equal(read.version, nb.version + 1);
  });

  it('a read that raced with a commit does not put the older record back', async () => {
    // The real store underneath, with its get() held back after reading: the read sees version 1,
    // then a write commits version 2 before the read's result reaches the cache.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let hold = false;
    const slowReads = {
      ...store.notebooks,
      async get(id: string) {
        const read = await store.notebooks.get(id);
        if (hold) await held;
        return read;
      },
    };
    const cache = createRecordCache({ externalWrites: () => 0 }).wrap(slowReads);
    const nb = await store.notebooks.insert(makeNotebook({ name: 'v1' }), []);

    hold = true;
    const racingRead = cache.get(nb.id);
    await nextTurn(); // the read has happened and waits
    const written = await cache.update({ ...nb, name: 'v2' }, []);
    release();
    assert.equal((await racingRead)!.name, 'v1', 'the racing read itself answers with what it read');
    hold = false;
    const after = (await cache.get(nb.id))!;
    assert.equal(after.name, 'v2');
    assert.equal(after.version, written.version);
  });

  it('stays correct past its size: the oldest records are read again', async () => {
    const cache = createRecordCache({ externalWrites: () => 0, maxEntries: 4 }).wrap(store.notebooks);
    const nbs: Notebook[] = [];
    for (let i = 0; i < 10; i++) nbs.push(await cache.insert(makeNotebook({ name: `many-${i}` }), []));
    for (const [i, nb] of nbs.entries()) assert.equal((await cache.get(nb.id))!.name, `many-${i}`);
    const updated = await cache.update({ ...nbs[0]!, name: 'many-0-renamed' }, []);
    assert.equal((await cache.get(nbs[0]!.id))!.version, updated.version);
    assert.equal(await cache.get('no-such-id'), undefined);
  });
});
