// Operator webhooks end to end below the HTTP API: the persisted delivery queue on SQLite and on
// PostgreSQL, and the dispatcher against a real HTTP receiver that fails and recovers, on a fake
// clock (retries with backoff), across a restart and after a crash mid-attempt.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NotebookEvent } from '../../src/domain/notebook.ts';
import { createPostgresStore } from '../../src/store/sql/postgres.ts';
import { createWebhookDispatcher, WEBHOOK_CURSOR, type WebhookHook } from '../../src/scheduler/webhook-dispatcher.ts';
import type { Store } from '../../src/store/store.ts';
import { presentEvent } from '../../src/api/presenters.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { openTempSqlite, runningNotebook, silentLog, type TempStore } from '../support/lease-harness.ts';
import { FIXTURE_NOW } from '../support/notebook-fixture.ts';
import { startPostgres } from '../support/postgres.ts';

const T0 = FIXTURE_NOW;

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver whose answer the test decides: `respond` returns the status for each POST. */
async function startReceiver(respond: (n: number) => number, port = 0) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(respond(received.length)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const expiring = (notebookId: string, at: number): NotebookEvent => ({ notebookId, at, type: 'lease.expiring', message: 'stops soon', data: { stopAt: at + 600_000 } });

/** Writes events the way the executor does: with a compare-and-set update of the instance. */
async function record(store: Store, notebookId: string, events: NotebookEvent[]): Promise<void> {
  const nb = (await store.notebooks.get(notebookId))!;
  await store.notebooks.update(nb, events);
}

function webhookStoreContract(name: string, open: () => Promise<{ store: Store; cleanup(): Promise<void> }>) {
  describe(`webhook store: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, cleanup } = await open()));
    afterEach(async () => cleanup());

    it('a cursor starts unset, moves forward with enqueue and never back', async () => {
      assert.equal(await store.webhooks.cursor(WEBHOOK_CURSOR), null);
      await store.webhooks.enqueue(WEBHOOK_CURSOR, 5, []);
      assert.equal(await store.webhooks.cursor(WEBHOOK_CURSOR), 5);
      await store.webhooks.enqueue(WEBHOOK_CURSOR, 3, []);
      assert.equal(await store.webhooks.cursor(WEBHOOK_CURSOR), 5);
      await store.webhooks.enqueue(WEBHOOK_CURSOR, 9, []);
      assert.equal(await store.webhooks.cursor(WEBHOOK_CURSOR), 9);
      assert.equal(await store.webhooks.cursor('another'), null);
    });

    it('queues a delivery once per hook and event, and reports the last event id', async () => {
      const nb = await store.notebooks.insert(runningNotebook(T0), []);
      await record(store, nb.id, [expiring(nb.id, T0), expiring(nb.id, T0 + 1)]);
      const last = await store.webhooks.lastEventId();
      assert.ok(last >= 2);
      const d = { hookId: 'ops', eventId: last, notebookId: nb.id, body: '{"a":1}', createAt: T0 };
      await store.webhooks.enqueue(WEBHOOK_CURSOR, last, [d, { ...d, hookId: 'audit' }]);
      await store.webhooks.enqueue(WEBHOOK_CURSOR, last, [{ ...d, body: '{"a":2}' }]); // again: ignored
      const all = await store.webhooks.list({}, 10);
      assert.deepEqual(all.map((x) => [x.hookId, x.body, x.status, x.attempts]), [
        ['ops', '{"a":1}', 'pending', 0],
        ['audit', '{"a":1}', 'pending', 0],
      ]);
      assert.equal(await store.webhooks.nextAttemptAt(), T0);
    });

    it('claims an attempt once (compare-and-set), then records the outcome', async () => {
      const nb = await store.notebooks.insert(runningNotebook(T0), []);
      await store.webhooks.enqueue(WEBHOOK_CURSOR, 1, [{ hookId: 'ops', eventId: 1, notebookId: nb.id, body: '{}', createAt: T0 }]);
      const [d] = await store.webhooks.due(T0, 10);
      assert.ok(d);
      assert.deepEqual(await store.webhooks.due(T0 - 1, 10), [], 'not due before its time');
      assert.equal(await store.webhooks.claim(d.id, d.nextAttemptAt, T0 + 5_000), true);
      assert.equal(await store.webhooks.claim(d.id, d.nextAttemptAt, T0 + 5_000), false, 'a second replica loses');
      assert.deepEqual(await store.webhooks.due(T0 + 4_999, 10), [], 'claimed until T0+5s');
      await store.webhooks.finish(d.id, { status: 'pending', nextAttemptAt: T0 + 2_000, error: 'HTTP 503' });
      const [retry] = await store.webhooks.due(T0 + 2_000, 10);
      assert.equal(retry!.attempts, 1);
      assert.equal(retry!.lastError, 'HTTP 503');
      await store.webhooks.finish(d.id, { status: 'delivered', at: T0 + 2_100 });
      const [done] = await store.webhooks.list({ status: 'delivered' }, 10);
      assert.equal(done!.deliveredAt, T0 + 2_100);
      assert.equal(await store.webhooks.nextAttemptAt(), null);
    });

    it('lists events of every instance after an id (the fan-out read)', async () => {
      const a = await store.notebooks.insert(runningNotebook(T0), []);
      const b = await store.notebooks.insert(runningNotebook(T0), []);
      await record(store, a.id, [expiring(a.id, T0)]);
      await record(store, b.id, [expiring(b.id, T0 + 1)]);
      await record(store, a.id, [expiring(a.id, T0 + 2)]);
      const all = await store.notebooks.eventsSince(0, 10);
      assert.deepEqual(all.map((e) => e.notebookId), [a.id, b.id, a.id]);
      assert.deepEqual((await store.notebooks.eventsSince(all[0]!.id!, 1)).map((e) => e.id), [all[1]!.id]);
    });
  });
}

webhookStoreContract('sqlite', async () => {
  const temp = await openTempSqlite();
  return { store: temp.store, cleanup: () => temp.close() };
});

webhookStoreContract('postgres', async () => {
  const database = await startPostgres();
  const store = await createPostgresStore(database.url);
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      await database.dropDatabase();
    },
  };
});

describe('webhook dispatcher', () => {
  let temp: TempStore;
  let clock: FakeClock;
  let receivers: { close(): Promise<void> }[] = [];
  const delivery = { maxAttempts: 4, initialBackoffMs: 1_000, maxBackoffMs: 60_000, timeoutMs: 2_000 };

  beforeEach(async () => {
    temp = await openTempSqlite();
    clock = new FakeClock(T0);
    receivers = [];
  });
  afterEach(async () => {
    for (const r of receivers) await r.close().catch(() => {});
    await temp.close();
  });

  const dispatcher = (store: Store, hooks: WebhookHook[]) =>
    createWebhookDispatcher({ store, clock, log: silentLog, hooks, delivery, pollMs: 1_000, present: presentEvent });

  it('retries a failing receiver with backoff until it recovers, with the same signed body', async () => {
    // Given a receiver that answers 503 twice, then 200
    const receiver = await startReceiver((n) => (n <= 2 ? 503 : 200));
    receivers.push(receiver);
    const hooks = [{ id: 'ops', url: receiver.url, types: ['lease.expiring'], secret: 's3cret' }];
    const d = dispatcher(temp.store, hooks);
    await d.runOnce(); // the cursor starts here: history is not replayed
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);

    // When a warning is recorded (and an event of a type the hook does not want)
    await record(temp.store, nb.id, [expiring(nb.id, T0), { notebookId: nb.id, at: T0, type: 'notebook.updated', message: 'renamed' }]);
    await d.runOnce();
    // Then the first attempt fails and is retried after 1 s, then after 2 s more
    assert.equal(receiver.received.length, 1);
    await clock.advance(999);
    await d.runOnce();
    assert.equal(receiver.received.length, 1, 'not before the backoff');
    await clock.advance(1);
    await d.runOnce();
    assert.equal(receiver.received.length, 2);
    await clock.advance(2_000);
    await d.runOnce();
    assert.equal(receiver.received.length, 3);
    await clock.advance(60_000);
    await d.runOnce();
    assert.equal(receiver.received.length, 3, 'delivered once it succeeded; nothing else to send');

    // And every attempt carried the same event, signed
    const bodies = new Set(receiver.received.map((r) => r.body));
    assert.equal(bodies.size, 1);
    const body = JSON.parse(receiver.received[0]!.body);
    assert.equal(body.type, 'lease.expiring');
    assert.equal(body.notebook_id, nb.id);
    assert.deepEqual(receiver.received.map((r) => r.headers['x-notebookd-attempt']), ['1', '2', '3']);
    for (const r of receiver.received) {
      assert.equal(r.headers['x-notebookd-event'], 'lease.expiring');
      assert.equal(r.headers['x-notebookd-event-id'], String(body.id));
      assert.equal(r.headers['x-notebookd-signature'], `sha256=${createHmac('sha256', 's3cret').update(r.body).digest('hex')}`);
    }
    const [row] = await temp.store.webhooks.list({ hookId: 'ops' }, 10);
    assert.equal(row!.status, 'delivered');
    assert.equal(row!.attempts, 3);
  });

  it('gives up after maxAttempts and says why', async () => {
    const receiver = await startReceiver(() => 500);
    receivers.push(receiver);
    const d = dispatcher(temp.store, [{ id: 'ops', url: receiver.url, types: ['*'], secret: '' }]);
    await d.runOnce();
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);
    await record(temp.store, nb.id, [expiring(nb.id, T0)]);
    for (let i = 0; i < 10; i++) {
      await d.runOnce();
      await clock.advance(60_000);
    }
    assert.equal(receiver.received.length, delivery.maxAttempts);
    const [row] = await temp.store.webhooks.list({}, 10);
    assert.equal(row!.status, 'failed');
    assert.match(row!.lastError!, /gave up after 4 attempts; last: HTTP 500/);
    assert.equal(receiver.received[0]!.headers['x-notebookd-signature'], undefined, 'unsigned without a secret');
  });

  it('loses nothing across a restart: queued retries and events written while it was down are delivered', async () => {
    // Given a receiver that is down (its port refuses connections)
    const first = await startReceiver(() => 200);
    const { port, url } = first;
    await first.close();
    const hooks = [{ id: 'ops', url, types: ['lease.expiring'], secret: '' }];
    const d1 = dispatcher(temp.store, hooks);
    await d1.runOnce();
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);
    await record(temp.store, nb.id, [expiring(nb.id, T0)]);
    await d1.runOnce();
    const [failedOnce] = await temp.store.webhooks.list({}, 10);
    assert.equal(failedOnce!.attempts, 1);
    assert.match(failedOnce!.lastError!, /fetch failed|ECONNREFUSED/);

    // When notebookd stops, an event is written while no dispatcher runs, and notebookd restarts
    await record(temp.store, nb.id, [expiring(nb.id, T0 + 1)]);
    const reopened = await temp.reopen();
    const receiver = await startReceiver(() => 200, port);
    receivers.push(receiver);
    const d2 = dispatcher(reopened, hooks);
    await clock.advance(1_000);
    await d2.runOnce();

    // Then both events reach the receiver
    assert.equal(receiver.received.length, 2);
    assert.deepEqual((await reopened.webhooks.list({}, 10)).map((r) => r.status), ['delivered', 'delivered']);
  });

  it('an attempt claimed by a process that died is retried once its claim lapses', async () => {
    const receiver = await startReceiver(() => 204);
    receivers.push(receiver);
    const d = dispatcher(temp.store, [{ id: 'ops', url: receiver.url, types: ['lease.expiring'], secret: '' }]);
    await d.runOnce();
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);
    await record(temp.store, nb.id, [expiring(nb.id, T0)]);
    await d.fanOut();
    // Given another replica claimed the attempt until T0+10s and died
    const [queued] = await temp.store.webhooks.due(T0, 10);
    assert.ok(await temp.store.webhooks.claim(queued!.id, queued!.nextAttemptAt, T0 + 10_000));
    // Then nothing is sent while the claim holds, and it is sent after
    await d.runOnce();
    assert.equal(receiver.received.length, 0);
    await clock.advance(10_000);
    await d.runOnce();
    assert.equal(receiver.received.length, 1);
    assert.equal(receiver.received[0]!.headers['x-notebookd-attempt'], '2');
  });

  it('started as a loop, it delivers as soon as it is nudged', async () => {
    const receiver = await startReceiver(() => 200);
    receivers.push(receiver);
    const d = dispatcher(temp.store, [{ id: 'ops', url: receiver.url, types: ['lease.expiring'], secret: '' }]);
    d.start();
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);
    // Wait until the loop has set its cursor before writing
    for (let i = 0; i < 500 && (await temp.store.webhooks.cursor(WEBHOOK_CURSOR)) === null; i++) await new Promise((r) => setImmediate(r));
    await record(temp.store, nb.id, [expiring(nb.id, T0)]);
    d.nudge();
    const deadline = Date.now() + 5_000;
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.stop();
    assert.equal(receiver.received.length, 1);
  });
});
