// The lease executor against a real SQLite store on a fake clock: it warns once at the lead time,
// stops at the stop time, sleeps (no reads) in between, re-checks under compare-and-set so that a
// prolong winning the race keeps the instance, handles what is due in bounded batches, and after
// a restart honours deadlines that passed while it was down.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { operationRefusal } from '../../src/domain/lifecycle.ts';
import { DEFAULT_LEASE_POLICY, HOUR_MS, leaseStopAt, prolong } from '../../src/domain/lease.ts';
import type { Notebook, NotebookEvent } from '../../src/domain/notebook.ts';
import { createNotebookdMetrics } from '../../src/metrics/notebookd-metrics.ts';
import { createActivitySink } from '../../src/scheduler/activity-sink.ts';
import { createLeaseExecutor, type LeaseExecutorDeps } from '../../src/scheduler/lease-executor.ts';
import { mutateNotebook } from '../../src/store/mutate.ts';
import type { Store } from '../../src/store/store.ts';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.ts';
import { openTempSqlite, runningNotebook, silentLog, type TempStore } from '../support/lease-harness.ts';
import { FIXTURE_NOW } from '../support/notebook-fixture.ts';

const MINUTE_MS = 60_000;
// Named instants: instances reach RUNNING at T0 with the default 1 h lease and 10 min warning.
const T0 = FIXTURE_NOW;
const WARNING_TIME = T0 + 50 * MINUTE_MS;
const STOP_TIME = T0 + HOUR_MS;

/** Polls (real time, bounded) until `check` holds: the executor works asynchronously. */
async function eventually<T>(what: string, check: () => Promise<T | false | undefined | null>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await flushMicrotasks();
  }
}

/** What mutateNotebook-based renewal does in the service: RUNNING only, deadline = now + D. */
async function renew(store: Store, id: string, now: number, durationMs: number): Promise<'renewed' | 'refused'> {
  try {
    await mutateNotebook(store, id, (nb) => {
      const refusal = operationRefusal('renewLease', nb.status);
      if (refusal) throw refusal;
      return { next: { ...nb, lease: prolong(nb.lease, now, durationMs, 'TIMING') }, events: [] };
    });
    return 'renewed';
  } catch (e) {
    if ((e as { code?: string }).code === 'ModelArts.6327') return 'refused';
    throw e;
  }
}

const eventsOf = async (store: Store, id: string): Promise<NotebookEvent[]> => store.notebooks.events(id, 0, 100);
const typesOf = async (store: Store, id: string) => (await eventsOf(store, id)).map((e) => e.type);

/** Counts the executor's store reads, to show it sleeps rather than scans. */
function countingReads(store: Store) {
  const counts = { listDue: 0, nextDueAt: 0, limits: [] as number[], sizes: [] as number[] };
  const notebooks = {
    ...store.notebooks,
    async listDue(now: number, limit: number) {
      counts.listDue++;
      counts.limits.push(limit);
      const due = await store.notebooks.listDue(now, limit);
      counts.sizes.push(due.length);
      return due;
    },
    async nextDueAt() {
      counts.nextDueAt++;
      return store.notebooks.nextDueAt();
    },
  };
  return { store: { ...store, notebooks } as Store, counts };
}

