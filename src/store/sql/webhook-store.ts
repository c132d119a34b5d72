// WebhookStore over Kysely, shared by SQLite and PostgreSQL: the persisted delivery queue of
// operator webhooks and the fan-out cursor.
import type { Kysely, Selectable } from 'kysely';
import type { WebhookDelivery, WebhookStore } from '../store.ts';
import type { Database, WebhookDeliveriesTable } from './schema.ts';

const toDelivery = (r: Selectable<WebhookDeliveriesTable>): WebhookDelivery => ({
  id: Number(r.id),
  hookId: r.hook_id,
  eventId: Number(r.event_id),
  notebookId: r.notebook_id,
  body: r.body,
  status: r.status as WebhookDelivery['status'],
  attempts: Number(r.attempts),
  nextAttemptAt: Number(r.next_attempt_at),
  createAt: Number(r.create_at),
  lastError: r.last_error,
  deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
});

export function createWebhookStore(db: Kysely<Database>): WebhookStore {
  return {
    async cursor(name) {
      const row = await db.selectFrom('event_cursors').select('event_id').where('name', '=', name).executeTakeFirst();
      return row ? Number(row.event_id) : null;
    },

    async lastEventId() {
      const row = await db.selectFrom('notebook_events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
      return row?.id == null ? 0 : Number(row.id);
    },

    async enqueue(cursorName, cursorTo, deliveries) {
      await db.transaction().execute(async (trx) => {
        if (deliveries.length > 0) {
          await trx
            .insertInto('webhook_deliveries')
            .values(
              deliveries.map((d) => ({
                hook_id: d.hookId,
                event_id: d.eventId,
                notebook_id: d.notebookId,
                body: d.body,
                status: 'pending',
                attempts: 0,
                next_attempt_at: d.createAt,
                create_at: d.createAt,
                last_error: null,
                delivered_at: null,
              })),
            )
            .onConflict((oc) => oc.columns(['hook_id', 'event_id']).doNothing())
            .execute();
        }
        await trx
          .insertInto('event_cursors')
          .values({ name: cursorName, event_id: cursorTo })
          .onConflict((oc) =>
            oc.column('name').doUpdateSet({ event_id: cursorTo }).where('event_cursors.event_id', '<', cursorTo),
          )
          .execute();
      });
    },

    async due(now, limit) {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toDelivery);
    },

    async nextAttemptAt() {
      const row = await db
        .selectFrom('webhook_deliveries')
        .select('next_attempt_at')
        .where('status', '=', 'pending')
        .orderBy('next_attempt_at')
        .limit(1)
        .executeTakeFirst();
      return row ? Number(row.next_attempt_at) : null;
    },

    async claim(id, expectedNextAttemptAt, until) {
      const result = await db
        .updateTable('webhook_deliveries')
        .set((eb) => ({ next_attempt_at: until, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '=', expectedNextAttemptAt)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async finish(id, outcome) {
      const set =
        outcome.status === 'delivered'
          ? { status: 'delivered', delivered_at: outcome.at, last_error: null }
          : outcome.status === 'pending'
            ? { status: 'pending', next_attempt_at: outcome.nextAttemptAt, last_error: outcome.error }
            : { status: 'failed', last_error: outcome.error };
      await db.updateTable('webhook_deliveries').set(set).where('id', '=', id).execute();
    },

    async list(filter, limit) {
      let q = db.selectFrom('webhook_deliveries').selectAll();
      if (filter.hookId !== undefined) q = q.where('hook_id', '=', filter.hookId);
      if (filter.eventId !== undefined) q = q.where('event_id', '=', filter.eventId);
      if (filter.notebookId !== undefined) q = q.where('notebook_id', '=', filter.notebookId);
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      const rows = await q.orderBy('id').limit(limit).execute();
      return rows.map(toDelivery);
    },
  };
}
