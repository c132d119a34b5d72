// A short-lived in-memory cache of authenticated callers, keyed by the token's hash, so that the
// hot path does not query the store twice on every request (bench/api measured those two queries
// as the largest part of ShowNotebook).
//
// Revocation is honoured:
//  - every identity write made through this process (revoking tokens, deleting or changing users,
//    projects or access keys) clears the cache before it returns (watch());
//  - a lookup that raced with such a write is not cached (the generation check in set());
//  - on SQLite, a commit by another process (`notebookd admin ...` on the same file) clears it at
//    the next lookup (Store.externalWrites, SQLite's data_version: no query);
//  - an entry lives at most ttlMs and never past its token's expiry, which bounds how long a
//    revocation made by another replica (several notebookd sharing PostgreSQL) takes to be seen.
import type { IdentityStore } from '../store/store.ts';

export interface CredentialCacheOptions {
  /** How long an entry may be served without the store; 0 disables the cache. */
  ttlMs: number;
  /** Past this many entries the oldest are dropped. */
  maxEntries: number;
  now: () => number;
  /** Store.externalWrites: when it changes, another process wrote (maybe a revocation): start over. */
  externalWrites?: () => number;
}

interface Entry {
  value: unknown;
  until: number;
}

/** Identity writes that can make a cached caller wrong (a revoked token, a changed role...). */
const INVALIDATING = /^(revoke|delete|update)/;

export function createCredentialCache(opts: CredentialCacheOptions) {
  const entries = new Map<string, Entry>();
  let generation = 0;
  let seenWrites = opts.externalWrites?.();

  const clear = () => {
    generation++;
    entries.clear();
  };

  return {
    /** The generation to pass to set(): take it before reading the store. */
    generation: () => generation,

    get<T>(key: string): T | undefined {
      if (opts.externalWrites && entries.size > 0) {
        const writes = opts.externalWrites();
        if (writes !== seenWrites) {
          seenWrites = writes;
          clear();
          return undefined;
        }
      }
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.until <= opts.now()) {
        entries.delete(key);
        return undefined;
      }
      return e.value as T;
    },

    /** Caches `value` until min(now + ttl, expiresAt), unless an identity write happened since `readAt`. */
    set(key: string, value: unknown, expiresAt: number, readAt: number): void {
      if (opts.ttlMs <= 0 || readAt !== generation) return;
      if (entries.size >= opts.maxEntries) {
        // Insertion order: the first keys are the oldest.
        for (const k of entries.keys()) {
          entries.delete(k);
          if (entries.size < opts.maxEntries / 2) break;
        }
      }
      entries.set(key, { value, until: Math.min(opts.now() + opts.ttlMs, expiresAt) });
    },

    clear,

    /**
     * Wraps the identity store's invalidating methods in place, so that every writer (the identity
     * service, the admin CLI, tests) clears the cache without knowing about it.
     */
    watch(identity: IdentityStore): void {
      const target = identity as unknown as Record<string, unknown>;
      for (const name of Object.keys(target)) {
        const method = target[name];
        if (typeof method !== 'function' || !INVALIDATING.test(name)) continue;
        target[name] = async (...args: unknown[]) => {
          clear();
          try {
            return await (method as (...a: unknown[]) => Promise<unknown>).apply(identity, args);
          } finally {
            clear(); // a lookup that started before the write finished must not be cached
          }
        };
      }
    },

    size: () => entries.size,
  };
}

export type CredentialCache = ReturnType<typeof createCredentialCache>;
