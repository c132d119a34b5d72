// Read-decide-write with compare-and-set. The decision runs again on the fresh record after a
// conflict, so concurrent writers never lose an update; only a writer that keeps losing gets
// ModelArts.6357.
import { errors } from '../domain/errors.ts';
import { canTransition } from '../domain/lifecycle.ts';
import type { Transition } from '../domain/intents.ts';
import type { Notebook, NotebookEvent } from '../domain/notebook.ts';
import { VersionConflict, type Store } from './store.ts';

export type Change = Transition;

const MAX_ATTEMPTS = 8;
/** At most this many queued writers to one instance share one store write. */
const MAX_COALESCED = 64;

type Decide = (current: Notebook) => Change | null;

interface Writer {
  decide: Decide;
  readAlready: Notebook | undefined;
  resolve: (nb: Notebook | undefined) => void;
  reject: (error: unknown) => void;
}

interface Queue {
  waiting: Writer[];
  draining: boolean;
}

/**
 * Writers to one instance in this process take turns. Racing, they only collide and retry: 148
 * concurrent writes to one instance on PostgreSQL ended 124 times in ModelArts.6357 that way
 * (test/integration/concurrency.test.ts). Writers in other replicas are still guarded by the version.
 *
 * Writers that queued up while one was writing are coalesced: each decides on the record its
 * predecessor produced, in arrival order, and all their changes go to the store as one
 * compare-and-set write (their events in order, the version advanced once per change). It lands
 * or conflicts as a whole; after a conflict every one of them decides again on the fresh record.
 * Ten concurrent RenewLease calls on one instance cost one write instead of ten (bench/api).
 */
const queues = new WeakMap<Store, Map<string, Queue>>();

/**
 * Applies `decide` to the current record until the write lands. `decide` returns null when there
 * is nothing to write (the result is then the current record) and may throw to refuse.
 * Resolves undefined when the notebook does not exist. `readAlready` is a record the caller just
 * read (e.g. a batch query): the first attempt decides on it, its version guarding the write, and
 * only a conflict costs a re-read.
 */
export function mutateNotebook(store: Store, id: string, decide: Decide, readAlready?: Notebook): Promise<Notebook | undefined> {
  let byId = queues.get(store);
  if (!byId) queues.set(store, (byId = new Map()));
  let queue = byId.get(id);
  if (!queue) byId.set(id, (queue = { waiting: [], draining: false }));
  const q = queue;
  return new Promise((resolve, reject) => {
    q.waiting.push({ decide, readAlready: readAlready?.id === id ? readAlready : undefined, resolve, reject });
    if (!q.draining) {
      q.draining = true;
      // Writers that arrive in the same turn of the event loop (requests read together) coalesce.
      setImmediate(() => void drain(store, byId, id, q));
    }
  });
}

async function drain(store: Store, byId: Map<string, Queue>, id: string, q: Queue): Promise<void> {
  try {
    while (q.waiting.length > 0) {
      // A writer with its own fresh read goes alone (its read guards its write); the others coalesce.
      const first = q.waiting[0]!;
      let n = 1;
      if (!first.readAlready) while (n < q.waiting.length && n < MAX_COALESCED && !q.waiting[n]!.readAlready) n++;
      const batch = q.waiting.splice(0, n);
      try {
        await writeWithRetries(store, id, batch);
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
  } finally {
    q.draining = false;
    if (byId.get(id) === q && q.waiting.length === 0) byId.delete(id);
  }
}

type Outcome = { writer: Writer; error: unknown } | { writer: Writer; record: Notebook; step: number };

async function writeWithRetries(store: Store, id: string, batch: Writer[]): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = attempt === 0 && batch[0]!.readAlready ? batch[0]!.readAlready : await store.notebooks.get(id);
    if (!current) {
      for (const w of batch) w.resolve(undefined);
      return;
    }
    // Each writer decides on its predecessor's result; a refusal or a no-op leaves the state as it was.
    const outcomes: Outcome[] = [];
    const events: NotebookEvent[] = [];
    let state = current;
    let steps = 0;
    for (const writer of batch) {
      try {
        const change = writer.decide(state);
        if (!change) {
          outcomes.push({ writer, record: state, step: steps });
          continue;
        }
        // The transition table is the only authority: a write that breaks it is a bug, never data.
        if (change.next.status !== state.status && !canTransition(state.status, change.next.status)) {
          throw errors.internal(`Illegal status transition ${state.status} → ${change.next.status} for ${id}.`);
        }
        steps++;
        state = { ...change.next, version: current.version + steps };
        events.push(...change.events);
        outcomes.push({ writer, record: state, step: steps });
      } catch (error) {
        outcomes.push({ writer, error });
      }
    }
    let stored: Notebook | undefined;
    if (steps > 0) {
      try {
        stored = await store.notebooks.update({ ...state, version: current.version }, events, steps, current);
      } catch (e) {
        if (e instanceof VersionConflict) continue;
        throw e;
      }
    }
    for (const o of outcomes) {
      if ('error' in o) o.writer.reject(o.error);
      // The last change gets the stored record; earlier ones their own state, whose version was passed.
      else o.writer.resolve(stored && o.step === steps ? stored : o.record);
    }
    return;
  }
  throw errors.conflict('The instance kept changing while the request was applied; retry.');
}
