// Operator webhooks: every instance event of a configured type is POSTed to each hook that wants
// it, retried with exponential backoff until the receiver answers 2xx or maxAttempts is reached.
// Deliveries are rows in the store (migration 004), queued in the same transaction that moves a
// persisted cursor over the event log, so a restart (or a crash mid-attempt) loses nothing: the
// cursor resumes where it was, and a claimed attempt that never finished becomes due again.
// Delivery is at least once; receivers de-duplicate by X-Notebookd-Event-Id.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { NotebookEvent } from '../domain/notebook.ts';
import type { NewWebhookDelivery, Store, WebhookDelivery } from '../store/store.ts';
import { settledCursor, type GapMemory } from './webhook-cursor.ts';

export interface WebhookHook {
  id: string;
  url: string;
  /** Event types to deliver; '*' for all. */
  types: readonly string[];
  /** HMAC-SHA256 key for X-Notebookd-Signature; empty: unsigned. */
  secret: string;
}

export interface WebhookDeliverySettings {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
}

export interface WebhookDispatcherDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  hooks: readonly WebhookHook[];
  delivery: WebhookDeliverySettings;
  /** How often to look for events written by other replicas (local writes nudge at once). */
  pollMs: number;
  /** The wire form of an event (the same as GET .../events shows). */
  present: (e: NotebookEvent) => unknown;
  /** How long a gap in event ids may stay open before it is taken as a rolled-back write. */
  gapSettleMs?: number;
  /** Deliveries attempted at once (default 4). */
  concurrency?: number;
  metrics?: { webhookDeliveries: { inc(labels: { result: string }): void } };
}

export const WEBHOOK_CURSOR = 'webhooks';
const FAN_OUT_PAGE = 500;

/** Exponential backoff after the n-th failed attempt (n >= 1). */
export const backoffMs = (attempt: number, s: Pick<WebhookDeliverySettings, 'initialBackoffMs' | 'maxBackoffMs'>): number =>
  Math.min(s.maxBackoffMs, s.initialBackoffMs * 2 ** Math.max(0, attempt - 1));

export const signature = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const wants = (hook: WebhookHook, type: string) => hook.types.includes('*') || hook.types.includes(type);

export function createWebhookDispatcher(deps: WebhookDispatcherDeps) {
  const { store, clock, log, hooks, delivery } = deps;
  const byId = new Map(hooks.map((h) => [h.id, h]));
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const gaps: GapMemory = new Map();
  let running = false;
  let loop: Promise<void> | null = null;
  let wake = new AbortController();

  /** Queues deliveries for events past the cursor; returns how many events it read. */
  async function fanOut(): Promise<number> {
    let cursor = await store.webhooks.cursor(WEBHOOK_CURSOR);
    if (cursor === null) {
      // First run: hooks get what happens from now on, not the whole history.
      cursor = await store.webhooks.lastEventId();
      await store.webhooks.enqueue(WEBHOOK_CURSOR, cursor, []);
      return 0;
    }
    const events = await store.notebooks.eventsSince(cursor, FAN_OUT_PAGE);
    if (events.length === 0) return 0;
    const now = clock.now();
    const deliveries: NewWebhookDelivery[] = [];
    for (const e of events) {
      if (e.id === undefined) continue;
      const matching = hooks.filter((h) => wants(h, e.type));
      if (matching.length === 0) continue;
      const body = JSON.stringify(deps.present(e));
      for (const h of matching) deliveries.push({ hookId: h.id, eventId: e.id, notebookId: e.notebookId, body, createAt: now });
    }
    const to = settledCursor(cursor, events.map((e) => e.id!), gaps, now, deps.gapSettleMs ?? 10_000);
    await store.webhooks.enqueue(WEBHOOK_CURSOR, to, deliveries);
    return to > cursor ? events.length : 0;
  }

  async function attempt(d: WebhookDelivery): Promise<void> {
    const hook = byId.get(d.hookId);
    const now = clock.now();
    if (!hook) {
      await store.webhooks.finish(d.id, { status: 'failed', error: 'the webhook is no longer configured' });
      return;
    }
    // Claimed until well after the request's own timeout: if this process dies, it is retried then.
    if (!(await store.webhooks.claim(d.id, d.nextAttemptAt, now + 2 * delivery.timeoutMs + delivery.initialBackoffMs))) return;
    const attemptNo = d.attempts + 1;
    let error: string;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'notebookd-webhook',
          'X-Notebookd-Event': JSON.parse(d.body).type ?? '',
          'X-Notebookd-Event-Id': String(d.eventId),
          'X-Notebookd-Delivery': String(d.id),
          'X-Notebookd-Attempt': String(attemptNo),
          ...(hook.secret && { 'X-Notebookd-Signature': signature(hook.secret, d.body) }),
        },
        body: d.body,
        signal: AbortSignal.timeout(delivery.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        await store.webhooks.finish(d.id, { status: 'delivered', at: clock.now() });
        deps.metrics?.webhookDeliveries.inc({ result: 'delivered' });
        return;
      }
      error = `HTTP ${res.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    if (attemptNo >= delivery.maxAttempts) {
      await store.webhooks.finish(d.id, { status: 'failed', error: `gave up after ${attemptNo} attempts; last: ${error}` });
      deps.metrics?.webhookDeliveries.inc({ result: 'failed' });
      log.warn({ hook: hook.id, event: d.eventId, error }, 'webhook delivery failed for good');
      return;
    }
    await store.webhooks.finish(d.id, { status: 'pending', nextAttemptAt: clock.now() + backoffMs(attemptNo, delivery), error });
    deps.metrics?.webhookDeliveries.inc({ result: 'retry' });
  }

  /** Attempts every delivery due now. */
  async function deliverDue(): Promise<number> {
    let attempted = 0;
    for (;;) {
      const due = await store.webhooks.due(clock.now(), 50);
      if (due.length === 0) return attempted;
      for (let i = 0; i < due.length; i += concurrency) {
        await Promise.all(
          due.slice(i, i + concurrency).map((d) =>
            attempt(d).catch((e) => log.error({ delivery: d.id, err: (e as Error).message }, 'webhook attempt failed to run')),
          ),
        );
      }
      attempted += due.length;
      if (due.length < 50) return attempted;
    }
  }

  /** One round: queue what is new, send what is due. */
  async function runOnce(): Promise<void> {
    while ((await fanOut()) === FAN_OUT_PAGE) {
      // a long backlog: keep queueing
    }
    await deliverDue();
  }

  return {
    runOnce,
    fanOut,
    deliverDue,

    start(): void {
      if (running || hooks.length === 0) return;
      running = true;
      loop = (async () => {
        while (running) {
          try {
            await runOnce();
            const next = await store.webhooks.nextAttemptAt();
            const waitMs = next === null ? deps.pollMs : Math.min(deps.pollMs, Math.max(0, next - clock.now()));
            if (running && waitMs > 0) await clock.sleep(waitMs, wake.signal);
          } catch (e) {
            log.error({ err: (e as Error).message }, 'webhook dispatch failed');
            if (running) await clock.sleep(deps.pollMs, wake.signal);
          }
          wake = new AbortController();
        }
      })();
    },

    /** Events were committed, or should be looked for now. */
    nudge(): void {
      wake.abort();
    },

    async stop(): Promise<void> {
      running = false;
      wake.abort();
      await loop;
    },
  };
}

export type WebhookDispatcher = ReturnType<typeof createWebhookDispatcher>;
