// An in-process cache of notebook records for NotebookStore.get, for a store that only this
// process writes to, save for writers it can detect (SQLite: one file, data_version). get() is
// the hottest read (every ShowNotebook, every write's first read, every reconcile step) and was
// 12 % of ShowNotebook's CPU as a SQLite read (bench/api).
//
// Never stale past the moment a write is acknowledged:
//  - insert/update resolve after their COMMIT; the committed record replaces the cached one
//    before the writer's caller hears of it;
//  - a record read from the database replaces a cached one only if its version is newer, so a read
//    that raced with a commit cannot put the older state back (versions only grow: compare-and-set);
//  - a commit by another process (`notebookd admin`, a second notebookd on the same file) changes
//    `externalWrites`, and the whole cache is dropped at the next get.
// Records are frozen: every caller shares them, and a caller that mutated one would change what
// the next one reads (domain code builds new records; a mutation throws in strict mode).
import type { Notebook } from '../../domain/notebook.ts';
import type { NotebookStore } from '../store.ts';

export interface RecordCacheOptions {
  /** Store.externalWrites: changes when another process committed. */
  externalWrites: () => number;
  /** Past this many records the older half is dropped (~5 KB each). */
  maxEntries?: number;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function createRecordCache(opts: RecordCacheOptions) {
  const maxEntries = opts.maxEntries ?? 4096;
  const records = new Map<string, Notebook>();
  let seenWrites = opts.externalWrites();

  const current = () => {
    const writes = opts.externalWrites();
    if (writes !== seenWrites) {
      seenWrites = writes;
      records.clear();
    }
    return records;
  };

  /** Caches `nb` unless a newer version of it is cached already. */
  const keep = (nb: Notebook): Notebook => {
    const cached = records.get(nb.id);
    if (cached && cached.version >= nb.version) return nb;
    if (!cached && records.size >= maxEntries) {
      // Insertion order: the first keys are the oldest.
      for (const k of records.keys()) {
        records.delete(k);
        if (records.size < maxEntries / 2) break;
      }
    }
    records.set(nb.id, nb);
    return nb;
  };

  return {
    /**
     * For the store's reads of many rows (lists, due and active instances): the record of a row
     * the cache holds at that version, else the row parsed (and kept). Lists then hand out the
     * same frozen objects as get(), and what is presented per record is presented once.
     */
    read(id: string, version: number, parse: () => Notebook): Notebook {
      const cached = current().get(id);
      return cached?.version === version ? cached : keep(deepFreeze(parse()));
    },

    /** `inner`, with get() served from the cache and every write's result kept. */
    wrap(inner: NotebookStore): NotebookStore {
      return {
        ...inner,

        async get(id) {
          const cached = current().get(id);
          if (cached) return cached;
          const read = await inner.get(id);
          return read && keep(deepFreeze(read));
        },

        async insert(nb, events) {
          return keep(deepFreeze(await inner.insert(nb, events)));
        },

        async update(next, events, steps, base) {
          return keep(deepFreeze(await inner.update(next, events, steps, base)));
        },
      };
    },
  };
}

export type RecordCache = ReturnType<typeof createRecordCache>;
