// The key pair store (migration 003) on both SQL dialects: unique names per project, a losing
// concurrent insert that reports false instead of throwing, per-user listing, delete.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { KeyPair } from '../../src/domain/keypair.ts';
import { createPostgresStore } from '../../src/store/sql/postgres.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { startPostgres } from '../support/postgres.ts';

const kp = (over: Partial<KeyPair>): KeyPair => ({
  projectId: 'p1',
  name: 'k1',
  userId: 'u1',
  type: 'ssh',
  publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKMPaiT3zHGZ4gtmxuZGdU8scr9j25WZMLuTHtjKBt04 k1',
  fingerprint: 'SHA256:abc',
  createAt: 1_000,
  ...over,
});

const dialects: [string, () => Promise<{ store: Store; cleanup(): Promise<void> }>][] = [
  [
    'sqlite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'notebookd-kp-store-'));
      const store = await createSqliteStore(join(dir, 'db.sqlite'));
      return { store, cleanup: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
    },
  ],
  [
    'postgres',
    async () => {
      const db = await startPostgres();
      const store = await createPostgresStore(db.url);
      return { store, cleanup: async () => (await store.close(), await db.dropDatabase()) };
    },
  ],
];

for (const [dialect, open] of dialects) {
  describe(`key pair store on ${dialect}`, () => {
    it('keeps names unique per project, lists per project or per user, deletes', async () => {
      const { store, cleanup } = await open();
      try {
        await store.migrate();
        assert.equal(await store.keypairs.insert(kp({})), true);
        assert.equal(await store.keypairs.insert(kp({ userId: 'u2' })), false, 'the same name again loses quietly');
        assert.equal(await store.keypairs.insert(kp({ projectId: 'p2' })), true, 'another project may use the name');
        assert.equal(await store.keypairs.insert(kp({ name: 'k2', userId: 'u2', createAt: 2_000 })), true);
        assert.deepEqual(await store.keypairs.get('p1', 'k1'), kp({}));
        assert.equal(await store.keypairs.get('p1', 'nope'), undefined);
        assert.deepEqual((await store.keypairs.list('p1')).map((k) => k.name), ['k1', 'k2']);
        assert.deepEqual((await store.keypairs.list('p1', 'u2')).map((k) => k.name), ['k2']);
        assert.equal(await store.keypairs.delete('p1', 'k1'), true);
        assert.equal(await store.keypairs.delete('p1', 'k1'), false);
        assert.deepEqual((await store.keypairs.list('p1')).map((k) => k.name), ['k2']);
        assert.equal((await store.keypairs.get('p2', 'k1'))?.projectId, 'p2');
      } finally {
        await cleanup();
      }
    });
  });
}
