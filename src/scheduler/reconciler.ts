// The reconciler converges every instance on the intent the API wrote. It re-reads the record
// before each step, asks decide() what to do, does one runtime call, and writes what it saw with
// compare-and-set, re-checking the status it expected (a stop that lands meanwhile wins).
// One worker per instance at a time; workers for different instances run concurrently.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { leaseStopAt, reanchor } from '../domain/lease.ts';
import { notebookEvent as event, type Transition } from '../domain/intents.ts';
import type { Notebook, ProgressStep } from '../domain/notebook.ts';
import type { InstanceSpec, Runtime, RuntimeHandle } from '../runtime/runtime.ts';
import { mutateNotebook } from '../store/mutate.ts';
import type { Store } from '../store/store.ts';
import { failProgress, withStep } from '../domain/progress.ts';
import { decide, isPassive, type ReconcileAction, type Timeouts } from './decide.ts';
import type { ReadinessProbe } from './readiness-probe.ts';

export interface ReconcilerSettings {
  healthIntervalMs: number;
  readinessPollMs: number;
  concurrency: number;
  /** While a server boots, how often its port is tried between readiness polls (probe.listening). Default 20 ms. */
  listenPollMs?: number;
}

export interface ReconcilerDeps {
  store: Store;
  runtime: Runtime;
  clock: Clock;
  log: Logger;
  probe: ReadinessProbe;
  timeouts: Timeouts;
  settings: ReconcilerSettings;
  /** Called when an instance becomes RUNNING: its lease now has a deadline the executor must see. */
  onRunning?: (notebookId: string) => void;
  /** What the runtime needs besides the record: the image's program and the flavor's size. */
  describe: (nb: Notebook) => Promise<Pick<InstanceSpec, 'program' | 'vcpus' | 'memoryMb'> & Partial<Pick<InstanceSpec, 'gpus' | 'imageRef' | 'leaseMs' | 'allowedAccessIps'>>>;
}

/** A launch whose server exited for a retryable reason is repeated at most this often per start. */
const MAX_RELAUNCHES = 3;

export const basePathOf = (id: string) => `/nb/${id}/`;

