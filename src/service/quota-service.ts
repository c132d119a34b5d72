// Quotas: reading and setting limits (per project, a default per user, per user) and enforcing
// them for the notebook use cases. Checks and the write they guard run under a per-project lock,
// so two concurrent creates in one process cannot both take the last unit of a quota.
import { authorizeProjectAdmin, authorizeSystemAdmin, canSeeUser, checkProject } from '../auth/authorize.ts';
import type { Clock } from '../clock.ts';
import { errors } from '../domain/errors.ts';
import type { Caller } from '../domain/identity.ts';
import type { Notebook } from '../domain/notebook.ts';
import {
  anyLimit,
  demandOf,
  exceeded,
  flavorAllowed,
  holdsCompute,
  mergeLimits,
  QUOTA_RESOURCES,
  QUOTA_WIRE_NAMES,
  usageOf,
  ZERO_USAGE,
  type FlavorSize,
  type ProjectQuotaLimits,
  type QuotaLimits,
  type Usage,
  type UsageRow,
} from '../domain/quota.ts';
import { expectArray, expectObject, expectString } from '../domain/validation.ts';
import type { Store } from '../store/store.ts';

export interface QuotaDefaults {
  project: ProjectQuotaLimits;
  user: QuotaLimits;
}

export interface QuotaServiceDeps {
  store: Store;
  clock: Clock;
  defaults: QuotaDefaults;
  flavorOf: (id: string) => FlavorSize | undefined;
}

/** What the notebook use cases ask of quotas. */
export interface QuotaEnforcer {
  /** Runs `fn` with no other quota-checked write of the project in flight (in this process). */
  withProjectLock<T>(projectId: string, fn: () => Promise<T>): Promise<T>;
  /** 6328 when the project may not use the flavor. */
  checkFlavor(projectId: string, flavorId: string): Promise<void>;
  checkCreate(projectId: string, ownerId: string, flavorId: string, storageGb: number): Promise<void>;
  checkStart(nb: Notebook): Promise<void>;
  checkGrow(nb: Notebook, newSizeGb: number): Promise<void>;
}

export interface QuotaView {
  limits: QuotaLimits | ProjectQuotaLimits;
  usage: Usage;
}

const MAX_LIMIT = 1_000_000_000;

/** A promise chain per key: callers queue behind each other, nothing is held when idle. */
function createKeyedLock() {
  const tails = new Map<string, Promise<void>>();
  return async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/**
 * Parses a wire patch ({"instances": 10, "storage_gb": null, ...}): integers >= 0 set a limit,
 * null lifts it, absent keys stay as they are. `flavors` only for project limits.
 */
export function parseLimitsPatch(raw: unknown, field: string, withFlavors: boolean): Partial<ProjectQuotaLimits> {
  const body = expectObject(field, raw);
  const known = new Set<string>([...Object.values(QUOTA_WIRE_NAMES), ...(withFlavors ? ['flavors'] : [])]);
  for (const key of Object.keys(body)) {
    if (!known.has(key)) throw errors.incorrectValue(`${field}.${key}`, `Known limits: ${[...known].join(', ')}.`);
  }
  const patch: Partial<ProjectQuotaLimits> = {};
  for (const r of QUOTA_RESOURCES) {
    const wire = QUOTA_WIRE_NAMES[r];
    const v = body[wire];
    if (v === undefined) continue;
    if (v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v))) throw errors.wrongType(`${field}.${wire}`, 'integer');
    if (v !== null && (v < 0 || v > MAX_LIMIT)) throw errors.incorrectValue(`${field}.${wire}`, `A limit is between 0 and ${MAX_LIMIT}, or null for none.`);
    patch[r] = v;
  }
  if (withFlavors && body.flavors !== undefined) {
    patch.flavors = body.flavors === null ? null : [...new Set(expectArray(`${field}.flavors`, body.flavors).map((f, i) => expectString(`${field}.flavors[${i}]`, f)))];
  }
  return patch;
}

const pickLimits = (l: Partial<QuotaLimits>, base: QuotaLimits): QuotaLimits =>
  Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, l[r] === undefined ? base[r] : l[r]])) as unknown as QuotaLimits;

