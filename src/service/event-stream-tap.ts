// Sees every instance event this process commits, without touching the writers: the store is
// wrapped so that a successful insert/update/appendEvents also tells a listener. The listener
// wakes event streams and the webhook dispatcher at once and feeds the lifecycle counters; events
// written by other replicas are found by polling instead.
import type { NotebookEvent } from '../domain/notebook.ts';
import type { NotebookStore, Store } from '../store/store.ts';

export type EventListener = (events: readonly NotebookEvent[]) => void;

export function tapEvents(store: Store, listener: EventListener): Store {
  const inner = store.notebooks;
  const tell = (events: readonly NotebookEvent[]) => {
    if (events.length === 0) return;
    try {
      listener(events);
    } catch {
      // A listener's failure must never turn a committed write into an error.
    }
  };
  const notebooks: NotebookStore = {
    ...inner,
    async insert(nb, events) {
      const stored = await inner.insert(nb, events);
      tell(events);
      return stored;
    },
    async update(next, events, steps, base) {
      const stored = await inner.update(next, events, steps, base);
      tell(events);
      return stored;
    },
    async appendEvents(events) {
      await inner.appendEvents(events);
      tell(events);
    },
  };
  return { ...store, notebooks };
}
