// What the console derives from a notebook: which operations and fields its status allows (from
// the same transition table the server enforces), its lease numbers, and readable event labels.
import { fieldRefusal, isTransitional, operationRefusal, type NotebookStatus, type UpdatableField, type UserOperation } from '../../../src/domain/lifecycle.ts';
import type { Notebook, NotebookEvent } from '../../../src/sdk/browser.ts';
import { formatDuration } from './format.ts';

export type { NotebookStatus, UpdatableField };

const status = (nb: Pick<Notebook, 'status'>) => nb.status as NotebookStatus;

/** Whether the server would accept `op` now (the server still has the last word). */
export const allows = (nb: Pick<Notebook, 'status'>, op: UserOperation) => operationRefusal(op, status(nb)) === null;

/** Why `field` cannot change now, or null when it can. */
export const fieldBlocked = (nb: Pick<Notebook, 'status'>, field: UpdatableField): string | null => fieldRefusal(field, status(nb))?.message ?? null;

export const transitional = (nb: Pick<Notebook, 'status'>) => isTransitional(status(nb));

export const FAILED_STATUSES = new Set(['CREATE_FAILED', 'START_FAILED', 'DELETE_FAILED', 'ERROR', 'FROZEN']);

export type Tone = 'ok' | 'busy' | 'idle' | 'bad' | 'gone';

export function statusTone(s: string): Tone {
  if (s === 'RUNNING') return 'ok';
  if (FAILED_STATUSES.has(s)) return 'bad';
  if (s === 'STOPPED') return 'idle';
  if (s === 'DELETED') return 'gone';
  return 'busy';
}

const STATUS_LABELS: Record<string, string> = {
  INIT: 'Initialising',
  CREATING: 'Creating',
  STARTING: 'Starting',
  RUNNING: 'Running',
  STOPPING: 'Stopping',
  STOPPED: 'Stopped',
  DELETING: 'Deleting',
  DELETED: 'Deleted',
  SNAPSHOTTING: 'Saving image',
  CREATE_FAILED: 'Create failed',
  START_FAILED: 'Start failed',
  DELETE_FAILED: 'Delete failed',
  ERROR: 'Error',
  FROZEN: 'Frozen',
};
export const statusLabel = (s: string) => STATUS_LABELS[s] ?? s;

const STOP_REASONS: Record<string, string> = {
  user: 'stopped by a user',
  lease_expired: 'the lease ran out',
  idle: 'idle for too long',
  admin: 'stopped by an administrator',
  runtime_lost: 'the instance process was lost',
  error: 'an error',
};
export const stopReasonLabel = (r: string | null | undefined) => (r ? (STOP_REASONS[r] ?? r) : null);

// ---- lease -------------------------------------------------------------------------------------

const HOUR = 3_600_000;

/**
 * The durations a prolong may ask for. The API's default policy is 1 h to 72 h; an operator may
 * set another (per flavor), which the server names in its ModelArts.6349 answer: the console
 * learns it from there (rangeFromError) and remembers it per flavor for this page load.
 */
export interface LeaseRange {
  minMs: number;
  maxMs: number;
  /** Learned from the server rather than assumed. */
  confirmed: boolean;
}

export const DEFAULT_RANGE: LeaseRange = { minMs: HOUR, maxMs: 72 * HOUR, confirmed: false };
const learned = new Map<string, LeaseRange>();

export const rangeFor = (flavor: string): LeaseRange => learned.get(flavor) ?? DEFAULT_RANGE;

/** "The value ranges from 3600000 to 259200000." → the range, remembered for the flavor. */
export function rangeFromError(flavor: string, message: string): LeaseRange | null {
  const m = /ranges from (\d+) to (\d+)/.exec(message);
  if (!m) return null;
  const range = { minMs: Number(m[1]), maxMs: Number(m[2]), confirmed: true };
  learned.set(flavor, range);
  return range;
}

const STEPS_MS = [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 72 * HOUR];

/** Durations offered for a lease within the range: round steps, plus the range's own ends. */
export function durationChoices(range: LeaseRange): number[] {
  const inside = STEPS_MS.filter((d) => d >= range.minMs && d <= range.maxMs);
  return [...new Set([range.minMs, ...inside, range.maxMs])].filter((d) => d > 0).sort((a, b) => a - b);
}

export const rangeText = (range: LeaseRange) => `${formatDuration(range.minMs)} – ${formatDuration(range.maxMs)}`;

export interface LeaseView {
  /** Auto-stop is off. */
  disabled: boolean;
  type: 'TIMING' | 'IDLE';
  stopAt: number | null;
  /** The duration the lease was last set to (from its last renewal or start). */
  lastDurationMs: number | null;
}

export function leaseView(nb: Notebook): LeaseView {
  const l = nb.lease;
  const stopAt = l.enable ? (l.stop_at ?? l.create_at + l.duration) : null;
  return {
    disabled: !l.enable,
    type: l.type === 'IDLE' ? 'IDLE' : 'TIMING',
    stopAt,
    lastDurationMs: stopAt !== null && l.update_at ? stopAt - l.update_at : null,
  };
}

// ---- events ------------------------------------------------------------------------------------

const EVENT_LABELS: Record<string, string> = {
  'notebook.created': 'Created',
  'notebook.starting': 'Starting',
  'notebook.relaunching': 'Starting again',
  'notebook.running': 'Running',
  'notebook.stopping': 'Stopping',
  'notebook.stopped': 'Stopped',
  'notebook.deleting': 'Deleting',
  'notebook.deleted': 'Deleted',
  'notebook.failed': 'Failed',
  'notebook.lost': 'Lost',
  'notebook.updated': 'Updated',
  'notebook.tagged': 'Tagged',
  'notebook.untagged': 'Untagged',
  'lease.renewed': 'Lease renewed',
  'lease.expiring': 'Stopping soon',
  'lease.expiring_cancelled': 'Warning withdrawn',
  'runtime.launched': 'Launched',
};
export const eventLabel = (type: string) => EVENT_LABELS[type] ?? type;

export function eventTone(e: NotebookEvent): Tone {
  if (e.type === 'lease.expiring') return 'busy';
  if (e.type === 'notebook.failed' || e.type === 'notebook.lost') return 'bad';
  if (e.type === 'notebook.running') return 'ok';
  if (e.type === 'notebook.stopped' || e.type === 'notebook.deleted') return 'idle';
  return 'gone';
}

/**
 * The lease.expiring warning that still holds: the newest one, if nothing after it (a renewal, a
 * withdrawal, a stop or start) made it obsolete and its stop time is still ahead.
 */
export function activeWarning(nb: Notebook, events: readonly NotebookEvent[], now: number): NotebookEvent | null {
  if (nb.status !== 'RUNNING') return null;
  const sorted = [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  let warning: NotebookEvent | null = null;
  for (const e of sorted) {
    if (e.type === 'lease.expiring') warning = e;
    else if (['lease.renewed', 'lease.expiring_cancelled', 'notebook.stopped', 'notebook.starting', 'notebook.running'].includes(e.type)) warning = null;
  }
  const stopAt = warning ? Number((warning.data as { stopAt?: number }).stopAt ?? 0) : 0;
  return warning && (stopAt === 0 || stopAt > now) ? warning : null;
}

/** Without events to go by (the list page): a running instance that stops within the warning lead. */
export const WARNING_LEAD_MS = 10 * 60_000;