export function createQuotaService(deps: QuotaServiceDeps) {
  const { store, clock, defaults, flavorOf } = deps;
  const withProjectLock = createKeyedLock();

  async function projectLimits(projectId: string): Promise<ProjectQuotaLimits> {
    const row = await store.identity.getQuota(projectId, 'project');
    return row ? { ...pickLimits(row, defaults.project), flavors: row.flavors === undefined ? defaults.project.flavors : row.flavors } : defaults.project;
  }

  async function userDefaultLimits(projectId: string): Promise<QuotaLimits> {
    const row = await store.identity.getQuota(projectId, 'user-default');
    return row ? pickLimits(row, defaults.user) : defaults.user;
  }

  /** A user's own row, else the project's default for users, else the configured default. */
  async function userLimits(projectId: string, userId: string): Promise<{ limits: QuotaLimits; own: boolean }> {
    const row = await store.identity.getQuota(projectId, `user:${userId}`);
    const base = await userDefaultLimits(projectId);
    return row ? { limits: pickLimits(row, base), own: true } : { limits: base, own: false };
  }

  const usage = (rows: UsageRow[]) => usageOf(rows, flavorOf);
  const ownedBy = (rows: UsageRow[], userId: string) => rows.filter((r) => r.ownerId === userId);

  /** Throws 0113 naming the first exhausted resource, project limits first. */
  async function check(projectId: string, ownerId: string, demand: Usage, operation: string, exclude?: string): Promise<void> {
    const project = await projectLimits(projectId);
    const { limits: user } = await userLimits(projectId, ownerId);
    if (!anyLimit(project) && !anyLimit(user)) return;
    const rows = (await store.notebooks.usageRows(projectId)).filter((r) => r.id !== exclude);
    const overProject = exceeded(project, usage(rows), demand);
    if (overProject) throw errors.quotaExhausted(`${QUOTA_WIRE_NAMES[overProject]} of the project`, operation);
    const overUser = exceeded(user, usage(ownedBy(rows, ownerId)), demand);
    if (overUser) throw errors.quotaExhausted(`${QUOTA_WIRE_NAMES[overUser]} of the user`, operation);
  }

  const sizeOf = (flavorId: string): FlavorSize => flavorOf(flavorId) ?? { vcpus: 0, gpus: 0 };

  const enforcer: QuotaEnforcer = {
    withProjectLock: (projectId, fn) => withProjectLock(projectId, fn),

    async checkFlavor(projectId, flavorId) {
      if (!flavorAllowed(await projectLimits(projectId), flavorId)) throw errors.flavorNotPermitted(flavorId);
    },

    async checkCreate(projectId, ownerId, flavorId, storageGb) {
      await enforcer.checkFlavor(projectId, flavorId);
      await check(projectId, ownerId, demandOf(sizeOf(flavorId), storageGb, true), 'Create Notebook');
    },

    async checkStart(nb) {
      if (holdsCompute(nb.status)) return;
      // Storage is already counted; starting takes compute only.
      await check(nb.projectId, nb.owner.id, demandOf(sizeOf(nb.flavorId), 0, false), 'Start Notebook', nb.id);
    },

    async checkGrow(nb, newSizeGb) {
      const current = nb.volume.pendingCapacityGb ?? nb.volume.capacityGb;
      if (newSizeGb <= current) return;
      await check(nb.projectId, nb.owner.id, { ...ZERO_USAGE, storageGb: newSizeGb - current }, 'Update Notebook');
    },
  };

  /** The project's limits and usage, the default for its users, and the caller's own. */
  async function show(caller: Caller, projectId: string) {
    checkProject(caller, projectId);
    if (!(await store.identity.getProject(projectId))) throw errors.identityNotFound('project', projectId);
    const rows = await store.notebooks.usageRows(projectId);
    const mine = await userLimits(projectId, caller.user.id);
    return {
      project: { limits: await projectLimits(projectId), usage: usage(rows) },
      userDefault: { limits: await userDefaultLimits(projectId) },
      user: { userId: caller.user.id, limits: mine.limits, usage: usage(ownedBy(rows, caller.user.id)), own: mine.own },
    };
  }

  async function showUser(caller: Caller, projectId: string, userId: string) {
    checkProject(caller, projectId);
    const user = await store.identity.getUser(userId);
    if (!user || user.projectId !== projectId || !canSeeUser(caller, user)) throw errors.identityNotFound('user', userId);
    const rows = ownedBy(await store.notebooks.usageRows(projectId), userId);
    const { limits, own } = await userLimits(projectId, userId);
    return { userId, limits, usage: usage(rows), own };
  }

  return {
    ...enforcer,
    show,
    showUser,

    /** Sets project limits and/or the default for its users (system administrators). */
    async setProject(caller: Caller, projectId: string, patch: { project?: Partial<ProjectQuotaLimits>; userDefault?: Partial<QuotaLimits> }) {
      authorizeSystemAdmin(caller, 'UpdateProjectQuota');
      if (!(await store.identity.getProject(projectId))) throw errors.identityNotFound('project', projectId);
      const now = clock.now();
      if (patch.project) {
        for (const f of patch.project.flavors ?? []) if (!flavorOf(f)) throw errors.flavorUnsupported(f);
        await store.identity.putQuota(projectId, 'project', mergeLimits(await projectLimits(projectId), patch.project), now);
      }
      if (patch.userDefault) {
        await store.identity.putQuota(projectId, 'user-default', mergeLimits(await userDefaultLimits(projectId), patch.userDefault), now);
      }
      return show(caller, projectId);
    },

    /** Sets one user's limits (project admins and system administrators). */
    async setUser(caller: Caller, projectId: string, userId: string, patch: Partial<QuotaLimits>) {
      authorizeProjectAdmin(caller, projectId, 'UpdateUserQuota');
      const user = await store.identity.getUser(userId);
      if (!user || user.projectId !== projectId) throw errors.identityNotFound('user', userId);
      const { limits } = await userLimits(projectId, userId);
      await store.identity.putQuota(projectId, `user:${userId}`, mergeLimits(limits, patch), clock.now());
      return showUser(caller, projectId, userId);
    },

    /** Drops a user's own limits: the project's default for users applies again. */
    async clearUser(caller: Caller, projectId: string, userId: string) {
      authorizeProjectAdmin(caller, projectId, 'DeleteUserQuota');
      const user = await store.identity.getUser(userId);
      if (!user || user.projectId !== projectId) throw errors.identityNotFound('user', userId);
      await store.identity.deleteQuota(projectId, `user:${userId}`);
    },
  };
}

export type QuotaService = ReturnType<typeof createQuotaService>;
