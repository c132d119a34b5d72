// Lease arithmetic (DESIGN §3, reference §6.1). Pure: every function takes `now` in epoch ms.
//
// The stored duration is counted from the lease's fixed createAt, so the predicted stop time is
// always createAt + durationMs, for TIMING and IDLE alike, and GET /lease tells the truth.
import { errors } from './errors.ts';
import type { Lease, LeaseType, Notebook } from './notebook.ts';

export const HOUR_MS = 3_600_000;

export interface LeasePolicy {
  /** Bounds for one request's duration (API default 1 h .. 72 h). */
  minMs: number;
  maxMs: number;
  defaultMs: number;
  /** Whether duration=-1 (no auto-stop) is allowed. */
  allowDisable: boolean;
  /** How long before a stop the lease.expiring warning is issued. */
  warningLeadMs: number;
}

export const DEFAULT_LEASE_POLICY: LeasePolicy = Object.freeze({
  minMs: HOUR_MS,
  maxMs: 72 * HOUR_MS,
  defaultMs: HOUR_MS,
  allowDisable: true,
  warningLeadMs: 10 * 60_000,
});

/** A lease request as it arrives: a duration in ms (-1 = no auto-stop) and a type. */
export interface LeaseRequest {
  durationMs?: number;
  type?: LeaseType;
}

/** Validates a requested duration against policy; -1 asks to disable auto-stop. */
export function checkDuration(durationMs: number, policy: LeasePolicy, allowDisableHere: boolean): void {
  if (durationMs === -1) {
    if (allowDisableHere && policy.allowDisable) return;
    throw errors.durationRange(policy.minMs, policy.maxMs, 'Disabling auto-stop (-1) is not allowed here.');
  }
  if (!Number.isSafeInteger(durationMs) || durationMs < policy.minMs || durationMs > policy.maxMs) {
    throw errors.durationRange(policy.minMs, policy.maxMs);
  }
}

export function newLease(now: number, req: LeaseRequest, policy: LeasePolicy): Lease {
  const requested = req.durationMs ?? policy.defaultMs;
  const disabled = requested === -1;
  const requestedMs = disabled ? policy.defaultMs : requested;
  return {
    createAt: now,
    durationMs: requestedMs,
    requestedMs,
    type: req.type ?? 'TIMING',
    enable: !disabled,
    updateAt: now,
    lastActivityAt: null,
    lastActivitySource: null,
    warnedFor: null,
  };
}

/** Sets the stop time to `stopAt` by moving durationMs, the only stored quantity. */
const stopAtBecomes = (lease: Lease, stopAt: number, now: number): Lease => ({
  ...lease,
  durationMs: stopAt - lease.createAt,
  updateAt: now,
  warnedFor: null,
});

/**
 * RenewLease: TIMING resets the deadline to now + D (it does not add to the old deadline);
 * IDLE takes D as the new idle timeout, counted from now.
 */
export function prolong(lease: Lease, now: number, durationMs: number, type: LeaseType): Lease {
  return stopAtBecomes({ ...lease, type, requestedMs: durationMs, enable: true }, now + durationMs, now);
}

/**
 * Re-anchors the lease when an instance reaches RUNNING or is started: the running time is
 * counted from now. A start request may replace the duration and type (or disable auto-stop).
 */
export function reanchor(lease: Lease, now: number, req?: LeaseRequest): Lease {
  let next = lease;
  if (req?.durationMs === -1) next = { ...next, enable: false };
  else if (req?.durationMs !== undefined || req?.type !== undefined) {
    next = { ...next, enable: true, requestedMs: req.durationMs ?? next.requestedMs, type: req.type ?? next.type };
  }
  return stopAtBecomes(next, now + next.requestedMs, now);
}

/** IDLE: activity moves the stop time to activityAt + timeout, never earlier. TIMING: recorded only. */
export function recordActivity(lease: Lease, activityAt: number, source: string): Lease {
  if (lease.lastActivityAt !== null && activityAt <= lease.lastActivityAt) return lease;
  const noted = { ...lease, lastActivityAt: activityAt, lastActivitySource: source };
  if (lease.type !== 'IDLE' || !lease.enable) return noted;
  const candidate = activityAt + lease.requestedMs;
  const current = lease.createAt + lease.durationMs;
  return candidate > current ? { ...noted, durationMs: candidate - lease.createAt, warnedFor: null } : noted;
}

export const leaseStopAt = (lease: Lease): number | null => (lease.enable ? lease.createAt + lease.durationMs : null);

/** The time at which the lease executor must act on this instance, or null: the indexed column. */
export function dueAt(nb: Pick<Notebook, 'status' | 'lease'>): number | null {
  return nb.status === 'RUNNING' ? leaseStopAt(nb.lease) : null;
}

export const remainingMs = (lease: Lease, now: number): number | null => {
  const stopAt = leaseStopAt(lease);
  return stopAt === null ? null : Math.max(0, stopAt - now);
};