describe('lease executor', () => {
  let temp: TempStore;
  let clock: FakeClock;
  const stopped: string[] = [];
  let executors: { stop(): Promise<void> }[] = [];

  const executor = (store: Store, extra: Partial<LeaseExecutorDeps> = {}) => {
    const e = createLeaseExecutor({ store, clock, log: silentLog, onStopRequested: (id) => stopped.push(id), maxSleepMs: 24 * HOUR_MS, ...extra });
    executors.push(e);
    return e;
  };

  beforeEach(async () => {
    temp = await openTempSqlite();
    clock = new FakeClock(T0);
    stopped.length = 0;
    executors = [];
  });

  afterEach(async () => {
    for (const e of executors) await e.stop();
    await temp.close();
  });

  it('warns once at the lead time, then stops at the stop time with reason lease_expired', async () => {
    // Given a RUNNING instance with a 1 h TIMING lease and a 10 min warning
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);
    const metrics = createNotebookdMetrics();
    const ex = executor(temp.store, { metrics });
    ex.start();
    await eventually('the executor to sleep', async () => clock.pendingSleepers > 0);

    // When the clock reaches one minute before the warning: nothing
    await clock.advance(WARNING_TIME - MINUTE_MS - T0);
    await flushMicrotasks();
    assert.deepEqual(await typesOf(temp.store, nb.id), []);

    // When it reaches the warning time: one lease.expiring, naming the stop time
    await clock.advance(MINUTE_MS);
    const [warning] = await eventually('the warning', async () => {
      const events = await eventsOf(temp.store, nb.id);
      return events.length > 0 && events;
    });
    assert.equal(warning!.type, 'lease.expiring');
    assert.equal(warning!.at, WARNING_TIME);
    assert.equal(warning!.data!.stopAt, STOP_TIME);

    // When five more minutes pass: still that one warning
    await clock.advance(5 * MINUTE_MS);
    await flushMicrotasks();
    assert.deepEqual(await typesOf(temp.store, nb.id), ['lease.expiring']);

    // When the stop time comes: a stop request with the reason, and no lag on a fake clock
    await clock.advance(STOP_TIME - clock.now());
    const after = await eventually('the stop', async () => {
      const cur = await temp.store.notebooks.get(nb.id);
      return cur?.status === 'STOPPING' && cur;
    });
    assert.equal(after.stopReason, 'lease_expired');
    assert.deepEqual(await typesOf(temp.store, nb.id), ['lease.expiring', 'notebook.stopping']);
    const stopping = (await eventsOf(temp.store, nb.id))[1]!;
    assert.deepEqual(stopping.data, { reason: 'lease_expired', from: 'RUNNING', stopAt: STOP_TIME, lagMs: 0 });
    assert.deepEqual(stopped, [nb.id]);
    assert.equal(metrics.leaseWarnings.get(), 1);
    assert.equal(metrics.expiryLag.count(), 1);
    assert.match(await metrics.registry.render(), /notebookd_lease_expiry_lag_seconds_bucket\{le="0.005"\} 1/);
  });

  it('IDLE: stops with reason idle when nothing kept it busy', async () => {
    const nb = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    const ex = executor(temp.store);
    ex.start();
    await clock.advance(HOUR_MS);
    const after = await eventually('the stop', async () => {
      const cur = await temp.store.notebooks.get(nb.id);
      return cur?.status === 'STOPPING' && cur;
    });
    assert.equal(after.stopReason, 'idle');
    assert.match((await eventsOf(temp.store, nb.id)).at(-1)!.message, /idle for its whole idle timeout \(1 h\)/);
  });

  it('sleeps until the earliest due time: no store reads in between (an index, not a scan)', async () => {
    await temp.store.notebooks.insert(runningNotebook(T0), []);
    const { store, counts } = countingReads(temp.store);
    executor(store).start();
    await eventually('the first pass', async () => counts.nextDueAt === 1 && clock.pendingSleepers > 0);
    const before = { ...counts };

    // Forty-nine minutes pass in one-minute steps: the executor never looks
    for (let i = 0; i < 49; i++) await clock.advance(MINUTE_MS);
    await flushMicrotasks();
    assert.equal(counts.listDue, before.listDue);
    assert.equal(counts.nextDueAt, before.nextDueAt);

    // At the warning time it wakes once
    await clock.advance(MINUTE_MS);
    await eventually('the wake-up', async () => counts.listDue > before.listDue);
  });

  it('a prolong that lands between the read and the write wins: the instance keeps running', async () => {
    // Given an instance whose lease is due at STOP_TIME (already warned)
    const given = runningNotebook(T0);
    const nb = await temp.store.notebooks.insert({ ...given, lease: { ...given.lease, warnedFor: STOP_TIME } }, []);
    clock = new FakeClock(STOP_TIME);
    // And a store that lets a renewal commit right after the executor's batch read
    let raced = false;
    const racing: Store = {
      ...temp.store,
      notebooks: {
        ...temp.store.notebooks,
        async listDue(now: number, limit: number) {
          const read = await temp.store.notebooks.listDue(now, limit);
          if (!raced && read.some((x) => x.id === nb.id)) {
            raced = true;
            assert.equal(await renew(temp.store, nb.id, STOP_TIME, HOUR_MS), 'renewed');
          }
          return read; // the executor decides on what it read before the renewal
        },
      },
    };

    // When the executor handles what is due
    const stats = await executor(racing).expireDue(STOP_TIME);

    // Then its compare-and-set lost, it re-read, saw the new deadline and did nothing
    assert.ok(raced, 'the renewal interleaved');
    assert.equal(stats.stopped, 0);
    const after = (await temp.store.notebooks.get(nb.id))!;
    assert.equal(after.status, 'RUNNING');
    assert.equal(leaseStopAt(after.lease), STOP_TIME + HOUR_MS);
    assert.deepEqual(await typesOf(temp.store, nb.id), []);
    assert.deepEqual(stopped, []);
  });

  it('prolong racing expiry, many times: a renewal that succeeded is never followed by a stop, a refused one always was', async () => {
    clock = new FakeClock(STOP_TIME);
    const nbs: Notebook[] = [];
    for (let i = 0; i < 40; i++) {
      const given = runningNotebook(T0);
      nbs.push(await temp.store.notebooks.insert({ ...given, lease: { ...given.lease, warnedFor: STOP_TIME } }, []));
    }
    const ex = executor(temp.store, { batchSize: 7, concurrency: 3 });
    // When renewals and the executor run at the same time (renewals in a shuffled order)
    const order = [...nbs].sort(() => Math.random() - 0.5);
    const [, outcomes] = await Promise.all([ex.expireDue(STOP_TIME), Promise.all(order.map((nb) => renew(temp.store, nb.id, STOP_TIME, HOUR_MS)))]);
    // Then every instance ended in exactly one consistent state
    const byId = new Map(order.map((nb, i) => [nb.id, outcomes[i]]));
    let kept = 0;
    for (const nb of nbs) {
      const after = (await temp.store.notebooks.get(nb.id))!;
      if (byId.get(nb.id) === 'renewed') {
        kept++;
        assert.equal(after.status, 'RUNNING', `${nb.id} was renewed, so it must still run`);
        assert.equal(leaseStopAt(after.lease), STOP_TIME + HOUR_MS);
      } else {
        assert.equal(after.status, 'STOPPING', `${nb.id}'s renewal was refused, so the stop won`);
        assert.equal(after.stopReason, 'lease_expired');
      }
    }
    assert.equal(stopped.length, nbs.length - kept);
  });

  it('after a restart, deadlines that passed while it was down are honoured at once', async () => {
    // Given instances that reached RUNNING at T0 under the default policy
    const timing = await temp.store.notebooks.insert(runningNotebook(T0), []);
    const idle = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    const inWarningWindow = await temp.store.notebooks.insert(runningNotebook(T0 + HOUR_MS + 5 * MINUTE_MS), []); // stops at T0+2h05
    const later = await temp.store.notebooks.insert(runningNotebook(T0 + 2 * HOUR_MS), []); // stops at T0+3h
    const disabled = await temp.store.notebooks.insert(runningNotebook(T0, { durationMs: -1 }), []);
    // And notebookd comes back at T0+2h on the same file, one hour after the first deadlines
    const restarted = await temp.reopen();
    clock = new FakeClock(T0 + 2 * HOUR_MS);
    const metrics = createNotebookdMetrics();

    // When the executor starts, before any time passes
    executor(restarted, { metrics }).start();

    // Then the overdue ones are stopped with their reasons and a lag of the whole downtime
    await eventually('the overdue stops', async () => stopped.length === 2);
    assert.equal((await restarted.notebooks.get(timing.id))!.stopReason, 'lease_expired');
    assert.equal((await restarted.notebooks.get(idle.id))!.stopReason, 'idle');
    const stopEvent = (await eventsOf(restarted, timing.id)).at(-1)!;
    assert.equal(stopEvent.data!.lagMs, HOUR_MS);
    assert.equal(metrics.expiryLag.count(), 2);
    // The one inside its warning window is warned now; the later one and the disabled one are untouched
    await eventually('the late warning', async () => (await typesOf(restarted, inWarningWindow.id)).includes('lease.expiring'));
    assert.equal((await restarted.notebooks.get(inWarningWindow.id))!.status, 'RUNNING');
    assert.deepEqual(await typesOf(restarted, later.id), []);
    assert.deepEqual(await typesOf(restarted, disabled.id), []);

    // When time reaches the later deadlines, they are handled as usual
    await clock.advance(HOUR_MS);
    await eventually('the later stops', async () => stopped.length === 4);
    assert.deepEqual(await typesOf(restarted, later.id), ['lease.expiring', 'notebook.stopping']);
    assert.equal((await restarted.notebooks.get(disabled.id))!.status, 'RUNNING');
  });

  it('handles a backlog in bounded batches', async () => {
    for (let i = 0; i < 25; i++) {
      const given = runningNotebook(T0);
      await temp.store.notebooks.insert({ ...given, lease: { ...given.lease, warnedFor: STOP_TIME } }, []);
    }
    const { store, counts } = countingReads(temp.store);
    const stats = await executor(store, { batchSize: 10 }).expireDue(STOP_TIME);
    assert.equal(stats.stopped, 25);
    assert.ok(counts.limits.every((l) => l === 10), 'every read asks for at most one batch');
    assert.deepEqual(counts.sizes, [10, 10, 5]);
  });

  it('an IDLE instance used just before its stop time is not stopped while that activity waits in a batch', async () => {
    const nb = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    const sink = createActivitySink({ store: temp.store, clock, log: silentLog, flushIntervalMs: 60_000 });
    // Given SSH activity one minute before the stop time, not yet written
    sink.record(nb.id, 'ssh', STOP_TIME - MINUTE_MS);
    // When the executor handles the stop time
    const stats = await executor(temp.store, { flushActivity: (ids) => sink.flush(ids) }).expireDue(STOP_TIME);
    // Then it flushed the activity first and the instance runs on for another idle timeout
    assert.equal(stats.stopped, 0);
    const after = (await temp.store.notebooks.get(nb.id))!;
    assert.equal(after.status, 'RUNNING');
    assert.equal(leaseStopAt(after.lease), STOP_TIME - MINUTE_MS + HOUR_MS);
    assert.equal(after.lease.lastActivitySource, 'ssh');
  });

  it('a renewal after the warning cancels it: the next warning is for the new deadline', async () => {
    const nb = await temp.store.notebooks.insert(runningNotebook(T0), []);
    const ex = executor(temp.store);
    assert.equal((await ex.expireDue(WARNING_TIME)).warned, 1);
    // When the user renews for 1 h at the warning time
    assert.equal(await renew(temp.store, nb.id, WARNING_TIME, HOUR_MS), 'renewed');
    // Then nothing is due at the old stop time
    assert.deepEqual(await ex.expireDue(STOP_TIME), { stopped: 0, warned: 0, lagsMs: [] });
    // And the next warning comes 10 min before the new deadline
    assert.equal((await temp.store.notebooks.nextDueAt()), WARNING_TIME + 50 * MINUTE_MS);
    assert.equal((await ex.expireDue(WARNING_TIME + 50 * MINUTE_MS)).warned, 1);
  });

  it('under a stream of stop times, passes are at least minPassIntervalMs apart and each takes all that fell due', async () => {
    // Given ten instances due 10 ms apart from STOP_TIME on
    for (let i = 0; i < 10; i++) {
      const given = runningNotebook(T0, { durationMs: HOUR_MS + i * 10 });
      await temp.store.notebooks.insert({ ...given, lease: { ...given.lease, warnedFor: STOP_TIME + i * 10 } }, []);
    }
    clock = new FakeClock(STOP_TIME - 1_000);
    const { store, counts } = countingReads(temp.store);
    const lags: number[] = [];
    const ex = executor(store, { minPassIntervalMs: 50 });
    ex.onExpired((stats) => lags.push(...stats.lagsMs));
    ex.start();
    await eventually('the first pass', async () => counts.nextDueAt === 1 && clock.pendingSleepers > 0);
    // When time runs through the stream in 1 ms steps
    for (let t = 0; t < 1_200 && stopped.length < 10; t++) {
      await clock.advance(1);
      await flushMicrotasks();
    }
    // Then every one stopped within the window, in a handful of passes rather than ten
    await eventually('all stops', async () => stopped.length === 10);
    assert.ok(Math.max(...lags) <= 50, `lags ${lags.join(', ')}`);
    assert.ok(counts.listDue <= 4, `${counts.listDue} passes`);
  });

  it('leaves instances of every other status alone', async () => {
    for (const status of ['STOPPED', 'STARTING', 'STOPPING', 'ERROR'] as const) {
      await temp.store.notebooks.insert(runningNotebook(T0, {}, DEFAULT_LEASE_POLICY, { status }), []);
    }
    assert.deepEqual(await executor(temp.store).expireDue(T0 + 10 * HOUR_MS), { stopped: 0, warned: 0, lagsMs: [] });
  });
});
