// Read-decide-write with compare-and-set. The decision runs again on the fresh record after a
// conflict, so concurrent writers never lose an update; only a writer that keeps losing gets
// ModelArts.6357.
import { errors } from '../domain/errors.ts';
import { canTransition } from '../domain/lifecycle.ts';
import type { Transition } from '../domain/intents.ts';
import type { Notebook } from '../domain/notebook.ts';
import { VersionConflict, type Store } from './store.ts';

export type Change = Transition;

const MAX_ATTEMPTS = 8;

/**
 * Writers to one instance in this process take turns. Racing, they only collide and retry: 148
 * concurrent writes to one instance on PostgreSQL ended 124 times in ModelArts.6357 that way
 * (test/integration/concurrency.test.ts). Writers in other replicas are still guarded by the version.
 */
const turns = new WeakMap<Store, Map<string, Promise<unknown>>>();

/**
 * Applies `decide` to the current record until the write lands. `decide` returns null when there
 * is nothing to write (the result is then the current record) and may throw to refuse.
 * Resolves undefined when the notebook does not exist. `readAlready` is a record the caller just
 * read (e.g. a batch query): the first attempt decides on it, its version guarding the write, and
 * only a conflict costs a re-read.
 */
export async function mutateNotebook(
  store: Store,
  id: string,
  decide: (current: Notebook) => Change | null,
  readAlready?: Notebook,
): Promise<Notebook | undefined> {
  let queue = turns.get(store);
  if (!queue) turns.set(store, (queue = new Map()));
  const previous = queue.get(id);
  const mine = (previous ? previous.catch(() => {}) : Promise.resolve()).then(() => writeWithRetries(store, id, decide, readAlready));
  queue.set(id, mine);
  try {
    return await mine;
  } finally {
    if (queue.get(id) === mine) queue.delete(id);
  }
}

async function writeWithRetries(
  store: Store,
  id: string,
  decide: (current: Notebook) => Change | null,
  readAlready?: Notebook,
): Promise<Notebook | undefined> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = attempt === 0 && readAlready?.id === id ? readAlready : await store.notebooks.get(id);
    if (!current) return undefined;
    const change = decide(current);
    if (!change) return current;
    const from = current.status;
    const to = change.next.status;
    // The transition table is the only authority: a write that breaks it is a bug, never data.
    if (from !== to && !canTransition(from, to)) throw errors.internal(`Illegal status transition ${from} → ${to} for ${id}.`);
    try {
      return await store.notebooks.update({ ...change.next, version: current.version }, change.events);
    } catch (e) {
      if (!(e instanceof VersionConflict)) throw e;
    }
  }
  throw errors.conflict('The instance kept changing while the request was applied; retry.');
}
