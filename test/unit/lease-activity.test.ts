// Activity for IDLE leases, on a real SQLite store and a fake clock: the sink batches reports into
// one write per instance per interval; each source (proxied HTTP and WebSocket, SSH, busy kernels,
// terminal I/O, process CPU) keeps an IDLE instance alive and is named on the lease; idle kernels
// (an open but silent tab), old terminal output and CPU below the threshold do not.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ActivitySource } from '../../src/domain/activity.ts';
import { HOUR_MS, leaseStopAt } from '../../src/domain/lease.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import { createFakeRuntime, fakeKernel, type FakeRuntime } from '../../src/runtime/fake/fake-runtime.ts';
import { createActivityPoller } from '../../src/scheduler/activity-poller.ts';
import { createActivitySink, type BatchingActivitySink } from '../../src/scheduler/activity-sink.ts';
import { createLeaseExecutor } from '../../src/scheduler/lease-executor.ts';
import { coresBetween } from '../../src/scheduler/samplers/cpu-sampler.ts';
import type { Store } from '../../src/store/store.ts';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.ts';
import { openTempSqlite, runningNotebook, silentLog, type TempStore } from '../support/lease-harness.ts';
import { FIXTURE_NOW } from '../support/notebook-fixture.ts';

const MINUTE_MS = 60_000;
// Named instants: an IDLE instance with a 1 h idle timeout reaches RUNNING at T0.
const T0 = FIXTURE_NOW;
const USED_AT = T0 + 40 * MINUTE_MS;
const FIRST_STOP_TIME = T0 + HOUR_MS;
const PUSHED_STOP_TIME = USED_AT + HOUR_MS;

function countingUpdates(store: Store) {
  const counts = { updates: 0 };
  const notebooks = {
    ...store.notebooks,
    async update(...args: Parameters<Store['notebooks']['update']>) {
      counts.updates++;
      return store.notebooks.update(...args);
    },
  };
  return { store: { ...store, notebooks } as Store, counts };
}

describe('the batching activity sink', () => {
  let temp: TempStore;
  let clock: FakeClock;
  let sink: BatchingActivitySink;

  beforeEach(async () => {
    temp = await openTempSqlite();
    clock = new FakeClock(T0);
  });
  afterEach(async () => {
    await sink?.stop();
    await temp.close();
  });

  it('writes each instance at most once per interval, with the newest report', async () => {
    // Given two IDLE instances and a sink flushing every 5 s
    const a = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    const b = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    const { store, counts } = countingUpdates(temp.store);
    sink = createActivitySink({ store, clock, log: silentLog, flushIntervalMs: 5_000 });
    sink.start();

    // When a busy proxy reports a thousand requests for a and one SSH keystroke for b within the interval
    for (let i = 0; i < 1000; i++) sink.record(a.id, i % 2 ? 'http' : 'websocket', T0 + i);
    sink.record(b.id, 'ssh', T0 + 10);
    await flushMicrotasks();
    assert.equal(counts.updates, 0, 'nothing is written before the interval ends');

    // Then after the interval: one write per instance
    await clock.advance(5_000);
    for (let i = 0; i < 50 && counts.updates < 2; i++) await flushMicrotasks();
    assert.equal(counts.updates, 2);
    const afterA = (await temp.store.notebooks.get(a.id))!;
    assert.equal(afterA.lease.lastActivityAt, T0 + 999);
    assert.equal(afterA.lease.lastActivitySource, 'http');
    assert.equal(leaseStopAt(afterA.lease), T0 + 999 + HOUR_MS);
    assert.equal((await temp.store.notebooks.get(b.id))!.lease.lastActivitySource, 'ssh');

    // And a quiet interval writes nothing
    await clock.advance(5_000);
    await flushMicrotasks();
    assert.equal(counts.updates, 2);
  });

  it('keeps the newest report even when an older one arrives later', async () => {
    const nb = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    sink = createActivitySink({ store: temp.store, clock, log: silentLog, flushIntervalMs: 5_000 });
    sink.record(nb.id, 'terminal', USED_AT);
    sink.record(nb.id, 'http', USED_AT - MINUTE_MS);
    assert.deepEqual(sink.pending(nb.id), { at: USED_AT, source: 'terminal' });
    await sink.flush();
    assert.equal(leaseStopAt((await temp.store.notebooks.get(nb.id))!.lease), PUSHED_STOP_TIME);
  });

  it('TIMING: activity is recorded but the deadline stays; stopped instances are left alone', async () => {
    const timing = await temp.store.notebooks.insert(runningNotebook(T0), []);
    const stopped = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }, undefined, { status: 'STOPPED' }), []);
    sink = createActivitySink({ store: temp.store, clock, log: silentLog, flushIntervalMs: 5_000 });
    sink.record(timing.id, 'http', USED_AT);
    sink.record(stopped.id, 'http', USED_AT);
    await sink.flush();
    const t = (await temp.store.notebooks.get(timing.id))!;
    assert.equal(t.lease.lastActivityAt, USED_AT);
    assert.equal(leaseStopAt(t.lease), FIRST_STOP_TIME);
    assert.equal((await temp.store.notebooks.get(stopped.id))!.version, stopped.version, 'no write');
  });

  it('activity after the warning withdraws it, with an event', async () => {
    const nb = await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }), []);
    const executor = createLeaseExecutor({ store: temp.store, clock, log: silentLog, onStopRequested: () => {} });
    assert.equal((await executor.expireDue(T0 + 50 * MINUTE_MS)).warned, 1);
    sink = createActivitySink({ store: temp.store, clock, log: silentLog, flushIntervalMs: 5_000 });
    sink.record(nb.id, 'websocket', T0 + 52 * MINUTE_MS);
    await sink.flush();
    const events = await temp.store.notebooks.events(nb.id, 0, 10);
    assert.deepEqual(events.map((e) => e.type), ['lease.expiring', 'lease.expiring_cancelled']);
    assert.match(events[1]!.message, /websocket activity/);
    assert.equal(events[1]!.data!.stopAt, T0 + 52 * MINUTE_MS + HOUR_MS);
  });
});

