// The webhook fan-out cursor never skips an event whose write has not committed yet: it stops
// before a gap in event ids until the gap has been open for the settle time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs } from '../../src/scheduler/webhook-dispatcher.ts';
import { settledCursor, type GapMemory } from '../../src/scheduler/webhook-cursor.ts';

const T = 1_000_000;
const SETTLE_MS = 10_000;

describe('settledCursor', () => {
  const cases: { name: string; cursor: number; ids: number[]; gaps?: [number, number][]; now: number; expected: number }[] = [
    { name: 'contiguous ids: to the last one', cursor: 4, ids: [5, 6, 7], now: T, expected: 7 },
    { name: 'nothing new: stays', cursor: 4, ids: [], now: T, expected: 4 },
    { name: 'a gap just seen: stops before it', cursor: 4, ids: [5, 7, 8], now: T, expected: 5 },
    { name: 'a gap seen less than the settle time ago: still stops', cursor: 5, ids: [7, 8], gaps: [[5, T]], now: T + SETTLE_MS - 1, expected: 5 },
    { name: 'a gap open for the settle time: passed (a rolled-back write)', cursor: 5, ids: [7, 8], gaps: [[5, T]], now: T + SETTLE_MS, expected: 8 },
    { name: 'ids at or below the cursor (re-read) are ignored', cursor: 6, ids: [5, 6, 7], now: T, expected: 7 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const gaps: GapMemory = new Map(c.gaps ?? []);
      assert.equal(settledCursor(c.cursor, c.ids, gaps, c.now, SETTLE_MS), c.expected);
    });
  }

  it('the late write fills the gap: the cursor moves on without waiting', () => {
    const gaps: GapMemory = new Map();
    assert.equal(settledCursor(4, [5, 7], gaps, T, SETTLE_MS), 5);
    assert.equal(gaps.get(5), T);
    assert.equal(settledCursor(5, [6, 7], gaps, T + 100, SETTLE_MS), 7);
    assert.equal(gaps.size, 0, 'the memory of a closed gap is dropped');
  });
});

describe('webhook backoff', () => {
  const settings = { initialBackoffMs: 2_000, maxBackoffMs: 60_000 };
  const cases: [number, number][] = [
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [5, 32_000],
    [6, 60_000],
    [30, 60_000],
  ];
  for (const [attempt, expected] of cases) it(`after attempt ${attempt}: ${expected} ms`, () => assert.equal(backoffMs(attempt, settings), expected));
});
