// Quotas: what a project and each of its users may hold. Pure: usage is summed from light
// instance rows, and a request is checked against limits before anything is written.
import type { NotebookStatus } from './lifecycle.ts';

/** A limit per resource; null means unlimited. */
export interface QuotaLimits {
  instances: number | null;
  runningInstances: number | null;
  vcpus: number | null;
  gpus: number | null;
  storageGb: number | null;
}

/** Project limits also name the flavors the project may use (null: every flavor of the catalog). */
export interface ProjectQuotaLimits extends QuotaLimits {
  flavors: string[] | null;
}

export type QuotaResource = keyof QuotaLimits;
export const QUOTA_RESOURCES: readonly QuotaResource[] = ['instances', 'runningInstances', 'vcpus', 'gpus', 'storageGb'];

/** Wire names (snake_case), also used in the quota error message. */
export const QUOTA_WIRE_NAMES: Record<QuotaResource, string> = {
  instances: 'instances',
  runningInstances: 'running_instances',
  vcpus: 'vcpus',
  gpus: 'gpus',
  storageGb: 'storage_gb',
};

export type Usage = Record<QuotaResource, number>;

export const UNLIMITED: QuotaLimits = { instances: null, runningInstances: null, vcpus: null, gpus: null, storageGb: null };
export const ZERO_USAGE: Usage = { instances: 0, runningInstances: 0, vcpus: 0, gpus: 0, storageGb: 0 };

/** What the quota checks need to know about one live (not DELETED) instance. */
export interface UsageRow {
  id: string;
  ownerId: string;
  status: NotebookStatus;
  flavorId: string;
  /** Current capacity, or the pending one while a grow is under way. */
  storageGb: number;
}

export interface FlavorSize {
  vcpus: number;
  gpus: number;
}

// Instances that hold (or are about to hold) compute. Stopping and deleting ones are on their way
// out, so a user who stops one instance may start another at once.
const HOLDS_COMPUTE: ReadonlySet<NotebookStatus> = new Set(['INIT', 'CREATING', 'STARTING', 'RUNNING', 'SNAPSHOTTING']);

export const holdsCompute = (status: NotebookStatus): boolean => HOLDS_COMPUTE.has(status);

/** What one instance of `flavor` with `storageGb` adds when it is created, or started (storage 0). */
export function demandOf(flavor: FlavorSize, storageGb: number, creating: boolean): Usage {
  return { instances: creating ? 1 : 0, runningInstances: 1, vcpus: flavor.vcpus, gpus: flavor.gpus, storageGb };
}

export function usageOf(rows: readonly UsageRow[], flavorOf: (id: string) => FlavorSize | undefined): Usage {
  const u = { ...ZERO_USAGE };
  for (const row of rows) {
    if (row.status === 'DELETED') continue;
    u.instances += 1;
    u.storageGb += row.storageGb;
    if (holdsCompute(row.status)) {
      const f = flavorOf(row.flavorId);
      u.runningInstances += 1;
      u.vcpus += f?.vcpus ?? 0;
      u.gpus += f?.gpus ?? 0;
    }
  }
  return u;
}

/** The first resource that `demand` would take over its limit, or null when everything fits. */
export function exceeded(limits: QuotaLimits, usage: Usage, demand: Usage): QuotaResource | null {
  for (const r of QUOTA_RESOURCES) {
    const limit = limits[r];
    if (limit === null || demand[r] <= 0) continue;
    // Fractional vCPUs add up in floating point; round so 0.1 + 0.2 never trips a limit of 0.3.
    if (Math.round((usage[r] + demand[r]) * 1000) > Math.round(limit * 1000)) return r;
  }
  return null;
}

/** Any limit set at all: when none is, usage need not be read. */
export const anyLimit = (limits: QuotaLimits): boolean => QUOTA_RESOURCES.some((r) => limits[r] !== null);

export const flavorAllowed = (limits: ProjectQuotaLimits, flavorId: string): boolean =>
  limits.flavors === null || limits.flavors.includes(flavorId);

/** `patch` over `base`: absent keys keep the base value, null lifts the limit. */
export function mergeLimits<T extends QuotaLimits>(base: T, patch: Partial<T>): T {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch) as [keyof T, T[keyof T]][]) if (v !== undefined) out[k] = v;
  return out;
}
