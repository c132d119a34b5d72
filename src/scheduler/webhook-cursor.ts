// How far the webhook fan-out cursor may move. Event ids are allocated when a write starts, not
// when it commits, so on PostgreSQL a write with a lower id can become visible after a higher one:
// moving the cursor past a gap would skip it forever. The cursor stops before a gap until the gap
// has stayed open for settleMs (then it was a rolled-back write, and it is passed).

/** First time each gap (by the id just below it) was seen. */
export type GapMemory = Map<number, number>;

/** The new cursor, given the ids read after `cursor` (ascending). Pure apart from `gaps`. */
export function settledCursor(cursor: number, ids: readonly number[], gaps: GapMemory, now: number, settleMs: number): number {
  let to = cursor;
  for (const id of ids) {
    if (id <= to) continue;
    if (id === to + 1) {
      to = id;
      continue;
    }
    const since = gaps.get(to) ?? now;
    gaps.set(to, since);
    if (now - since < settleMs) break;
    to = id; // waited long enough: nothing is coming
  }
  for (const below of gaps.keys()) if (below < to) gaps.delete(below);
  return to;
}