export function createReconciler(deps: ReconcilerDeps) {
  const { store, runtime, clock, log, timeouts, settings } = deps;
  const inFlight = new Map<string, Promise<void>>();
  const again = new Set<string>();
  /** Launches repeated after a retryable exit, per instance in its current start. */
  const relaunches = new Map<string, number>();
  const queued = new Set<string>();
  let wake = new AbortController();
  let running = false;
  let loop: Promise<void> | null = null;

  async function spec(nb: Notebook, jupyterToken: string): Promise<InstanceSpec> {
    return {
      instanceId: nb.id,
      basePath: basePathOf(nb.id),
      jupyterToken,
      imageId: nb.imageId,
      capacityGb: nb.volume.pendingCapacityGb ?? nb.volume.capacityGb,
      hooks: nb.hooks,
      ...(await deps.describe(nb)),
    };
  }

  /** Writes a transition only if the instance is still in `expected` status. */
  const transitionIf = (id: string, expected: Notebook['status'], build: (nb: Notebook, now: number) => Transition) =>
    mutateNotebook(store, id, (nb) => (nb.status === expected ? build(nb, clock.now()) : null));

  const failure = (nb: Notebook, now: number, status: Notebook['status'], reason: string, type = 'notebook.failed'): Transition => ({
    next: {
      ...nb,
      status,
      failReason: reason,
      operation: null,
      runtimeHandle: null,
      runtimeTarget: null,
      actionProgress: failProgress(nb.actionProgress),
      statusChangedAt: now,
      updateAt: now,
    },
    events: [event(nb.id, now, type, reason, { status })],
  });

  /** Stops whatever a handle points at, logging rather than throwing: used on failure paths. */
  async function bestEffortStop(handle: unknown, id: string): Promise<void> {
    if (!handle) return;
    try {
      await runtime.stop(handle as RuntimeHandle, 0);
    } catch (e) {
      log.warn({ id, err: (e as Error).message }, 'could not stop a failed instance');
    }
  }

  async function reportProgress(id: string, step: ProgressStep['step'], status: 'PROCESSING' | 'COMPLETED') {
    await mutateNotebook(store, id, (nb) =>
      nb.status === 'CREATING' ? { next: { ...nb, actionProgress: withStep(nb.actionProgress, step, status) }, events: [] } : null,
    );
  }

  /** `justPrepared`: this worker's previous step was a successful prepare of the same instance. */
  async function execute(action: ReconcileAction, nb: Notebook, justPrepared = false): Promise<void> {
    const id = nb.id;
    switch (action.kind) {
      case 'prepare': {
        // Progress is written without holding up the runtime's work: the writes queue in order
        // for this instance and coalesce with each other and with the hand-over to STARTING.
        const progress: Promise<unknown>[] = [];
        try {
          await runtime.prepare(await spec(nb, ''), (step, status) => {
            progress.push(reportProgress(id, step, status).catch((e: unknown) => e));
          });
          const starting = transitionIf(id, 'CREATING', (cur, now) => ({
            next: { ...cur, status: 'STARTING', statusChangedAt: now, updateAt: now },
            events: [event(id, now, 'notebook.starting', 'Storage, compute and network are ready; starting the notebook server.')],
          }));
          const [reported] = await Promise.all([Promise.all(progress), starting]);
          const failed = reported.find((r) => r instanceof Error);
          if (failed) throw failed;
        } catch (e) {
          await transitionIf(id, 'CREATING', (cur, now) => failure(cur, now, 'CREATE_FAILED', (e as Error).message));
        }
        return;
      }
      case 'launch': {
        const jupyterToken = randomBytes(24).toString('hex');
        let launched;
        try {
          const s = await spec(nb, jupyterToken);
          // Right after a create's prepare (same worker, same spec) a second one would only repeat it.
          if (!justPrepared) await runtime.prepare(s, () => {});
          launched = await runtime.start(s);
        } catch (e) {
          const status = nb.operation === 'create' ? 'CREATE_FAILED' : 'START_FAILED';
          await transitionIf(id, 'STARTING', (cur, now) => failure(cur, now, status, (e as Error).message));
          return;
        }
        // Record the handle whatever happened meanwhile: a stop that landed must find the process.
        const stored = await mutateNotebook(store, id, (cur) => {
          const now = clock.now();
          const starting = cur.status === 'STARTING';
          return {
            next: {
              ...cur,
              runtimeHandle: launched.handle,
              runtimeTarget: launched.target,
              ...(starting && { actionProgress: withStep(cur.actionProgress, 4, 'PROCESSING') }),
            },
            events: starting
              ? [event(id, now, 'runtime.launched', `Notebook server launched by the ${runtime.kind} runtime.${launched.notes?.length ? ` Note: ${launched.notes.join('; ')}.` : ''}`)]
              : [],
          };
        });
        if (!stored || stored.status === 'DELETED') await bestEffortStop(launched.handle, id);
        return;
      }
      case 'awaitReady':
        return awaitReady(nb);
      case 'fail':
        await bestEffortStop(nb.runtimeHandle, id);
        await transitionIf(id, nb.status, (cur, now) => failure(cur, now, action.status, action.reason));
        return;
      case 'halt': {
        try {
          if (nb.runtimeHandle) await runtime.stop(nb.runtimeHandle as RuntimeHandle, action.graceMs);
          // Stopped while starting, with a server launched by a notebookd that died before recording it.
          else await runtime.stopUnrecorded?.(id, action.graceMs);
        } catch (e) {
          await transitionIf(id, 'STOPPING', (cur, now) => failure(cur, now, 'ERROR', `Stopping failed: ${(e as Error).message}`));
          return;
        }
        await transitionIf(id, 'STOPPING', (cur, now) => ({
          next: {
            ...cur,
            status: 'STOPPED',
            operation: null,
            runtimeHandle: null,
            runtimeTarget: null,
            statusChangedAt: now,
            updateAt: now,
            lease: { ...cur.lease, updateAt: now },
            // A resize asked for while running but not applied yet takes effect at the next start.
            volume: cur.volume.pendingCapacityGb === undefined ? cur.volume : { ...cur.volume, capacityGb: cur.volume.pendingCapacityGb, pendingCapacityGb: undefined, status: 'IN_USE' },
          },
          events: [event(id, now, 'notebook.stopped', `Stopped (reason: ${cur.stopReason ?? 'user'}).`, { reason: cur.stopReason ?? 'user' })],
        }));
        return;
      }
      case 'teardown': {
        try {
          if (nb.runtimeHandle) await runtime.stop(nb.runtimeHandle as RuntimeHandle, action.graceMs);
          await runtime.destroy(id);
        } catch (e) {
          await transitionIf(id, 'DELETING', (cur, now) => failure(cur, now, 'DELETE_FAILED', `Deleting failed: ${(e as Error).message}`));
          return;
        }
        await transitionIf(id, 'DELETING', (cur, now) => ({
          next: { ...cur, status: 'DELETED', operation: null, runtimeHandle: null, runtimeTarget: null, statusChangedAt: now, updateAt: now },
          events: [event(id, now, 'notebook.deleted', 'Deleted; its volume was removed.')],
        }));
        return;
      }
      case 'deleteFailed':
        await transitionIf(id, 'DELETING', (cur, now) => failure(cur, now, 'DELETE_FAILED', action.reason));
        return;
      case 'resize': {
        try {
          await runtime.resizeVolume?.(id, action.capacityGb);
        } catch (e) {
          log.warn({ id, err: (e as Error).message }, 'volume resize failed');
          await mutateNotebook(store, id, (cur) => {
            const now = clock.now();
            return {
              next: { ...cur, volume: { ...cur.volume, status: 'IN_USE', pendingCapacityGb: undefined } },
              events: [event(id, now, 'volume.resize_failed', `Growing the volume to ${action.capacityGb} GB failed: ${(e as Error).message}`)],
            };
          });
          return;
        }
        await mutateNotebook(store, id, (cur) => {
          if (cur.volume.pendingCapacityGb !== action.capacityGb) return null;
          const now = clock.now();
          return {
            next: { ...cur, volume: { ...cur.volume, capacityGb: action.capacityGb, pendingCapacityGb: undefined, status: 'IN_USE' }, updateAt: now },
            events: [event(id, now, 'volume.resized', `The volume now holds ${action.capacityGb} GB.`)],
          };
        });
        return;
      }
      case 'health': {
        if (!nb.runtimeHandle) {
          await transitionIf(id, 'RUNNING', (cur, now) => ({
            ...failure(cur, now, 'ERROR', 'The instance has no runtime record; it was lost.', 'notebook.lost'),
          }));
          return;
        }
        const seen = await runtime.poll(nb.runtimeHandle as RuntimeHandle);
        if (seen.state === 'running') {
          // A runtime with its own time limit (Slurm) follows the lease; a failure only logs.
          await runtime.leaseChanged?.(nb.runtimeHandle as RuntimeHandle, leaseStopAt(nb.lease)).catch((e: Error) => log.warn({ id, err: e.message }, 'could not mirror the lease onto the runtime'));
          return;
        }
        await mutateNotebook(store, id, (cur) => {
          if (cur.status !== 'RUNNING' || JSON.stringify(cur.runtimeHandle) !== JSON.stringify(nb.runtimeHandle)) return null;
          const t = failure(cur, clock.now(), 'ERROR', seen.reason, 'notebook.lost');
          // The server exiting by itself is an error; a process notebookd can no longer find is lost.
          const reason = seen.state === 'exited' ? 'error' : 'runtime_lost';
          return { next: { ...t.next, stopReason: reason }, events: t.events.map((e) => ({ ...e, data: { ...e.data, reason } })) };
        });
        return;
      }
    }
  }

  /**
   * Waits `ms` between readiness polls, ending early once the server's port accepts connections:
   * a server is usable a fraction of a poll interval after it listens, and the user waits for
   * exactly that moment. Only while it has not listened yet: a server that listens but fails the
   * probe is polled at the normal pace.
   */
  async function untilListening(target: Notebook['runtimeTarget'], ms: number): Promise<'listening' | 'waited'> {
    const listening = deps.probe.listening;
    const stepMs = settings.listenPollMs ?? 20;
    if (!target || !listening || stepMs >= ms) {
      await clock.sleep(ms);
      return 'waited';
    }
    const endAt = clock.now() + ms;
    for (let left = ms; left > 0; left = endAt - clock.now()) {
      await clock.sleep(Math.min(stepMs, left));
      if (await listening(target)) return 'listening';
    }
    return 'waited';
  }

  async function awaitReady(initial: Notebook): Promise<void> {
    let nb = initial;
    const id = nb.id;
    const handle = nb.runtimeHandle as RuntimeHandle;
    const failStatus = nb.operation === 'create' ? 'CREATE_FAILED' : 'START_FAILED';
    let listened = false;
    for (;;) {
      const seen = await runtime.poll(handle);
      if (seen.state === 'exited' && seen.retryable && (relaunches.get(id) ?? 0) < MAX_RELAUNCHES) {
        // Still STARTING, without a handle: the next step launches again (within the same start timeout).
        relaunches.set(id, (relaunches.get(id) ?? 0) + 1);
        await mutateNotebook(store, id, (cur) => {
          if (cur.status !== 'STARTING' || JSON.stringify(cur.runtimeHandle) !== JSON.stringify(handle)) return null;
          const now = clock.now();
          return {
            next: { ...cur, runtimeHandle: null, runtimeTarget: null, updateAt: now },
            events: [event(id, now, 'notebook.relaunching', `The notebook server could not start (${seen.retryable}); starting it again.`)],
          };
        });
        return;
      }
      if (seen.state !== 'running') {
        relaunches.delete(id);
        await transitionIf(id, 'STARTING', (cur, now) => failure(cur, now, failStatus, seen.reason));
        return;
      }
      if (nb.runtimeTarget && (await deps.probe(nb.runtimeTarget))) {
        const becameRunning = await transitionIf(id, 'STARTING', (cur, now) => ({
          next: {
            ...cur,
            status: 'RUNNING',
            operation: null,
            failReason: null,
            actionProgress: withStep(cur.actionProgress, 4, 'COMPLETED'),
            // The running time is counted from the moment the instance is usable.
            lease: reanchor(cur.lease, now),
            statusChangedAt: now,
            updateAt: now,
          },
          events: [event(id, now, 'notebook.running', 'The notebook server is ready.')],
        }));
        relaunches.delete(id);
        if (becameRunning?.status === 'RUNNING') deps.onRunning?.(id);
        return;
      }
      if (listened) await clock.sleep(settings.readinessPollMs);
      else listened = (await untilListening(nb.runtimeTarget, settings.readinessPollMs)) === 'listening';
      const fresh = await store.notebooks.get(id);
      // Anything but "still starting the same process" is re-decided from the new state.
      if (!fresh || fresh.status !== 'STARTING' || JSON.stringify(fresh.runtimeHandle) !== JSON.stringify(handle)) return;
      if (decide(fresh, clock.now(), timeouts)?.kind !== 'awaitReady') return;
      nb = fresh;
    }
  }

  async function work(id: string): Promise<void> {
    let previous: ReconcileAction['kind'] | null = null;
    for (let steps = 0; steps < 20; steps++) {
      const nb = await store.notebooks.get(id);
      if (!nb) return;
      const action = decide(nb, clock.now(), timeouts);
      if (!action) return;
      try {
        // A prepare that failed leaves CREATE_FAILED, never a launch: only a successful one is followed by it.
        await execute(action, nb, previous === 'prepare');
      } catch (e) {
        log.error({ id, action: action.kind, err: (e as Error).message }, 'reconcile step failed');
        return;
      }
      if (isPassive(action)) return;
      previous = action.kind;
    }
  }

  function schedule(id: string): void {
    if (inFlight.has(id)) {
      again.add(id);
      return;
    }
    const p = work(id).finally(() => {
      inFlight.delete(id);
      if (again.delete(id) && running) schedule(id);
    });
    inFlight.set(id, p);
  }

  /** The nudged instances; a full pass adds every active one (the health check), at most once per healthIntervalMs. */
  async function pass(full: boolean): Promise<void> {
    const ids = new Set(queued);
    queued.clear();
    if (full) for (const nb of await store.notebooks.listActive()) ids.add(nb.id);
    for (const id of ids) {
      while (inFlight.size >= settings.concurrency) await Promise.race(inFlight.values());
      schedule(id);
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      loop = (async () => {
        // A nudge (every API write) handles its own instance; listing every active instance on each
        // one made a write cost O(active instances) (bench/api).
        let nextFullAt = 0;
        while (running) {
          const full = clock.now() >= nextFullAt;
          if (full) nextFullAt = clock.now() + settings.healthIntervalMs;
          try {
            await pass(full);
          } catch (e) {
            log.error({ err: (e as Error).message }, 'reconcile pass failed');
          }
          if (!running) break;
          const untilFullMs = nextFullAt - clock.now();
          if (queued.size === 0 && untilFullMs > 0) await clock.sleep(untilFullMs, wake.signal);
          wake = new AbortController();
        }
      })();
    },

    /** Something changed for this instance: look at it now rather than at the next pass. */
    nudge(id: string): void {
      queued.add(id);
      if (running) wake.abort();
    },

    /** Runs one instance's steps to completion now (tests and the restart path use it). */
    async reconcileNow(id: string): Promise<void> {
      schedule(id);
      while (inFlight.has(id)) await inFlight.get(id);
    },

    /** Resolves when no worker is busy. */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.all(inFlight.values());
    },

    async stop(): Promise<void> {
      running = false;
      wake.abort();
      await loop;
      await Promise.all(inFlight.values());
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
