// Stops RUNNING instances whose lease ran out. Driven by the indexed earliest stop time: it
// sleeps until that instant (or a nudge), handles what is due in bounded batches, and re-checks
// each instance under compare-and-set so a prolong that wins the race keeps it running.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { requestStop } from '../domain/intents.ts';
import { dueAt } from '../domain/lease.ts';
import { mutateNotebook } from '../store/mutate.ts';
import type { Store } from '../store/store.ts';

export interface LeaseExecutorDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Called for every instance the executor asked to stop (the reconciler carries it out). */
  onStopRequested: (notebookId: string) => void;
  batchSize?: number;
  /** Upper bound on one sleep, so a clock jump or a missed nudge is noticed. */
  maxSleepMs?: number;
}

export interface ExpiryStats {
  stopped: number;
  /** now - due time, per stopped instance, in ms: the expiry lag. */
  lagsMs: number[];
}

export function createLeaseExecutor(deps: LeaseExecutorDeps) {
  const { store, clock, log } = deps;
  const batchSize = deps.batchSize ?? 200;
  const maxSleepMs = deps.maxSleepMs ?? 60_000;
  let wake = new AbortController();
  let running = false;
  let loop: Promise<void> | null = null;
  const listeners = new Set<(stats: ExpiryStats) => void>();

  /** Handles every instance due at `now`; returns how many it stopped. */
  async function expireDue(now: number): Promise<ExpiryStats> {
    const stats: ExpiryStats = { stopped: 0, lagsMs: [] };
    for (;;) {
      const due = await store.notebooks.listDue(now, batchSize);
      for (const candidate of due) {
        let dueTime = 0;
        const after = await mutateNotebook(store, candidate.id, (nb) => {
          const at = dueAt(nb);
          if (at === null || at > now) return null; // prolonged or stopped meanwhile
          dueTime = at;
          const reason = nb.lease.type === 'IDLE' ? 'idle' : 'lease_expired';
          const message = reason === 'idle' ? 'Stopping: the instance was idle for its whole idle timeout.' : 'Stopping: the lease ran out.';
          return requestStop(nb, clock.now(), reason, message);
        });
        if (after?.status === 'STOPPING' && dueTime > 0) {
          stats.stopped++;
          stats.lagsMs.push(clock.now() - dueTime);
          deps.onStopRequested(after.id);
        }
      }
      if (due.length < batchSize) break;
    }
    if (stats.stopped > 0) {
      log.info({ stopped: stats.stopped }, 'lease executor stopped expired instances');
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
        while (running) {
          try {
            await expireDue(clock.now());
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
      wake.abort();
    },

    async stop(): Promise<void> {
      running = false;
      wake.abort();
      await loop;
    },
  };
}

export type LeaseExecutor = ReturnType<typeof createLeaseExecutor>;
