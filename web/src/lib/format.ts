// Durations and times as people read them. Durations in the UI are whole units ("1 h 5 min",
// "4 min 09 s"); clock times are local, with the date when it is not today.

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A countdown: "2 d 3 h", "1 h 59 min", "4 min 09 s", "42 s". */
export function formatRemaining(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, '0')} s`;
  return `${sec} s`;
}

/** A configured duration: "1 h", "90 min", "2 d", "30 s". */
export function formatDuration(ms: number): string {
  if (ms >= DAY && ms % DAY === 0) return `${ms / DAY} d`;
  if (ms >= HOUR && ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms >= MINUTE && ms % MINUTE === 0) return `${ms / MINUTE} min`;
  if (ms >= HOUR) return `${(ms / HOUR).toFixed(1)} h`;
  return `${Math.round(ms / 1000)} s`;
}

const sameDay = (a: Date, b: Date) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/** "14:32" today, "3 Mar, 14:32" otherwise. */
export function formatClock(at: number, now: number): string {
  const d = new Date(at);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (sameDay(d, new Date(now))) return time;
  return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}, ${time}`;
}

export function formatDateTime(at: number): string {
  return new Date(at).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "just now", "5 min ago", "3 h ago", or the date. */
export function formatAgo(at: number, now: number): string {
  const ms = now - at;
  if (ms < 45_000) return 'just now';
  if (ms < HOUR) return `${Math.round(ms / MINUTE)} min ago`;
  if (ms < DAY) return `${Math.round(ms / HOUR)} h ago`;
  return formatDateTime(at);
}

export const formatGb = (gb: number) => `${gb} GB`;

/** Memory on the flavor wire is KB. */
export const formatMemoryKb = (kb: number) => `${Math.round(kb / 1024 / 1024)} GB`;
