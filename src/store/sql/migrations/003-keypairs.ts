// SSH key pairs (the KPS API shape): unique by name within a project, listed per user.
import type { NumberedMigration } from './migration.ts';

export const keypairs: NumberedMigration = {
  name: '003-keypairs',
  async up(db, kind) {
    const epochMs = kind === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('keypairs')
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .addPrimaryKeyConstraint('keypairs_pk', ['project_id', 'name'])
      .execute();
    await db.schema.createIndex('keypairs_user').on('keypairs').columns(['user_id', 'create_at']).execute();
  },
};
