// Identity, part two: quotas per project and per user, the audit trail, unique project names
// (tokens may be scoped by name) and an index to prune expired tokens.
import type { NumberedMigration } from './migration.ts';

export const identity: NumberedMigration = {
  name: '002-identity',
  async up(db, kind) {
    const epochMs = kind === 'postgres' ? 'bigint' : 'integer';

    await db.schema.createIndex('projects_name').on('projects').column('name').unique().execute();
    await db.schema.createIndex('auth_tokens_expires_at').on('auth_tokens').column('expires_at').execute();

    // subject: 'project', 'user-default' or 'user:<id>'; doc: the limits as JSON.
    await db.schema
      .createTable('quotas')
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('doc', 'text', (c) => c.notNull())
      .addColumn('update_at', epochMs, (c) => c.notNull())
      .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'subject'])
      .execute();

    // No foreign keys: the trail outlives the projects and users it mentions.
    await db.schema
      .createTable('audit_log')
      .addColumn('id', kind === 'postgres' ? 'bigserial' : 'integer', (c) =>
        kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('at', epochMs, (c) => c.notNull())
      .addColumn('project_id', 'text')
      .addColumn('actor_id', 'text')
      .addColumn('actor_name', 'text')
      .addColumn('source_ip', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('operation', 'text', (c) => c.notNull())
      .addColumn('target', 'text')
      .addColumn('status_code', 'integer', (c) => c.notNull())
      .addColumn('error_code', 'text')
      .addColumn('request_id', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_project').on('audit_log').columns(['project_id', 'id']).execute();
  },
};
