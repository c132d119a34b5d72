// The identity additions to the store contract (migration 002: projects and users administration,
// token pruning, access key updates, quotas, the audit trail, quota usage rows), run against both
// SQLite and a real PostgreSQL, a fresh database per test.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NewAuditRecord } from '../../src/domain/audit.ts';
import type { AccessKey, AuthToken, Project, User } from '../../src/domain/identity.ts';
import { createPostgresStore } from '../../src/store/sql/postgres.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook, makeOwner } from '../support/notebook-fixture.ts';
import { startPostgres } from '../support/postgres.ts';

const T = Date.UTC(2026, 10, 22, 9, 0, 0);
const HOUR = 3_600_000;

const project = (id: string, name = `name-${id}`): Project => ({ id, name, createAt: T });
const user = (id: string, projectId: string, overrides: Partial<User> = {}): User => ({
  id,
  projectId,
  name: `user-${id}`,
  domainId: projectId,
  domainName: projectId,
  role: 'member',
  systemAdmin: false,
  passwordHash: null,
  createAt: T,
  ...overrides,
});
const token = (hash: string, userId: string, overrides: Partial<AuthToken> = {}): AuthToken => ({ tokenHash: hash, userId, projectId: 'p1', expiresAt: T + HOUR, revoked: false, createAt: T, ...overrides });
const key = (ak: string, userId: string): AccessKey => ({ accessKey: ak, secretKey: `sk-${ak}`, userId, description: '', status: 'active', createAt: T });
const audit = (overrides: Partial<NewAuditRecord> = {}): NewAuditRecord => ({
  at: T,
  projectId: 'p1',
  actorId: 'u1',
  actorName: 'alice',
  sourceIp: '127.0.0.1',
  method: 'POST',
  path: '/v1/:project_id/notebooks',
  operation: 'CreateNotebook',
  target: 'nb-1',
  statusCode: 200,
  errorCode: null,
  requestId: 'r1',
  ...overrides,
});

type Opener = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const openers: [string, Opener][] = [
  [
    'sqlite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'notebookd-identity-'));
      const store = await createSqliteStore(join(dir, 'notebookd.db'));
      return { store, cleanup: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
    },
  ],
  [
    'postgres',
    async () => {
      const database = await startPostgres();
      const store = await createPostgresStore(database.url);
      return { store, cleanup: async () => (await store.close(), await database.dropDatabase()) };
    },
  ],
];

