// IdentityStore over Kysely: plain rows, one table per kind. Booleans are stored as 0/1.
import type { Kysely, Selectable } from 'kysely';
import type { AccessKey, AuthToken, Project, Role, User } from '../../domain/identity.ts';
import type { ProjectQuotaLimits } from '../../domain/quota.ts';
import type { IdentityStore } from '../store.ts';
import type { AccessKeysTable, AuthTokensTable, Database, ProjectsTable, UsersTable } from './schema.ts';

const toProject = (r: Selectable<ProjectsTable>): Project => ({ id: r.id, name: r.name, createAt: Number(r.create_at) });

const toUser = (r: Selectable<UsersTable>): User => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  domainId: r.domain_id,
  domainName: r.domain_name,
  role: r.role as Role,
  systemAdmin: r.system_admin !== 0,
  passwordHash: r.password_hash,
  createAt: Number(r.create_at),
});

const toToken = (r: Selectable<AuthTokensTable>): AuthToken => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  projectId: r.project_id,
  expiresAt: Number(r.expires_at),
  revoked: r.revoked !== 0,
  createAt: Number(r.create_at),
});

const toAccessKey = (r: Selectable<AccessKeysTable>): AccessKey => ({
  accessKey: r.access_key,
  secretKey: r.secret_key,
  userId: r.user_id,
  description: r.description,
  status: r.status as AccessKey['status'],
  createAt: Number(r.create_at),
});

export function createIdentityStore(db: Kysely<Database>): IdentityStore {
  return {
    async countProjects() {
      const row = await db
        .selectFrom('projects')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async insertProject(p) {
      await db.insertInto('projects').values({ id: p.id, name: p.name, create_at: p.createAt }).execute();
    },

    async getProject(id) {
      const row = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toProject(row);
    },

    async insertUser(u) {
      await db
        .insertInto('users')
        .values({
          id: u.id,
          project_id: u.projectId,
          name: u.name,
          domain_id: u.domainId,
          domain_name: u.domainName,
          role: u.role,
          system_admin: u.systemAdmin ? 1 : 0,
          password_hash: u.passwordHash,
          create_at: u.createAt,
        })
        .execute();
    },

    async getUser(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toUser(row);
    },

    async getUserByName(projectId, name) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('name', '=', name)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async insertToken(t) {
      await db
        .insertInto('auth_tokens')
        .values({
          token_hash: t.tokenHash,
          user_id: t.userId,
          project_id: t.projectId,
          expires_at: t.expiresAt,
          revoked: t.revoked ? 1 : 0,
          create_at: t.createAt,
        })
        .execute();
    },

    async getToken(tokenHash) {
      const row = await db.selectFrom('auth_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return row && toToken(row);
    },

    async revokeToken(tokenHash) {
      await db.updateTable('auth_tokens').set({ revoked: 1 }).where('token_hash', '=', tokenHash).execute();
    },

    async insertAccessKey(k) {
      await db
        .insertInto('access_keys')
        .values({
          access_key: k.accessKey,
          secret_key: k.secretKey,
          user_id: k.userId,
          description: k.description,
          status: k.status,
          create_at: k.createAt,
        })
        .execute();
    },

    async getAccessKey(accessKey) {
      const row = await db.selectFrom('access_keys').selectAll().where('access_key', '=', accessKey).executeTakeFirst();
      return row && toAccessKey(row);
    },

    async listAccessKeys(userId) {
      const rows = await db
        .selectFrom('access_keys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('create_at')
        .orderBy('access_key')
        .execute();
      return rows.map(toAccessKey);
    },

    async deleteAccessKey(accessKey) {
      await db.deleteFrom('access_keys').where('access_key', '=', accessKey).execute();
    },

    async listProjects() {
      const rows = await db.selectFrom('projects').selectAll().orderBy('create_at').orderBy('id').execute();
      return rows.map(toProject);
    },

    async getProjectByName(name) {
      const row = await db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toProject(row);
    },

    async updateProject(p) {
      await db.updateTable('projects').set({ name: p.name }).where('id', '=', p.id).execute();
    },

    async deleteProject(id) {
      // Explicit rather than relying on cascades: users.project_id has none, and SQLite only
      // cascades with foreign_keys on.
      await db.transaction().execute(async (tx) => {
        const users = tx.selectFrom('users').select('id').where('project_id', '=', id);
        await tx.deleteFrom('auth_tokens').where('user_id', 'in', users).execute();
        await tx.deleteFrom('access_keys').where('user_id', 'in', users).execute();
        await tx.deleteFrom('users').where('project_id', '=', id).execute();
        await tx.deleteFrom('quotas').where('project_id', '=', id).execute();
        await tx.deleteFrom('projects').where('id', '=', id).execute();
      });
    },

    async listUsers({ projectId, name }) {
      let q = db.selectFrom('users').selectAll();
      if (projectId !== undefined) q = q.where('project_id', '=', projectId);
      if (name !== undefined) q = q.where('name', '=', name);
      const rows = await q.orderBy('create_at').orderBy('id').execute();
      return rows.map(toUser);
    },

    async updateUser(u) {
      await db
        .updateTable('users')
        .set({ name: u.name, role: u.role, system_admin: u.systemAdmin ? 1 : 0, password_hash: u.passwordHash })
        .where('id', '=', u.id)
        .execute();
    },

    async deleteUser(id) {
      await db.transaction().execute(async (tx) => {
        await tx.deleteFrom('auth_tokens').where('user_id', '=', id).execute();
        await tx.deleteFrom('access_keys').where('user_id', '=', id).execute();
        await tx.deleteFrom('quotas').where('subject', '=', `user:${id}`).execute();
        await tx.deleteFrom('users').where('id', '=', id).execute();
      });
    },

    async countSystemAdmins() {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('system_admin', '=', 1)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async revokeUserTokens(userId, now) {
      const result = await db
        .updateTable('auth_tokens')
        .set({ revoked: 1 })
        .where('user_id', '=', userId)
        .where('revoked', '=', 0)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async deleteExpiredTokens(before) {
      const result = await db.deleteFrom('auth_tokens').where('expires_at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async updateAccessKey(k) {
      await db
        .updateTable('access_keys')
        .set({ status: k.status, description: k.description })
        .where('access_key', '=', k.accessKey)
        .execute();
    },

    async getQuota(projectId, subject) {
      const row = await db
        .selectFrom('quotas')
        .select('doc')
        .where('project_id', '=', projectId)
        .where('subject', '=', subject)
        .executeTakeFirst();
      return row && (JSON.parse(row.doc) as Partial<ProjectQuotaLimits>);
    },

    async putQuota(projectId, subject, limits, now) {
      const doc = JSON.stringify(limits);
      await db
        .insertInto('quotas')
        .values({ project_id: projectId, subject, doc, update_at: now })
        .onConflict((oc) => oc.columns(['project_id', 'subject']).doUpdateSet({ doc, update_at: now }))
        .execute();
    },

    async deleteQuota(projectId, subject) {
      await db.deleteFrom('quotas').where('project_id', '=', projectId).where('subject', '=', subject).execute();
    },
  };
}
