// Live instance events for Server-Sent Events: follow(id, afterId) yields the instance's events
// after `afterId` (the replay after Last-Event-ID), then new ones as they are committed, with
// heartbeats in between. Events this process writes wake the stream at once (notify, from the
// store tap); events other replicas write are found by polling every pollMs. All on the Clock.
import type { Clock } from '../clock.ts';
import type { NotebookEvent } from '../domain/notebook.ts';
import type { Store } from '../store/store.ts';

export interface EventStreamsDeps {
  store: Store;
  clock: Clock;
  /** How often a quiet stream looks for events written elsewhere. */
  pollMs: number;
  /** How long a stream may stay silent before a heartbeat. */
  heartbeatMs: number;
  /** Events read per query. */
  pageSize?: number;
  metrics?: { eventStreams: { add(by: number): void } };
}

export type StreamItem = { kind: 'event'; event: NotebookEvent } | { kind: 'heartbeat' };

export function createEventStreams(deps: EventStreamsDeps) {
  const { store, clock } = deps;
  const pageSize = deps.pageSize ?? 100;
  /** Wake-ups of the open streams, by instance. */
  const streams = new Map<string, Set<() => void>>();
  let open = 0;

  return {
    /** Events were committed for these instances: their streams read them now. */
    notify(notebookIds: Iterable<string>): void {
      for (const id of new Set(notebookIds)) for (const wake of streams.get(id) ?? []) wake();
    },

    get openStreams(): number {
      return open;
    },

    /** Ends when `signal` aborts (the client went away or the server is closing). */
    async *follow(notebookId: string, afterId: number, signal: AbortSignal): AsyncGenerator<StreamItem> {
      let dirty = false;
      let sleeping: AbortController | null = null;
      const wake = () => {
        dirty = true;
        sleeping?.abort();
      };
      const onAbort = () => sleeping?.abort();
      signal.addEventListener('abort', onAbort);
      // Registered before the first read: an event committed in between sets `dirty`, never lost.
      const set = streams.get(notebookId) ?? new Set();
      set.add(wake);
      streams.set(notebookId, set);
      open += 1;
      deps.metrics?.eventStreams.add(1);
      try {
        let last = afterId;
        let lastSentAt = clock.now();
        while (!signal.aborted) {
          dirty = false;
          const events = await store.notebooks.events(notebookId, last, pageSize);
          for (const event of events) {
            if (signal.aborted) return;
            last = event.id ?? last;
            lastSentAt = clock.now();
            yield { kind: 'event', event };
            // Nothing follows a deletion; a reconnecting client gets the 404.
            if (event.type === 'notebook.deleted') return;
          }
          if (events.length === pageSize || dirty) continue;
          const silentMs = clock.now() - lastSentAt;
          if (silentMs >= deps.heartbeatMs) {
            lastSentAt = clock.now();
            yield { kind: 'heartbeat' };
            continue;
          }
          sleeping = new AbortController();
          if (!dirty && !signal.aborted) await clock.sleep(Math.min(deps.pollMs, deps.heartbeatMs - silentMs), sleeping.signal);
          sleeping = null;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && streams.get(notebookId) === set) streams.delete(notebookId);
        open -= 1;
        deps.metrics?.eventStreams.add(-1);
      }
    },
  };
}

export type EventStreams = ReturnType<typeof createEventStreams>;