for (const [kind, open] of openers) {
  describe(`identity store (${kind})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
      await store.identity.insertProject(project('p1', 'one'));
      await store.identity.insertProject(project('p2', 'two'));
    });
    afterEach(async () => {
      await cleanup();
    });

    it('lists projects in creation order, finds one by name, renames it; names are unique', async () => {
      assert.deepEqual((await store.identity.listProjects()).map((p) => p.id), ['p1', 'p2']);
      assert.equal((await store.identity.getProjectByName('two'))?.id, 'p2');
      assert.equal(await store.identity.getProjectByName('three'), undefined);

      await store.identity.updateProject({ ...project('p2'), name: 'deux' });

      assert.equal((await store.identity.getProject('p2'))?.name, 'deux');
      await assert.rejects(store.identity.insertProject(project('p3', 'one')), 'duplicate name');
    });

    it('deletes a project with its users, their tokens and keys, and its quotas; other projects keep theirs', async () => {
      await store.identity.insertUser(user('u1', 'p1'));
      await store.identity.insertUser(user('u2', 'p2'));
      await store.identity.insertToken(token('h1', 'u1'));
      await store.identity.insertToken(token('h2', 'u2', { projectId: 'p2' }));
      await store.identity.insertAccessKey(key('AK1', 'u1'));
      await store.identity.insertAccessKey(key('AK2', 'u2'));
      await store.identity.putQuota('p1', 'project', { instances: 3 }, T);
      await store.identity.putQuota('p2', 'project', { instances: 4 }, T);

      await store.identity.deleteProject('p1');

      assert.equal(await store.identity.getProject('p1'), undefined);
      assert.equal(await store.identity.getUser('u1'), undefined);
      assert.equal(await store.identity.getToken('h1'), undefined);
      assert.equal(await store.identity.getAccessKey('AK1'), undefined);
      assert.equal(await store.identity.getQuota('p1', 'project'), undefined);
      assert.ok(await store.identity.getUser('u2'), 'await store.identity.getUser(\'u2\')');
      assert.ok(await store.identity.getToken('h2'), 'await store.identity.getToken(\'h2\')');
      assert.ok(await store.identity.getAccessKey('AK2'), 'await store.identity.getAccessKey(\'AK2\')');
      assert.deepEqual(await store.identity.getQuota('p2', 'project'), { instances: 4 });
    });

    it('lists users by project and by name, updates and deletes them (with tokens, keys and own quota)', async () => {
      await store.identity.insertUser(user('u1', 'p1', { name: 'alice', systemAdmin: true }));
      await store.identity.insertUser(user('u2', 'p1', { name: 'bob', createAt: T + 1 }));
      await store.identity.insertUser(user('u3', 'p2', { name: 'alice' }));
      assert.deepEqual((await store.identity.listUsers({ projectId: 'p1' })).map((u) => u.id), ['u1', 'u2']);
      assert.deepEqual((await store.identity.listUsers({ name: 'alice' })).map((u) => u.id), ['u1', 'u3']);
      assert.deepEqual((await store.identity.listUsers({ projectId: 'p2', name: 'alice' })).map((u) => u.id), ['u3']);
      assert.equal((await store.identity.listUsers({})).length, 3);
      assert.equal(await store.identity.countSystemAdmins(), 1);

      const changed = { ...user('u2', 'p1', { createAt: T + 1 }), name: 'robert', role: 'admin' as const, systemAdmin: true, passwordHash: 'scrypt$x' };
      await store.identity.updateUser(changed);
      assert.deepEqual(await store.identity.getUser('u2'), changed);
      assert.equal(await store.identity.countSystemAdmins(), 2);

      await store.identity.insertToken(token('h2', 'u2'));
      await store.identity.insertAccessKey(key('AK2', 'u2'));
      await store.identity.putQuota('p1', 'user:u2', { instances: 1 }, T);
      await store.identity.deleteUser('u2');
      assert.equal(await store.identity.getUser('u2'), undefined);
      assert.equal(await store.identity.getToken('h2'), undefined);
      assert.equal(await store.identity.getAccessKey('AK2'), undefined);
      assert.equal(await store.identity.getQuota('p1', 'user:u2'), undefined);
    });

    it('revokes a user\'s live tokens (counting only those) and prunes expired ones', async () => {
      await store.identity.insertUser(user('u1', 'p1'));
      await store.identity.insertUser(user('u2', 'p1'));
      await store.identity.insertToken(token('live1', 'u1'));
      await store.identity.insertToken(token('live2', 'u1'));
      await store.identity.insertToken(token('revoked', 'u1', { revoked: true }));
      await store.identity.insertToken(token('expired', 'u1', { expiresAt: T - 1 }));
      await store.identity.insertToken(token('other', 'u2'));

      assert.equal(await store.identity.revokeUserTokens('u1', T), 2);

      assert.equal((await store.identity.getToken('live1'))?.revoked, true);
      assert.equal((await store.identity.getToken('other'))?.revoked, false);
      assert.equal(await store.identity.deleteExpiredTokens(T), 1);
      assert.equal(await store.identity.getToken('expired'), undefined);
      assert.ok(await store.identity.getToken('live1'), 'await store.identity.getToken(\'live1\')');
    });

    it('updates an access key\'s status and description, nothing else', async () => {
      await store.identity.insertUser(user('u1', 'p1'));
      await store.identity.insertAccessKey(key('AK1', 'u1'));
      await store.identity.updateAccessKey({ ...key('AK1', 'u1'), status: 'inactive', description: 'parked', secretKey: 'changed?' });
      assert.deepEqual(await store.identity.getAccessKey('AK1'), { ...key('AK1', 'u1'), status: 'inactive', description: 'parked' });
    });

    it('stores quotas per project and subject, replacing on put (nulls kept), deleting on demand', async () => {
      assert.equal(await store.identity.getQuota('p1', 'project'), undefined);
      await store.identity.putQuota('p1', 'project', { instances: 3, flavors: ['a', 'b'] }, T);
      await store.identity.putQuota('p1', 'user-default', { runningInstances: 1 }, T);
      await store.identity.putQuota('p1', 'project', { instances: null, vcpus: 8, flavors: null }, T + 1);
      assert.deepEqual(await store.identity.getQuota('p1', 'project'), { instances: null, vcpus: 8, flavors: null });
      assert.deepEqual(await store.identity.getQuota('p1', 'user-default'), { runningInstances: 1 });
      assert.equal(await store.identity.getQuota('p2', 'project'), undefined);
      await store.identity.deleteQuota('p1', 'user-default');
      assert.equal(await store.identity.getQuota('p1', 'user-default'), undefined);
    });

    it('appends audit records and lists a project\'s newest first, filtered and paged', async () => {
      await store.audit.append(audit({ at: T, requestId: 'r1' }));
      await store.audit.append(audit({ at: T + 10, operation: 'StopNotebook', actorId: 'u2', actorName: 'bob', requestId: 'r2' }));
      await store.audit.append(audit({ at: T + 20, statusCode: 403, errorCode: 'ModelArts.0108', requestId: 'r3' }));
      await store.audit.append(audit({ at: T + 30, projectId: 'p2', requestId: 'r4' }));
      await store.audit.append(audit({ at: T + 40, projectId: null, actorId: null, actorName: null, requestId: 'r5' }));

      const all = await store.audit.list({ projectId: 'p1', offset: 0, limit: 10 });
      assert.equal(all.total, 3);
      assert.deepEqual(all.items.map((r) => r.requestId), ['r3', 'r2', 'r1']);
      assert.deepEqual(all.items[0], { ...audit({ at: T + 20, statusCode: 403, errorCode: 'ModelArts.0108', requestId: 'r3' }), id: all.items[0]!.id });
      assert.ok(all.items[0]!.id > all.items[1]!.id, 'ids grow');

      assert.deepEqual((await store.audit.list({ projectId: 'p1', operation: 'StopNotebook', offset: 0, limit: 10 })).items.map((r) => r.requestId), ['r2']);
      assert.deepEqual((await store.audit.list({ projectId: 'p1', actorId: 'u1', offset: 0, limit: 10 })).items.map((r) => r.requestId), ['r3', 'r1']);
      assert.deepEqual((await store.audit.list({ projectId: 'p1', sinceAt: T + 5, untilAt: T + 20, offset: 0, limit: 10 })).items.map((r) => r.requestId), ['r3', 'r2']);
      const page = await store.audit.list({ projectId: 'p1', offset: 1, limit: 1 });
      assert.deepEqual([page.total, page.items.map((r) => r.requestId)], [3, ['r2']]);
    });

    it('appends records that arrive together, in order and each complete, also past one statement\'s rows', async () => {
      // Given 70 appends in one turn (more than one INSERT's 32 rows)
      const records = Array.from({ length: 70 }, (_, i) => audit({ projectId: 'p-batch', at: T + i, requestId: `b${i}`, target: i % 2 ? null : `nb-${i}` }));
      await Promise.all(records.map((r) => store.audit.append(r)));
      // Then every one is there, field for field, in arrival order
      const listed = await store.audit.list({ projectId: 'p-batch', offset: 0, limit: 100 });
      assert.equal(listed.total, 70);
      assert.deepEqual(
        listed.items.reverse().map(({ id: _id, ...r }) => r),
        records,
      );
    });

    it('gives usage rows of a project\'s live instances, with a pending grow counted', async () => {
      const running = makeNotebook({ projectId: 'p1', status: 'RUNNING', owner: makeOwner('u1'), flavorId: 'f4' });
      const growing = makeNotebook({ projectId: 'p1', status: 'RUNNING', owner: makeOwner('u2') });
      growing.volume = { ...growing.volume, status: 'RESIZING', pendingCapacityGb: 9 };
      await store.notebooks.insert(running, []);
      await store.notebooks.insert(growing, []);
      await store.notebooks.insert(makeNotebook({ projectId: 'p1', status: 'DELETED' }), []);
      await store.notebooks.insert(makeNotebook({ projectId: 'p2' }), []);

      const rows = await store.notebooks.usageRows('p1');

      assert.deepEqual(
        rows.sort((a, b) => a.ownerId.localeCompare(b.ownerId)),
        [
          { id: running.id, ownerId: 'u1', status: 'RUNNING', flavorId: 'f4', storageGb: 5 },
          { id: growing.id, ownerId: 'u2', status: 'RUNNING', flavorId: 'modelarts.vm.cpu.2u', storageGb: 9 },
        ],
      );
    });
  });
}
