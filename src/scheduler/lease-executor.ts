// Stops RUNNING instances whose lease ran out and warns them first. Driven by the indexed due
// column (the next warning or stop time): it sleeps until the earliest one (or a nudge), handles
// what is due in bounded batches, and re-checks each instance under compare-and-set with the pure
// leaseAction(), so a prolong (or IDLE activity) that wins the race keeps the instance running.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { requestStop } from '../domain/intents.ts';
import { humanMs, leaseAction, warnExpiry, type LeaseAction } from '../domain/lease.ts';
import type { Notebook } from '../domain/notebook.ts';
import { mutateNotebook } from '../store/mutate.ts';
import type { Store } from '../store/store.ts';

/** The executor's metrics (a subset of metrics/notebookd-metrics.ts, by shape). */
export interface LeaseExecutorMetrics {
  expiryLag: { observe(seconds: number): void };
  leaseWarnings: { inc(): void };
  executorPasses: { inc(): void };
}

export interface LeaseExecutorDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Called for every instance the executor asked to stop (the reconciler carries it out). */
  onStopRequested: (notebookId: string) => void;
  /**
   * Writes activity reported but not yet flushed for these instances, so that the re-check sees
   * it: an IDLE instance used a second ago is not stopped because its batch was still pending.
   */
  flushActivity?: (notebookIds: string[]) => Promise<void>;
  metrics?: LeaseExecutorMetrics;
  /** Instances read per batch (default 200). */
  batchSize?: number;
  /** Instances of one batch handled at once (default 8). */
  concurrency?: number;
  /** Upper bound on one sleep, so a clock jump or a missed nudge is noticed. */
  maxSleepMs?: number;
  /**
   * Passes start at least this far apart (default 100 ms): under a stream of stop times a pass
   * handles all that fell due in the window instead of waking once per instance, for at most this
   * much extra lag. Deadlines further apart are met on time.
   */
  minPassIntervalMs?: number;
}

export interface ExpiryStats {
  stopped: number;
  warned: number;
  /** now - stop time, per stopped instance, in ms: the expiry lag. */
  lagsMs: number[];
}

/** Lets I/O and other requests run between batches (not a timer: time stays injected). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function stopMessage(nb: Notebook, action: Extract<LeaseAction, { kind: 'stop' }>): string {
  if (action.capped) return `Stopping: the run reached its maximum running time of ${humanMs(nb.lease.maxRunningMs ?? 0)}.`;
  if (action.reason === 'idle') return `Stopping: the instance was idle for its whole idle timeout (${humanMs(nb.lease.requestedMs)}).`;
  return 'Stopping: the lease ran out.';
}

export function createLeaseExecutor(deps: LeaseExecutorDeps) {
  const { store, clock, log } = deps;
  const batchSize = deps.batchSize ?? 200;
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const maxSleepMs = deps.maxSleepMs ?? 60_000;
  const minPassIntervalMs = deps.minPassIntervalMs ?? 100;
  let wake = new AbortController();
  /** The pause between passes: not cut short by nudges, only by stop(). */
  let pause: AbortController | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  const listeners = new Set<(stats: ExpiryStats) => void>();

  /** Re-checks one instance under compare-and-set and warns or stops it if that is still due at `passAt`. */
  async function handle(candidate: Notebook, passAt: number, stats: ExpiryStats): Promise<boolean> {
    let decided: LeaseAction | null = null;
    // The first attempt decides on the record the batch query returned (its version guards the
    // write); anything that changed since makes the write conflict, and the fresh record decides.
    const after = await mutateNotebook(store, candidate.id, (nb) => {
      // The pass's instant, or later if the pass took time: never decide on a stale "now".
      const now = Math.max(passAt, clock.now());
      decided = leaseAction(nb, now);
      if (!decided) return null; // prolonged, active or stopped meanwhile
      if (decided.kind === 'warn') return warnExpiry(nb, now, decided.stopAt);
      const t = requestStop(nb, now, decided.reason, stopMessage(nb, decided));
      const stopAt = decided.stopAt;
      return { ...t, events: t.events.map((e) => ({ ...e, data: { ...e.data, stopAt, lagMs: now - stopAt } })) };
    }, candidate);
    const action = decided as LeaseAction | null;
    if (!after || !action) return false;
    if (action.kind === 'warn') {
      stats.warned++;
      deps.metrics?.leaseWarnings.inc();
      return true;
    }
    if (after.status !== 'STOPPING') return false;
    const lagMs = Math.max(passAt, clock.now()) - action.stopAt;
    stats.stopped++;
    stats.lagsMs.push(lagMs);
    deps.metrics?.expiryLag.observe(Math.max(0, lagMs) / 1000);
    deps.onStopRequested(after.id);
    return true;
  }

  /** Handles every instance due at `now` in batches of batchSize. */
  async function expireDue(now: number): Promise<ExpiryStats> {
    const stats: ExpiryStats = { stopped: 0, warned: 0, lagsMs: [] };
    deps.metrics?.executorPasses.inc();
    for (;;) {
      const due = await store.notebooks.listDue(now, batchSize);
      if (due.length === 0) break;
      const idle = due.filter((nb) => nb.lease.type === 'IDLE').map((nb) => nb.id);
      if (idle.length > 0 && deps.flushActivity) await deps.flushActivity(idle);
      let progressed = 0;
      for (let i = 0; i < due.length; i += concurrency) {
        const results = await Promise.all(due.slice(i, i + concurrency).map((nb) => handle(nb, now, stats)));
        progressed += results.filter(Boolean).length;
      }
      // A batch in which nothing changed would be read again as it is: wait for the next wake-up.
      if (due.length < batchSize || progressed === 0) break;
      await yieldToEventLoop();
    }
    if (stats.stopped > 0 || stats.warned > 0) {
      log.info({ stopped: stats.stopped, warned: stats.warned }, 'lease executor pass');
      for (const l of listeners) l(stats);
    }
    return stats;
  }

  return {
    expireDue,

    onExpired(listener: (stats: ExpiryStats) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    start(): void {
      if (running) return;
      running = true;
      loop = (async () => {
        // The first pass runs at once: deadlines that passed while notebookd was down are honoured now.
        let lastPassAt = -Infinity;
        while (running) {
          try {
            const sinceLastMs = clock.now() - lastPassAt;
            if (sinceLastMs < minPassIntervalMs) {
              pause = new AbortController();
              await clock.sleep(minPassIntervalMs - sinceLastMs, pause.signal);
              pause = null;
            }
            if (!running) break;
            lastPassAt = clock.now();
            await expireDue(lastPassAt);
            const next = await store.notebooks.nextDueAt();
            const waitMs = next === null ? maxSleepMs : Math.min(maxSleepMs, Math.max(0, next - clock.now()));
            if (waitMs > 0 && running) await clock.sleep(waitMs, wake.signal);
          } catch (e) {
            log.error({ err: (e as Error).message }, 'lease executor pass failed');
            await clock.sleep(1_000, wake.signal);
          }
          wake = new AbortController();
        }
      })();
    },

    /** A lease or status changed: re-read the earliest deadline now. */
    nudge(): void {
      // abort() builds its DOMException reason even when already aborted: one per RenewLease otherwise.
      if (!wake.signal.aborted) wake.abort();
    },

    async stop(): Promise<void> {
      running = false;
      wake.abort();
      pause?.abort();
      await loop;
    },
  };
}

export type LeaseExecutor = ReturnType<typeof createLeaseExecutor>;
