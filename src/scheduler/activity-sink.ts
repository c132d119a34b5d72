// The batching activity sink (domain/activity.ts's contract). The proxy, the SSH gateway and the
// samplers call record() as often as they like; it only remembers the newest report per instance,
// and a loop on the injected clock writes each instance at most once per flush interval, applying
// the pure recordActivity() under compare-and-set. A write that moves an IDLE stop time past an
// issued warning also withdraws the warning (an event subscribers see).
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { ActivitySink, ActivitySource } from '../domain/activity.ts';
import { recordActivity, warningWithdrawn, warningWithdrawnEvent } from '../domain/lease.ts';
import { mutateNotebook } from '../store/mutate.ts';
import type { Store } from '../store/store.ts';

export interface ActivityMetrics {
  activityReports: { inc(labels: { source: string }): void };
  activityWrites: { inc(): void };
}

export interface ActivitySinkDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  flushIntervalMs: number;
  metrics?: ActivityMetrics;
}

export interface BatchingActivitySink extends ActivitySink {
  /** Writes what is pending now (all, or only these instances). */
  flush(notebookIds?: readonly string[]): Promise<void>;
  /** The newest unwritten report for an instance (tests, diagnostics). */
  pending(notebookId: string): { at: number; source: ActivitySource } | undefined;
  start(): void;
  /** Stops the loop after a last flush. */
  stop(): Promise<void>;
}

export function createActivitySink(deps: ActivitySinkDeps): BatchingActivitySink {
  const { store, clock, log } = deps;
  const pending = new Map<string, { at: number; source: ActivitySource }>();
  let running = false;
  let loop: Promise<void> | null = null;
  let wake = new AbortController();

  async function write(id: string, report: { at: number; source: ActivitySource }): Promise<void> {
    await mutateNotebook(store, id, (nb) => {
      // Activity keeps a running instance alive; for anything else it is history.
      if (nb.status !== 'RUNNING') return null;
      const lease = recordActivity(nb.lease, report.at, report.source);
      if (lease === nb.lease) return null;
      const now = clock.now();
      const events = warningWithdrawn(nb.lease, lease) ? [warningWithdrawnEvent(nb, now, lease, `${report.source} activity`)] : [];
      // Not an update of the instance (update_at stays): the lease's own fields say what happened.
      return { next: { ...nb, lease }, events };
    });
    deps.metrics?.activityWrites.inc();
  }

  async function flush(ids?: readonly string[]): Promise<void> {
    const batch: [string, { at: number; source: ActivitySource }][] = [];
    for (const id of ids ?? [...pending.keys()]) {
      const report = pending.get(id);
      if (!report) continue;
      pending.delete(id);
      batch.push([id, report]);
    }
    for (const [id, report] of batch) {
      try {
        await write(id, report);
      } catch (e) {
        log.warn({ id, err: (e as Error).message }, 'activity write failed');
      }
    }
  }

  return {
    record(notebookId, source, at) {
      const when = at ?? clock.now();
      deps.metrics?.activityReports.inc({ source });
      const seen = pending.get(notebookId);
      if (!seen || when > seen.at) pending.set(notebookId, { at: when, source });
    },

    flush,
    pending: (id) => pending.get(id),

    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          await clock.sleep(deps.flushIntervalMs, wake.signal);
          wake = new AbortController();
          await flush();
        }
      })();
    },

    async stop() {
      running = false;
      wake.abort();
      await loop;
      await flush();
    },
  };
}
