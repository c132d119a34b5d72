// Locks an AK for a while after repeated bad signatures, as APIG does (5 failures → 5 minutes,
// HW ocr_01_0063), so an SK cannot be probed online. In memory: a restart forgets, which is fine
// for throttling. Callers should record failures only for AKs that exist, so strangers cannot
// fill the table.

export interface SignatureLockoutOptions {
  maxFailures?: number;
  lockMs?: number;
  /** Upper bound on tracked AKs; the least recently failed are forgotten first. */
  maxKeys?: number;
}

export interface SignatureLockout {
  isLocked(accessKey: string, now: number): boolean;
  recordFailure(accessKey: string, now: number): void;
  recordSuccess(accessKey: string): void;
  /** Tracked AKs, for tests and metrics. */
  readonly size: number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
}

export function createSignatureLockout({
  maxFailures = 5,
  lockMs = 300_000,
  maxKeys = 10_000,
}: SignatureLockoutOptions = {}): SignatureLockout {
  // Map iteration order is insertion order; re-inserting on each failure makes it LRU.
  const entries = new Map<string, Entry>();

  const isLocked = (accessKey: string, now: number) => {
    const e = entries.get(accessKey);
    if (!e || e.lockedUntil === 0) return false;
    if (now < e.lockedUntil) return true;
    entries.delete(accessKey); // lock served; the count starts again from zero
    return false;
  };

  return {
    isLocked,
    recordFailure(accessKey, now) {
      // Failures while locked do not extend the lock: requests are rejected before verification then.
      if (isLocked(accessKey, now)) return;
      const e = entries.get(accessKey) ?? { failures: 0, lockedUntil: 0 };
      entries.delete(accessKey);
      e.failures += 1;
      if (e.failures >= maxFailures) {
        e.failures = 0;
        e.lockedUntil = now + lockMs;
      }
      entries.set(accessKey, e);
      while (entries.size > maxKeys) entries.delete(entries.keys().next().value as string);
    },
    recordSuccess(accessKey) {
      entries.delete(accessKey);
    },
    get size() {
      return entries.size;
    },
  };
}
