// Lease arithmetic (DESIGN §3, reference §6.1). Pure: every function takes `now` in epoch ms.
//
// The stored duration is counted from the lease's fixed createAt, so the predicted stop time is
// always createAt + durationMs, for TIMING and IDLE alike, and GET /lease tells the truth.
import { errors } from './errors.ts';
import { notebookEvent, type Transition } from './intents.ts';
import type { Lease, LeaseType, Notebook } from './notebook.ts';

export const HOUR_MS = 3_600_000;

export interface LeasePolicy {
  /** Bounds for one request's duration (API default 1 h .. 72 h). */
  minMs: number;
  maxMs: number;
  defaultMs: number;
  /** Whether duration=-1 (no auto-stop) is allowed. */
  allowDisable: boolean;
  /** How long before a stop the lease.expiring warning is issued (0: never). */
  warningLeadMs: number;
  /**
   * Hard cap on one run: from reaching RUNNING, an instance runs at most this long however often
   * it is prolonged (a new start begins a new run). null: no cap. A cap forbids disabling auto-stop.
   */
  maxRunningMs: number | null;
}

export const DEFAULT_LEASE_POLICY: LeasePolicy = Object.freeze({
  minMs: HOUR_MS,
  maxMs: 72 * HOUR_MS,
  defaultMs: HOUR_MS,
  allowDisable: true,
  warningLeadMs: 10 * 60_000,
  maxRunningMs: null,
});

/** The operator's policy for one flavor: the base policy with that flavor's overrides. */
export function policyForFlavor(base: LeasePolicy, perFlavor: Readonly<Record<string, Partial<LeasePolicy>>> | undefined, flavorId: string): LeasePolicy {
  const over = perFlavor?.[flavorId];
  return over ? { ...base, ...over } : base;
}

/** What is wrong with a policy, or null: the config loader refuses a policy that cannot be met. */
export function policyProblem(p: LeasePolicy): string | null {
  if (!(p.minMs <= p.defaultMs && p.defaultMs <= p.maxMs)) return 'must satisfy minMs <= defaultMs <= maxMs';
  if (p.maxRunningMs !== null && p.maxRunningMs < p.minMs) return 'maxRunningMs must be at least minMs';
  return null;
}

const disableAllowed = (p: LeasePolicy) => p.allowDisable && p.maxRunningMs === null;
/** The longest duration one request may ask for. */
const longestMs = (p: LeasePolicy) => Math.min(p.maxMs, p.maxRunningMs ?? Infinity);

