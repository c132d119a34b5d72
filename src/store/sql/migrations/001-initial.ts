// The initial schema: notebooks with derived query columns, their tags and events, registered
// images, and identity (projects, users, tokens, access keys).
import { sql } from 'kysely';
import type { NumberedMigration } from './migration.ts';

export const initial: NumberedMigration = {
  name: '001-initial',
  async up(db, kind) {
    const epochMs = kind === 'postgres' ? 'bigint' : 'integer';

    await db.schema
      .createTable('notebooks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_lower', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('flavor_id', 'text', (c) => c.notNull())
      .addColumn('image_id', 'text', (c) => c.notNull())
      .addColumn('feature', 'text', (c) => c.notNull())
      .addColumn('pool_id', 'text')
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .addColumn('update_at', epochMs, (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('due_at', epochMs)
      .addColumn('doc', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('notebooks_project_create_at').on('notebooks').columns(['project_id', 'create_at']).execute();
    await db.schema.createIndex('notebooks_project_owner').on('notebooks').columns(['project_id', 'owner_id']).execute();
    await db.schema.createIndex('notebooks_status').on('notebooks').column('status').execute();
    await db.schema.createIndex('notebooks_image').on('notebooks').column('image_id').execute();
    // Partial: only RUNNING instances with an enabled lease have a due time, so the lease
    // executor's min/range lookups touch just those rows; id is listDue's tie-breaker.
    await db.schema
      .createIndex('notebooks_due_at')
      .on('notebooks')
      .columns(['due_at', 'id'])
      .where(sql.ref('due_at'), 'is not', null)
      .execute();

    await db.schema
      .createTable('notebook_tags')
      .addColumn('notebook_id', 'text', (c) => c.notNull().references('notebooks.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('notebook_tags_pk', ['notebook_id', 'key', 'value'])
      .execute();
    await db.schema.createIndex('notebook_tags_key_value').on('notebook_tags').columns(['key', 'value']).execute();

    await db.schema
      .createTable('notebook_events')
      .addColumn('id', kind === 'postgres' ? 'bigserial' : 'integer', (c) =>
        // AUTOINCREMENT on SQLite: ids are never reused, so afterId paging stays monotonic.
        kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('notebook_id', 'text', (c) => c.notNull().references('notebooks.id').onDelete('cascade'))
      .addColumn('at', epochMs, (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('data', 'text')
      .execute();
    await db.schema.createIndex('notebook_events_notebook').on('notebook_events').columns(['notebook_id', 'id']).execute();

    await db.schema
      .createTable('images')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .addColumn('doc', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('images_project').on('images').columns(['project_id', 'create_at']).execute();

    await db.schema
      .createTable('projects')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('domain_id', 'text', (c) => c.notNull())
      .addColumn('domain_name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('system_admin', 'integer', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .addUniqueConstraint('users_project_name', ['project_id', 'name'])
      .execute();

    await db.schema
      .createTable('auth_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('expires_at', epochMs, (c) => c.notNull())
      .addColumn('revoked', 'integer', (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('auth_tokens_user').on('auth_tokens').column('user_id').execute();

    await db.schema
      .createTable('access_keys')
      .addColumn('access_key', 'text', (c) => c.primaryKey())
      .addColumn('secret_key', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('access_keys_user').on('access_keys').column('user_id').execute();
  },
};