describe('IDLE with each activity source', () => {
  let temp: TempStore;
  let clock: FakeClock;
  let runtime: FakeRuntime;

  beforeEach(async () => {
    temp = await openTempSqlite();
    clock = new FakeClock(T0);
    runtime = createFakeRuntime({ clock });
  });
  afterEach(async () => {
    await runtime.killAll();
    await temp.close();
  });

  /** A RUNNING IDLE instance served by a real fake Jupyter (kernels, terminals, CPU). */
  async function launch(): Promise<Notebook> {
    const id = crypto.randomUUID();
    const spec = { instanceId: id, basePath: `/nb/${id}/`, jupyterToken: 'token-0123456789', program: 'notebook' as const, imageId: 'i', vcpus: 2, memoryMb: 2048, capacityGb: 5, hooks: null };
    await runtime.prepare(spec, () => {});
    const launched = await runtime.start(spec);
    return temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }, undefined, { id, runtimeHandle: launched.handle, runtimeTarget: launched.target }), []);
  }

  function engine() {
    const sink = createActivitySink({ store: temp.store, clock, log: silentLog, flushIntervalMs: 5_000 });
    const poller = createActivityPoller({ store: temp.store, runtime, clock, log: silentLog, sink, pollIntervalMs: 5 * MINUTE_MS, cpuBusyCores: 0.1, probeTimeoutMs: 2_000 });
    const executor = createLeaseExecutor({ store: temp.store, clock, log: silentLog, onStopRequested: () => {}, flushActivity: (ids) => sink.flush(ids) });
    return { sink, poller, executor };
  }

  /** Runs the samplers at a named instant: moves the clock there, polls, writes. */
  async function pollAt(at: number, e: ReturnType<typeof engine>): Promise<void> {
    await clock.advance(at - clock.now());
    await e.poller.pollOnce();
    await e.sink.flush();
  }

  const sources: { source: ActivitySource; name: string; use: (nb: Notebook, e: ReturnType<typeof engine>) => Promise<void> }[] = [
    { source: 'http', name: 'a proxied HTTP request', use: async (nb, e) => e.sink.record(nb.id, 'http', USED_AT) },
    { source: 'websocket', name: 'a proxied WebSocket message', use: async (nb, e) => e.sink.record(nb.id, 'websocket', USED_AT) },
    { source: 'ssh', name: 'an SSH session', use: async (nb, e) => e.sink.record(nb.id, 'ssh', USED_AT) },
    {
      source: 'kernel',
      name: 'a kernel busy with a long cell, no browser open',
      use: async (nb, e) => {
        runtime.setKernels(nb.id, [fakeKernel('k1', 'busy', T0)]);
        await pollAt(USED_AT, e);
      },
    },
    {
      source: 'terminal',
      name: 'terminal input or output',
      use: async (nb, e) => {
        runtime.setTerminals(nb.id, [{ name: '1', last_activity: new Date(USED_AT - 5_000).toISOString() }]);
        await pollAt(USED_AT, e);
      },
    },
    {
      source: 'cpu',
      name: 'process CPU above the threshold (a computation in a terminal or over SSH)',
      use: async (nb, e) => {
        await pollAt(USED_AT - 5 * MINUTE_MS, e); // baseline reading
        runtime.burnCpu(nb.id, 5 * 60 * 0.5); // half a core for five minutes
        await pollAt(USED_AT, e);
      },
    },
  ];

  for (const s of sources) {
    it(`${s.name} keeps it running past its idle timeout and is named as the source`, async () => {
      // Given an IDLE instance with a 1 h idle timeout, RUNNING since T0
      const nb = await launch();
      const e = engine();
      // When it is used at T0+40min
      await s.use(nb, e);
      // Then it runs past T0+60min and stops idle one timeout after the use
      await clock.advance(FIRST_STOP_TIME - clock.now());
      assert.equal((await e.executor.expireDue(FIRST_STOP_TIME)).stopped, 0);
      const running = (await temp.store.notebooks.get(nb.id))!;
      assert.equal(running.status, 'RUNNING');
      assert.equal(running.lease.lastActivitySource, s.source);
      assert.ok(running.lease.lastActivityAt! >= USED_AT - 5_000 && running.lease.lastActivityAt! <= USED_AT);
      const stopAt = leaseStopAt(running.lease)!;
      await clock.advance(stopAt - clock.now());
      assert.equal((await e.executor.expireDue(stopAt)).stopped, 1);
      const after = (await temp.store.notebooks.get(nb.id))!;
      assert.equal(after.stopReason, 'idle');
    });
  }

  const quiet: { name: string; setUp: (nb: Notebook, e: ReturnType<typeof engine>) => Promise<void> }[] = [
    {
      name: 'an open but silent tab: kernels idle with a connection',
      setUp: async (nb, e) => {
        runtime.setKernels(nb.id, [{ ...fakeKernel('k1', 'idle', T0), connections: 1 }]);
        await pollAt(USED_AT, e);
      },
    },
    {
      name: 'a terminal last used before the instance started',
      setUp: async (nb, e) => {
        runtime.setTerminals(nb.id, [{ name: '1', last_activity: new Date(T0 - HOUR_MS).toISOString() }]);
        await pollAt(USED_AT, e);
      },
    },
    {
      name: 'CPU below the threshold (an idle Jupyter server)',
      setUp: async (nb, e) => {
        await pollAt(USED_AT - 5 * MINUTE_MS, e);
        runtime.burnCpu(nb.id, 5 * 60 * 0.01); // 1 % of a core
        await pollAt(USED_AT, e);
      },
    },
  ];

  for (const q of quiet) {
    it(`${q.name} does not keep it alive`, async () => {
      const nb = await launch();
      const e = engine();
      await q.setUp(nb, e);
      await clock.advance(FIRST_STOP_TIME - clock.now());
      assert.equal((await e.executor.expireDue(FIRST_STOP_TIME)).stopped, 1);
      assert.equal((await temp.store.notebooks.get(nb.id))!.stopReason, 'idle');
    });
  }

  it('only watches RUNNING instances with an enabled IDLE lease', async () => {
    const idle = await launch();
    await temp.store.notebooks.insert(runningNotebook(T0), []); // TIMING
    await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE', durationMs: -1 }), []);
    await temp.store.notebooks.insert(runningNotebook(T0, { type: 'IDLE' }, undefined, { status: 'STARTING' }), []);
    const e = engine();
    assert.equal(await e.poller.pollOnce(), 1);
    assert.ok(idle);
  });

  it('a Jupyter that does not answer is not activity (and does not stop the sampling of others)', async () => {
    const broken = await temp.store.notebooks.insert(
      runningNotebook(T0, { type: 'IDLE' }, undefined, { runtimeTarget: { origin: 'http://127.0.0.1:9', basePath: '/nb/x/', jupyterToken: 'nope-nope' } }),
      [],
    );
    const busy = await launch();
    runtime.setKernels(busy.id, [fakeKernel('k1', 'busy', T0)]);
    const e = engine();
    await pollAt(USED_AT, e);
    assert.equal((await temp.store.notebooks.get(broken.id))!.lease.lastActivityAt, null);
    assert.equal((await temp.store.notebooks.get(busy.id))!.lease.lastActivitySource, 'kernel');
  });
});

describe('coresBetween', () => {
  const cases: { name: string; before: { cpuSeconds: number; at: number } | undefined; after: { cpuSeconds: number; at: number }; expected: number | null }[] = [
    { name: 'half a core over ten seconds', before: { cpuSeconds: 10, at: T0 }, after: { cpuSeconds: 15, at: T0 + 10_000 }, expected: 0.5 },
    { name: 'two cores', before: { cpuSeconds: 0, at: T0 }, after: { cpuSeconds: 20, at: T0 + 10_000 }, expected: 2 },
    { name: 'no baseline yet', before: undefined, after: { cpuSeconds: 5, at: T0 }, expected: null },
    { name: 'time did not move', before: { cpuSeconds: 1, at: T0 }, after: { cpuSeconds: 2, at: T0 }, expected: null },
    { name: 'the total dropped (processes exited): no verdict', before: { cpuSeconds: 9, at: T0 }, after: { cpuSeconds: 3, at: T0 + 1000 }, expected: null },
  ];
  for (const c of cases) it(c.name, () => assert.equal(coresBetween(c.before, c.after), c.expected));
});
