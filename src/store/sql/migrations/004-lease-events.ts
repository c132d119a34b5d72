// Webhook deliveries of instance events, persisted so that none is lost across restarts, and the
// fan-out cursor (the highest event id whose deliveries are queued).
import { sql } from 'kysely';
import type { NumberedMigration } from './migration.ts';

export const leaseEvents: NumberedMigration = {
  name: '004-lease-events',
  async up(db, kind) {
    const epochMs = kind === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', kind === 'postgres' ? 'bigserial' : 'integer', (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('hook_id', 'text', (c) => c.notNull())
      .addColumn('event_id', epochMs, (c) => c.notNull())
      .addColumn('notebook_id', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', epochMs, (c) => c.notNull())
      .addColumn('create_at', epochMs, (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('delivered_at', epochMs)
      // Fan-out is idempotent: replicas (or a restart) queueing the same event again change nothing.
      .addUniqueConstraint('webhook_deliveries_hook_event', ['hook_id', 'event_id'])
      .execute();
    // Partial: the dispatcher's "what is due" lookups touch only pending rows.
    await db.schema
      .createIndex('webhook_deliveries_due')
      .on('webhook_deliveries')
      .columns(['next_attempt_at', 'id'])
      .where(sql.ref('status'), '=', 'pending')
      .execute();

    await db.schema
      .createTable('event_cursors')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('event_id', epochMs, (c) => c.notNull())
      .execute();
  },
};