/** "2 h", "90 min", "45 s": durations in messages people read. */
export function humanMs(ms: number): string {
  if (ms >= HOUR_MS && ms % HOUR_MS === 0) return `${ms / HOUR_MS} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

const iso = (at: number) => new Date(at).toISOString();

/** A lease request as it arrives: a duration in ms (-1 = no auto-stop) and a type. */
export interface LeaseRequest {
  durationMs?: number;
  type?: LeaseType;
}

/** Validates a requested duration against policy; -1 asks to disable auto-stop. */
export function checkDuration(durationMs: number, policy: LeasePolicy, allowDisableHere: boolean): void {
  const maxMs = longestMs(policy);
  if (durationMs === -1) {
    if (allowDisableHere && disableAllowed(policy)) return;
    const why = !allowDisableHere
      ? 'Disabling auto-stop (-1) is not allowed here.'
      : policy.maxRunningMs !== null
        ? `Auto-stop cannot be disabled (-1): an instance of this flavor runs at most ${humanMs(policy.maxRunningMs)} per start.`
        : 'Auto-stop cannot be disabled (-1) for this flavor.';
    throw errors.durationRange(policy.minMs, maxMs, why);
  }
  if (!Number.isSafeInteger(durationMs) || durationMs < policy.minMs || durationMs > maxMs) {
    const why = policy.maxRunningMs !== null && policy.maxRunningMs < policy.maxMs ? `An instance of this flavor runs at most ${humanMs(policy.maxRunningMs)} per start.` : '';
    throw errors.durationRange(policy.minMs, maxMs, why);
  }
}

/**
 * RenewLease under a hard cap: a TIMING deadline may not pass the end of the run. (An IDLE
 * timeout may be longer than what is left: the stop time is clamped to the cap instead.)
 */
export function checkProlong(lease: Lease, now: number, durationMs: number, type: LeaseType, policy: LeasePolicy): void {
  const capAt = lease.capAt ?? null;
  if (capAt === null || type !== 'TIMING' || now + durationMs <= capAt) return;
  const leftMs = Math.max(0, capAt - now);
  const detail =
    leftMs < policy.minMs
      ? `This run has reached its maximum running time (${humanMs(lease.maxRunningMs ?? 0)}) and stops at ${iso(capAt)}; stop and start the instance to begin a new run.`
      : `This run may last at most ${humanMs(lease.maxRunningMs ?? 0)} and ends at ${iso(capAt)}.`;
  throw errors.durationRange(policy.minMs, leftMs, detail);
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
    warningLeadMs: policy.warningLeadMs,
    maxRunningMs: policy.maxRunningMs,
    capAt: null,
  };
}

/** Sets the stop time to `stopAt` (never past the run's cap) by moving durationMs, the only stored quantity. */
const stopAtBecomes = (lease: Lease, stopAt: number, now: number): Lease => ({
  ...lease,
  durationMs: Math.min(stopAt, lease.capAt ?? Infinity) - lease.createAt,
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
 * counted from now, and a new run begins (its cap, if any, counts from now). A start request may
 * replace the duration and type (or disable auto-stop); a start also passes the flavor's current
 * policy, whose terms (warning lead, cap) the lease keeps for the run.
 */
export function reanchor(lease: Lease, now: number, req?: LeaseRequest, policy?: LeasePolicy): Lease {
  let next = lease;
  if (policy) {
    next = { ...next, warningLeadMs: policy.warningLeadMs, maxRunningMs: policy.maxRunningMs };
    // Auto-stop stays off only where the policy still allows it.
    if (!next.enable && !disableAllowed(policy)) next = { ...next, enable: true };
  }
  if (req?.durationMs === -1) next = { ...next, enable: false };
  else if (req?.durationMs !== undefined || req?.type !== undefined) {
    next = { ...next, enable: true, requestedMs: req.durationMs ?? next.requestedMs, type: req.type ?? next.type };
  }
  const maxRunningMs = next.maxRunningMs ?? null;
  next = { ...next, capAt: maxRunningMs === null ? null : now + maxRunningMs };
  return stopAtBecomes(next, now + next.requestedMs, now);
}

/** IDLE: activity moves the stop time to activityAt + timeout, never earlier. TIMING: recorded only. */
export function recordActivity(lease: Lease, activityAt: number, source: string): Lease {
  if (lease.lastActivityAt !== null && activityAt <= lease.lastActivityAt) return lease;
  const noted = { ...lease, lastActivityAt: activityAt, lastActivitySource: source };
  if (lease.type !== 'IDLE' || !lease.enable) return noted;
  const candidate = Math.min(activityAt + lease.requestedMs, lease.capAt ?? Infinity);
  const current = lease.createAt + lease.durationMs;
  return candidate > current ? { ...noted, durationMs: candidate - lease.createAt, warnedFor: null } : noted;
}

export const leaseStopAt = (lease: Lease): number | null => (lease.enable ? lease.createAt + lease.durationMs : null);

/**
 * When the lease.expiring warning for the current deadline is due, or null: never issued twice for
 * one deadline, and only for leases longer than the lead (a 5-minute lease needs no 10-minute warning).
 */
export function warnAt(lease: Lease): number | null {
  const stopAt = leaseStopAt(lease);
  const leadMs = lease.warningLeadMs ?? 0;
  if (stopAt === null || leadMs <= 0 || leadMs >= lease.requestedMs || lease.warnedFor === stopAt) return null;
  return stopAt - leadMs;
}

/** The time at which the lease executor must act on this instance (warn or stop), or null: the indexed column. */
export function dueAt(nb: Pick<Notebook, 'status' | 'lease'>): number | null {
  if (nb.status !== 'RUNNING') return null;
  return warnAt(nb.lease) ?? leaseStopAt(nb.lease);
}

export const remainingMs = (lease: Lease, now: number): number | null => {
  const stopAt = leaseStopAt(lease);
  return stopAt === null ? null : Math.max(0, stopAt - now);
};

/** A warning was issued for the old deadline and the change moved it: the warning no longer holds. */
export const warningWithdrawn = (before: Lease, after: Lease): boolean =>
  before.warnedFor !== null && before.warnedFor === leaseStopAt(before) && leaseStopAt(after) !== before.warnedFor;

export type LeaseAction =
  | { kind: 'stop'; reason: 'lease_expired' | 'idle'; stopAt: number; capped: boolean }
  | { kind: 'warn'; stopAt: number; warnAt: number };

/** What the lease executor must do for this instance at `now`: a pure function of the record. */
export function leaseAction(nb: Pick<Notebook, 'status' | 'lease'>, now: number): LeaseAction | null {
  if (nb.status !== 'RUNNING') return null;
  const stopAt = leaseStopAt(nb.lease);
  if (stopAt === null) return null;
  if (stopAt <= now) {
    const capped = nb.lease.capAt !== null && nb.lease.capAt !== undefined && stopAt >= nb.lease.capAt;
    return { kind: 'stop', reason: nb.lease.type === 'IDLE' && !capped ? 'idle' : 'lease_expired', stopAt, capped };
  }
  const at = warnAt(nb.lease);
  return at !== null && at <= now ? { kind: 'warn', stopAt, warnAt: at } : null;
}

/** The expiry warning: recorded once per deadline (warnedFor), with the deadline and how to keep the instance. */
export function warnExpiry(nb: Notebook, now: number, stopAt: number): Transition {
  const idle = nb.lease.type === 'IDLE';
  const capped = nb.lease.capAt !== null && nb.lease.capAt !== undefined && stopAt >= nb.lease.capAt;
  const why = capped ? 'it reaches its maximum running time' : idle ? 'it has been idle for too long' : 'its lease runs out';
  const keep = capped ? 'Save your work: this run cannot be prolonged further.' : idle ? 'Any activity or a lease renewal keeps it running.' : 'Renew the lease to keep it running.';
  return {
    next: { ...nb, lease: { ...nb.lease, warnedFor: stopAt } },
    events: [
      notebookEvent(nb.id, now, 'lease.expiring', `The instance stops at ${iso(stopAt)} (in ${humanMs(stopAt - now)}) because ${why}. ${keep}`, {
        stopAt,
        reason: idle && !capped ? 'idle' : 'lease_expired',
        type: nb.lease.type,
        capped,
      }),
    ],
  };
}

/** The event that withdraws an issued warning once the deadline moved (renewal or IDLE activity). */
export const warningWithdrawnEvent = (nb: Notebook, now: number, after: Lease, cause: string) =>
  notebookEvent(nb.id, now, 'lease.expiring_cancelled', `The expiry warning is withdrawn (${cause}); the instance now stops at ${iso(leaseStopAt(after) ?? 0)}.`, {
    stopAt: leaseStopAt(after),
    previousStopAt: nb.lease.warnedFor,
    cause,
  });
