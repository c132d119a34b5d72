// The store contract against a real PostgreSQL (test/support/postgres.ts): a fresh database per
// test. Plus what only matters with several replicas: concurrent migrations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPostgresStore } from '../../src/store/sql/postgres.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook } from '../support/notebook-fixture.ts';
import { startPostgres } from '../support/postgres.ts';
import { runStoreContract } from './store.contract.ts';

async function openPostgres() {
  const database = await startPostgres();
  const stores: Store[] = [];
  const openOne = async () => {
    const store = await createPostgresStore(database.url);
    stores.push(store);
    return store;
  };
  return {
    store: await openOne(),
    reopen: openOne,
    async cleanup() {
      for (const store of stores) await store.close();
      await database.dropDatabase();
    },
  };
}

runStoreContract('postgres', openPostgres);

describe('postgres store: several replicas', () => {
  for (const round of [1, 2, 3]) {
    it(`given a fresh database, when two replicas migrate at once, then both succeed and the schema works (round ${round})`, async () => {
      const { store: first, reopen, cleanup } = await openPostgres();
      try {
        const second = await reopen();

        await Promise.all([first.migrate(), second.migrate()]);

        assert.equal(first.kind, 'postgres');
        const nb = await first.notebooks.insert(makeNotebook(), []);
        assert.deepEqual(await second.notebooks.get(nb.id), nb);
      } finally {
        await cleanup();
      }
    });
  }
});
