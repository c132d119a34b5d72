// A clock that moves only when a test says so. Sleepers wake in deadline order as time advances.
import type { Clock } from '../../src/clock.ts';

interface Sleeper {
  wakeAt: number;
  resolve: () => void;
}

export class FakeClock implements Clock {
  private sleepers: Sleeper[] = [];
  constructor(private current = Date.UTC(2026, 10, 22, 9, 0, 0)) {}

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const sleeper: Sleeper = { wakeAt: this.current + Math.max(0, ms), resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener('abort', () => this.wake(sleeper), { once: true });
    });
  }

  /** Moves time forward and wakes every sleeper that is due, letting each run before the next. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.sleepers.filter((s) => s.wakeAt <= target).sort((a, b) => a.wakeAt - b.wakeAt)[0];
      if (!due) break;
      this.current = Math.max(this.current, due.wakeAt);
      this.wake(due);
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  get pendingSleepers(): number {
    return this.sleepers.length;
  }

  private wake(sleeper: Sleeper): void {
    this.sleepers = this.sleepers.filter((s) => s !== sleeper);
    sleeper.resolve();
  }
}

/**
 * Lets already-scheduled promise continuations and I/O callbacks run. A few turns of the event
 * loop: a store write lands one turn after it is made (writers queued together share one SQLite
 * commit, src/store/mutate.ts and src/store/sql/sqlite-driver.ts), and what follows it one more.
 */
export const flushMicrotasks = async (): Promise<void> => {
  for (let turn = 0; turn < 4; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
};
