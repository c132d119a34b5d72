// Notebook use cases: authorize, validate, write intent in one transaction, nudge the
// reconciler. Nothing here talks to a runtime; the reconciler converges what is written.
import { randomUUID } from 'node:crypto';
import type { RuntimeLogs } from '../runtime/runtime.ts';
import type { Clock } from '../clock.ts';
import { authorizeNotebook, authorizeProjectWrite, checkProject, seesWholeProject } from '../auth/authorize.ts';
import type { Flavor } from '../domain/catalog.ts';
import { errors } from '../domain/errors.ts';
import { notebookEvent, requestStop } from '../domain/intents.ts';
import type { Caller } from '../domain/identity.ts';
import { checkDuration, checkProlong, newLease, prolong, reanchor, warningWithdrawn, warningWithdrawnEvent, type LeasePolicy, type LeaseRequest } from '../domain/lease.ts';
import { fieldRefusal, NOTEBOOK_STATUSES, operationRefusal, type UpdatableField } from '../domain/lifecycle.ts';
import type { EndpointSpec, Lease, LeaseType, Notebook, NotebookEvent, StopReason, Tag, VolumeSpec } from '../domain/notebook.ts';
import {
  EFS_DEFAULT_GB,
  EVS_DEFAULT_GB,
  EVS_MAX_GB,
  EVS_MIN_GB,
  expectEnum,
  expectInteger,
  expectObject,
  expectString,
  validateCapacity,
  validateDescription,
  validateEndpoints,
  validateHooks,
  validateName,
  validateTags,
} from '../domain/validation.ts';
import type { NotebookQuery, SortKey, Store } from '../store/store.ts';
import type { CatalogService } from './catalog-service.ts';
import type { QuotaEnforcer } from './quota-service.ts';
import { mutateNotebook, type Change } from '../store/mutate.ts';
import { initialProgress, startProgress } from '../domain/progress.ts';

export interface NotebookServiceDeps {
  store: Store;
  clock: Clock;
  catalog: CatalogService;
  leasePolicy: LeasePolicy;
  /** The operator's lease policy for one flavor (per-flavor overrides); default: leasePolicy for all. */
  leasePolicyFor?: (flavorId: string) => LeasePolicy;
  instancesPerUser: number;
  /** Tells the reconciler and lease executor that an instance's intent changed. */
  notify: (notebookId: string) => void;
  /** Tells whoever follows leases that only an instance's lease changed (RenewLease); default notify. */
  notifyLease?: (notebookId: string) => void;
  /** Quota checks (service/quota-service.ts); without it nothing but instancesPerUser is limited. */
  quotas?: QuotaEnforcer;
  /** Names among `names` that the project has no key pair for (endpoints must name existing key pairs). */
  keyPairsMissing?: (projectId: string, names: readonly string[]) => Promise<string[]>;
  /** The runtime's hook and server output of an instance (ShowNotebookLogs). */
  runtimeLogs?: (instanceId: string) => Promise<RuntimeLogs | null>;
}

export interface ListParams {
  all: boolean;
  query: Record<string, unknown>;
}

const LIMITS = [10, 20, 50] as const;
const SORT_KEYS: Record<string, SortKey> = {
  create_at: 'create_at',
  createat: 'create_at',
  create_time: 'create_at',
  createtime: 'create_at',
  update_at: 'update_at',
  updateat: 'update_at',
  update_time: 'update_at',
  updatetime: 'update_at',
  name: 'name',
  status: 'status',
  flavor: 'flavor',
};
const WORKSPACE_RE = /^(0|[0-9a-z]{32})$/;
const OWNER_RE = /^[0-9a-z]{1,64}$/;

export const newInstanceToken = (): string => randomUUID();

const event = notebookEvent;

/** Parses an integer query parameter (they arrive as strings). */
function queryInteger(field: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const s = String(raw);
  if (!/^-?\d{1,16}$/.test(s)) throw errors.wrongType(field, 'integer');
  return Number(s);
}

const queryString = (field: string, raw: unknown): string | undefined => (raw === undefined ? undefined : expectString(field, raw));

export function createNotebookService(deps: NotebookServiceDeps) {
  const { store, clock, catalog, leasePolicy } = deps;
  const policyFor = deps.leasePolicyFor ?? (() => leasePolicy);
  const withProjectLock = <T>(projectId: string, fn: () => Promise<T>): Promise<T> => (deps.quotas ? deps.quotas.withProjectLock(projectId, fn) : fn());

  async function load(caller: Caller, projectId: string, id: string, access: 'read' | 'write', operation: string): Promise<Notebook> {
    checkProject(caller, projectId);
    const nb = await store.notebooks.get(id);
    if (!nb || nb.status === 'DELETED' || nb.projectId !== projectId) throw errors.notebookNotFound(id);
    authorizeNotebook(caller, nb, access, operation);
    return nb;
  }

  async function checkKeyPairs(projectId: string, endpoints: EndpointSpec[]): Promise<void> {
    if (!deps.keyPairsMissing) return;
    for (const [i, e] of endpoints.entries()) {
      const [missing] = await deps.keyPairsMissing(projectId, e.keyPairNames);
      if (missing !== undefined) throw errors.keyPairMissing(`endpoints[${i}].key_pair_names`, missing);
    }
  }

  /** Re-runs `decide` on fresh state until it lands; a vanished or deleted instance is 404. */
  async function change(id: string, decide: (nb: Notebook) => Change | null, notify = deps.notify): Promise<Notebook> {
    const result = await mutateNotebook(store, id, (nb) => {
      if (nb.status === 'DELETED') throw errors.notebookNotFound(id);
      return decide(nb);
    });
    if (!result) throw errors.notebookNotFound(id);
    notify(id);
    return result;
  }

  function parseLeaseRequest(durationRaw: unknown, typeRaw: unknown, allowDisable: boolean, source: 'query' | 'body', policy = leasePolicy): LeaseRequest {
    const durationMs = source === 'query' ? queryInteger('duration', durationRaw) : durationRaw === undefined ? undefined : expectInteger('duration', durationRaw);
    const type = typeRaw === undefined || typeRaw === '' ? undefined : expectEnum('type', typeRaw, ['TIMING', 'IDLE'] as const);
    if (durationMs !== undefined) checkDuration(durationMs, policy, allowDisable);
    return { ...(durationMs !== undefined && { durationMs }), ...(type && { type }) };
  }

  function volumeFrom(raw: unknown, flavor: Flavor): VolumeSpec {
    if (raw === undefined) throw errors.required('volume');
    const v = expectObject('volume', raw);
    if (v.category === undefined) throw errors.required('volume.category');
    const category = expectEnum('volume.category', v.category, ['EVS', 'EFS', 'SFS', 'OBS', 'OBSFS'] as const);
    if (category !== 'EVS' && category !== 'EFS') {
      throw errors.incorrectValue('volume.category', `${category} storage is not offered by this deployment; use EVS or EFS.`);
    }
    const ownership = v.ownership === undefined ? 'MANAGED' : expectEnum('volume.ownership', v.ownership, ['MANAGED', 'DEDICATED'] as const);
    if (ownership === 'DEDICATED') throw errors.incorrectValue('volume.ownership', 'DEDICATED (user-owned) storage is not offered by this deployment.');
    const maxGb = Math.min(EVS_MAX_GB, flavor.evsMaxSizeGb);
    const capacityGb = v.capacity === undefined ? (category === 'EVS' ? Math.min(EVS_DEFAULT_GB, maxGb) : EFS_DEFAULT_GB) : validateCapacity('volume.capacity', v.capacity, maxGb);
    return { category, ownership, capacityGb, mountPath: '/home/ma-user/work/', readOnly: false, status: 'IN_USE' };
  }

  function usableFlavor(id: unknown, field = 'flavor'): Flavor {
    const flavorId = expectString(field, id);
    const flavor = catalog.getFlavor(flavorId);
    if (!flavor) throw errors.flavorUnsupported(flavorId);
    if (flavor.soldOut) throw errors.flavorSoldOut(flavorId);
    return flavor;
  }

  const service = {
    async create(caller: Caller, projectId: string, body: Record<string, unknown>): Promise<Notebook> {
      checkProject(caller, projectId);
      authorizeProjectWrite(caller, 'CreateNotebook');
      if (body.name === undefined) throw errors.required('name');
      const name = validateName(body.name);
      if (body.flavor === undefined) throw errors.required('flavor');
      const flavor = usableFlavor(body.flavor);
      if (body.image_id === undefined) throw errors.required('image_id');
      const imageId = expectString('image_id', body.image_id);
      const feature = body.feature === undefined ? 'NOTEBOOK' : expectEnum('feature', body.feature, ['DEFAULT', 'NOTEBOOK'] as const);
      if (flavor.feature !== feature) throw errors.flavorFeature(flavor.id, feature);
      const volume = volumeFrom(body.volume, flavor);
      const description = body.description === undefined ? '' : validateDescription(body.description);
      const endpoints = body.endpoints === undefined || body.endpoints === null ? [] : validateEndpoints(body.endpoints);
      await checkKeyPairs(projectId, endpoints);
      const hooks = body.hooks === undefined ? null : validateHooks(body.hooks);
      const workspaceId = body.workspace_id === undefined ? '0' : expectString('workspace_id', body.workspace_id);
      if (!WORKSPACE_RE.test(workspaceId)) throw errors.incorrectValue('workspace_id', 'Expected "0" or 32 characters of [0-9a-z].');
      if (body.pool_id !== undefined && body.pool_id !== null && body.pool_id !== '') {
        throw errors.incorrectValue('pool_id', 'This deployment has no dedicated resource pools.');
      }
      for (const unsupported of ['custom_spec', 'data_volumes', 'user_vpc', 'affinity'] as const) {
        if (body[unsupported] !== undefined && body[unsupported] !== null) {
          throw errors.incorrectValue(unsupported, `'${unsupported}' is not supported by this deployment.`);
        }
      }
      // `duration` at the top level wins over `lease` and forces TIMING (reference §1.1).
      let leaseRequest: LeaseRequest;
      if (body.duration !== undefined) {
        leaseRequest = { ...parseLeaseRequest(body.duration, undefined, true, 'body', policyFor(flavor.id)), type: 'TIMING' };
      } else if (body.lease !== undefined && body.lease !== null) {
        const lease = expectObject('lease', body.lease);
        leaseRequest = parseLeaseRequest(lease.duration, lease.type, true, 'body', policyFor(flavor.id));
      } else {
        leaseRequest = {};
      }
      const image = await catalog.usableImage(projectId, imageId);
      if (image.devServices.length > 0 && !image.devServices.includes('NOTEBOOK') && !endpoints.some((e) => e.service === 'SSH')) {
        throw errors.sshConfigMissing(image.id);
      }
      // Counting and inserting under the project's lock: concurrent creates cannot both take the last unit of a quota.
      return withProjectLock(projectId, async () => {
        const owned = await store.notebooks.countByOwner(projectId, caller.user.id);
        if (owned >= deps.instancesPerUser) throw errors.instanceLimit();
        if (feature === 'DEFAULT' && (await store.notebooks.countByOwner(projectId, caller.user.id, 'DEFAULT')) > 0) {
          throw errors.instanceLimit('Each user may have one free (DEFAULT) instance.');
        }
        await deps.quotas?.checkCreate(projectId, caller.user.id, flavor.id, volume.capacityGb);

        const now = clock.now();
        const id = randomUUID();
        const nb: Notebook = {
          id,
          projectId,
          owner: { id: caller.user.id, name: caller.user.name, domainId: caller.user.domainId, domainName: caller.user.domainName },
          name,
          description,
          feature,
          flavorId: flavor.id,
          imageId: image.id,
          workspaceId,
          poolId: null,
          volume,
          endpoints,
          hooks,
          tags: [],
          desired: 'running',
          status: 'CREATING',
          operation: 'create',
          statusChangedAt: now,
          failReason: null,
          stopReason: null,
          actionProgress: initialProgress(),
          token: newInstanceToken(),
          lease: newLease(now, leaseRequest, policyFor(flavor.id)),
          runtimeHandle: null,
          runtimeTarget: null,
          createAt: now,
          updateAt: now,
          version: 1,
        };
        const stored = await store.notebooks.insert(nb, [
          event(id, now, 'notebook.created', `Created by ${caller.user.name} with flavor ${flavor.id} and image ${image.name}:${image.tag}.`),
        ]);
        deps.notify(id);
        return stored;
      });
    },

    async show(caller: Caller, projectId: string, id: string): Promise<Notebook> {
      return load(caller, projectId, id, 'read', 'ShowNotebook');
    },

    async list(caller: Caller, projectId: string, { all, query }: ListParams): Promise<{ items: Notebook[]; total: number; limit: number; offset: number }> {
      checkProject(caller, projectId);
      if (all && !seesWholeProject(caller)) throw errors.notAuthorized('ListAllNotebooks');
      const limit = queryInteger('limit', query.limit) ?? 10;
      if (!(LIMITS as readonly number[]).includes(limit)) throw errors.incorrectValue('limit', 'Allowed values: 10, 20, 50.');
      const offset = queryInteger('offset', query.offset) ?? 0;
      if (offset < 0) throw errors.incorrectValue('offset', 'The offset must not be negative.');
      const sortKeyRaw = queryString('sort_key', query.sort_key);
      let sortKey: SortKey = 'create_at';
      if (sortKeyRaw !== undefined && sortKeyRaw !== '') {
        const first = sortKeyRaw.split(',')[0]!.trim();
        const mapped = SORT_KEYS[first.toLowerCase()];
        if (!mapped || sortKeyRaw.length > 128) throw errors.notSortable(first);
        sortKey = mapped;
      }
      const sortDir = query.sort_dir === undefined ? 'DESC' : expectEnum('sort_dir', query.sort_dir, ['ASC', 'DESC'] as const);
      const status = query.status === undefined || query.status === '' ? undefined : expectEnum('status', query.status, NOTEBOOK_STATUSES);
      const feature = query.feature === undefined || query.feature === '' ? undefined : expectEnum('feature', query.feature, ['DEFAULT', 'NOTEBOOK'] as const);
      const name = queryString('name', query.name);
      if (name !== undefined && name.length > 128) throw errors.incorrectValue('name', 'At most 128 characters.');
      const owner = queryString('owner', query.owner);
      if (owner !== undefined && owner !== '' && !OWNER_RE.test(owner)) throw errors.incorrectValue('owner', 'Expected a user id.');
      const workspace = queryString('workspace_id', query.workspace_id ?? query.workspaceId);
      const tagsRaw = queryString('tags', query.tags);
      const tags = tagsRaw
        ? tagsRaw.split(/[,|]/).filter(Boolean).map((t) => {
            const [key, value] = t.split('=');
            return value === undefined ? { key: key! } : { key: key!, value };
          })
        : undefined;
      const q: NotebookQuery = {
        projectId,
        sortKey,
        sortDir,
        offset,
        limit,
        ...(all ? (owner ? { ownerId: owner } : {}) : { ownerId: caller.user.id }),
        ...(name && { nameContains: name }),
        ...(status && { status }),
        ...(feature && { feature }),
        ...(query.flavor !== undefined && query.flavor !== '' && { flavorId: expectString('flavor', query.flavor) }),
        ...(query.image_id !== undefined && query.image_id !== '' && { imageId: expectString('image_id', query.image_id) }),
        ...(query.id !== undefined && query.id !== '' && { id: expectString('id', query.id) }),
        ...(query.pool_id !== undefined && query.pool_id !== '' && { poolId: expectString('pool_id', query.pool_id) }),
        ...(workspace && { workspaceId: workspace }),
        ...(tags && { tags }),
        includeDeleted: status === 'DELETED',
      };
      const page = await store.notebooks.list(q);
      return { ...page, limit, offset };
    },

    async update(caller: Caller, projectId: string, id: string, body: Record<string, unknown>): Promise<Notebook> {
      const loaded = await load(caller, projectId, id, 'write', 'UpdateNotebook');
      // Validate every field before anything is written: a rejected request changes nothing.
      const name = body.name === undefined ? undefined : validateName(body.name);
      const description = body.description === undefined ? undefined : validateDescription(body.description);
      const endpoints = body.endpoints === undefined ? undefined : validateEndpoints(body.endpoints ?? []);
      if (endpoints) await checkKeyPairs(projectId, endpoints);
      const hooks = body.hooks === undefined ? undefined : validateHooks(body.hooks);
      const flavorId = body.flavor === undefined ? undefined : expectString('flavor', body.flavor);
      const imageId = body.image_id === undefined ? undefined : expectString('image_id', body.image_id);
      const newSizeGb = body.storage_new_size === undefined ? undefined : expectInteger('storage_new_size', body.storage_new_size);
      for (const unsupported of ['custom_spec', 'data_volumes', 'affinity', 'dew_secret_name'] as const) {
        if (body[unsupported] !== undefined && body[unsupported] !== null) {
          throw errors.incorrectValue(unsupported, `'${unsupported}' is not supported by this deployment.`);
        }
      }
      const image = imageId === undefined ? undefined : await catalog.usableImage(projectId, imageId);
      if (flavorId !== undefined && flavorId !== loaded.flavorId) await deps.quotas?.checkFlavor(projectId, flavorId);
      if (newSizeGb !== undefined) await deps.quotas?.checkGrow(loaded, newSizeGb);

      return change(id, (nb) => {
        const refusal = operationRefusal('update', nb.status);
        if (refusal) throw refusal;
        const touched: [UpdatableField, boolean][] = [
          ['name', name !== undefined && name !== nb.name],
          ['description', description !== undefined && description !== nb.description],
          ['flavor', flavorId !== undefined && flavorId !== nb.flavorId],
          ['image_id', imageId !== undefined && imageId !== nb.imageId],
          ['endpoints', endpoints !== undefined && JSON.stringify(endpoints) !== JSON.stringify(nb.endpoints)],
          ['hooks', hooks !== undefined && JSON.stringify(hooks) !== JSON.stringify(nb.hooks)],
          ['storage_new_size', newSizeGb !== undefined],
        ];
        for (const [field, changed] of touched) {
          const fieldError = changed ? fieldRefusal(field, nb.status) : null;
          if (fieldError) throw fieldError;
        }
        if (flavorId !== undefined && flavorId !== nb.flavorId) {
          const target = catalog.switchable(nb.flavorId).find((f) => f.id === flavorId);
          if (!target) throw errors.flavorNotSwitchable(nb.id, flavorId);
        }
        let volume = nb.volume;
        if (newSizeGb !== undefined) {
          const flavor = catalog.getFlavor(flavorId ?? nb.flavorId);
          const maxGb = Math.min(EVS_MAX_GB, flavor?.evsMaxSizeGb ?? EVS_MAX_GB);
          const currentGb = nb.volume.pendingCapacityGb ?? nb.volume.capacityGb;
          if (nb.volume.category !== 'EVS') throw errors.incorrectValue('storage_new_size', 'Only EVS volumes can be expanded.');
          if (newSizeGb <= currentGb || newSizeGb > maxGb) {
            throw errors.volumeSize(Math.max(EVS_MIN_GB, currentGb + 1), maxGb, `The volume is ${currentGb} GB and can only grow.`);
          }
          // While running, the runtime grows the volume in place and volume.status says RESIZING.
          volume = nb.status === 'RUNNING' ? { ...nb.volume, status: 'RESIZING', pendingCapacityGb: newSizeGb } : { ...nb.volume, capacityGb: newSizeGb };
        }
        const changedFields = touched.filter(([, c]) => c).map(([f]) => f);
        if (changedFields.length === 0) return null;
        const now = clock.now();
        const next: Notebook = {
          ...nb,
          ...(name !== undefined && { name }),
          ...(description !== undefined && { description }),
          ...(endpoints !== undefined && { endpoints }),
          ...(hooks !== undefined && { hooks }),
          ...(flavorId !== undefined && { flavorId }),
          ...(image && { imageId: image.id }),
          volume,
          updateAt: now,
        };
        return { next, events: [event(id, now, 'notebook.updated', `Updated ${changedFields.join(', ')}.`, { fields: changedFields })] };
      });
    },

    async start(caller: Caller, projectId: string, id: string, query: Record<string, unknown>): Promise<Notebook> {
      const loaded = await load(caller, projectId, id, 'write', 'StartNotebook');
      const leaseRequest = parseLeaseRequest(query.duration, query.type, true, 'query', policyFor(loaded.flavorId));
      // Under the project's lock, like create: the running-instance and compute quotas are checked and taken together.
      return withProjectLock(projectId, async () => {
        await deps.quotas?.checkStart((await store.notebooks.get(id)) ?? loaded);
        return change(id, (nb) => {
          const refusal = operationRefusal('start', nb.status);
          if (refusal) throw refusal;
          const now = clock.now();
          // A failed create never got its storage ready: prepare it again with visible progress.
          const recreate = nb.status === 'CREATE_FAILED';
          return {
            next: {
              ...nb,
              desired: 'running',
              status: recreate ? 'CREATING' : 'STARTING',
              operation: recreate ? 'create' : 'start',
              statusChangedAt: now,
              failReason: null,
              stopReason: null,
              actionProgress: recreate ? initialProgress() : startProgress(),
              token: newInstanceToken(),
              lease: reanchor(nb.lease, now, leaseRequest, policyFor(nb.flavorId)),
              updateAt: now,
            },
            events: [event(id, now, 'notebook.starting', `Start requested by ${caller.user.name}.`, { from: nb.status })],
          };
        });
      });
    },

    async stop(caller: Caller, projectId: string, id: string): Promise<Notebook> {
      await load(caller, projectId, id, 'write', 'StopNotebook');
      return change(id, (nb) => {
        const refusal = operationRefusal('stop', nb.status);
        if (refusal) throw refusal;
        const reason: StopReason = caller.user.systemAdmin && nb.owner.id !== caller.user.id ? 'admin' : 'user';
        return requestStop(nb, clock.now(), reason, `Stop requested by ${caller.user.name}.`);
      });
    },

    async remove(caller: Caller, projectId: string, id: string): Promise<Notebook> {
      await load(caller, projectId, id, 'write', 'DeleteNotebook');
      return change(id, (nb) => {
        const refusal = operationRefusal('delete', nb.status);
        if (refusal) throw refusal;
        const now = clock.now();
        return {
          next: { ...nb, desired: 'deleted', status: 'DELETING', operation: 'delete', statusChangedAt: now, updateAt: now },
          events: [event(id, now, 'notebook.deleting', `Delete requested by ${caller.user.name}.`, { from: nb.status })],
        };
      });
    },

    async showLease(caller: Caller, projectId: string, id: string): Promise<Lease> {
      const nb = await load(caller, projectId, id, 'read', 'ShowLease');
      const refusal = operationRefusal('showLease', nb.status);
      if (refusal) throw refusal;
      return nb.lease;
    },

    async renewLease(caller: Caller, projectId: string, id: string, query: Record<string, unknown>, body: unknown): Promise<Lease> {
      const loaded = await load(caller, projectId, id, 'write', 'RenewLease');
      const policy = policyFor(loaded.flavorId);
      let durationMs: number;
      let type: LeaseType;
      // The query's duration wins over the body and forces TIMING (seed RenewLease).
      if (query.duration !== undefined && query.duration !== '') {
        durationMs = parseLeaseRequest(query.duration, undefined, false, 'query', policy).durationMs!;
        type = 'TIMING';
      } else {
        const b = body === undefined || body === null ? {} : expectObject('body', body);
        const req = parseLeaseRequest(b.duration, b.type, false, 'body', policy);
        durationMs = req.durationMs ?? policy.defaultMs;
        type = req.type ?? 'TIMING';
      }
      const updated = await change(id, (nb) => {
        const refusal = operationRefusal('renewLease', nb.status);
        if (refusal) throw refusal;
        const now = clock.now();
        checkProlong(nb.lease, now, durationMs, type, policy);
        const lease = prolong(nb.lease, now, durationMs, type);
        const events = [event(id, now, 'lease.renewed', `Lease renewed by ${caller.user.name}: ${type} ${durationMs} ms.`, { type, durationMs, stopAt: lease.createAt + lease.durationMs })];
        // Subscribers that were told "stops at T" learn that T no longer holds.
        if (warningWithdrawn(nb.lease, lease)) events.push(warningWithdrawnEvent(nb, now, lease, `lease renewed by ${caller.user.name}`));
        return { next: { ...nb, lease, updateAt: now }, events };
      }, deps.notifyLease);
      return updated.lease;
    },

    async switchableFlavors(caller: Caller, projectId: string, id: string): Promise<Flavor[]> {
      const nb = await load(caller, projectId, id, 'read', 'ShowSwitchableFlavors');
      return catalog.switchable(nb.flavorId);
    },

    async tagSummary(caller: Caller, projectId: string): Promise<{ key: string; values: string[] }[]> {
      checkProject(caller, projectId);
      return store.notebooks.tagSummary(projectId);
    },

    async addTags(caller: Caller, projectId: string, id: string, body: unknown): Promise<void> {
      await load(caller, projectId, id, 'write', 'CreateNotebookTags');
      const obj = expectObject('body', body ?? {});
      if (obj.tags === undefined) throw errors.required('tags');
      const tags = validateTags(obj.tags);
      await change(id, (nb) => {
        const merged = new Map(nb.tags.map((t) => [t.key, t.value]));
        for (const t of tags) merged.set(t.key, t.value); // an existing key's value is overwritten
        if (merged.size > 20) throw errors.incorrectValue('tags', 'An instance has at most 20 tags.');
        const next: Tag[] = [...merged].map(([key, value]) => ({ key, value }));
        const now = clock.now();
        return { next: { ...nb, tags: next, updateAt: now }, events: [event(id, now, 'notebook.tagged', `Tags set: ${tags.map((t) => t.key).join(', ')}.`)] };
      });
    },

    async removeTags(caller: Caller, projectId: string, id: string, body: unknown): Promise<void> {
      await load(caller, projectId, id, 'write', 'DeleteNotebookTags');
      const obj = expectObject('body', body ?? {});
      if (obj.tags === undefined) throw errors.required('tags');
      const keys = new Set(validateTags(obj.tags).map((t) => t.key));
      await change(id, (nb) => {
        const next = nb.tags.filter((t) => !keys.has(t.key));
        if (next.length === nb.tags.length) return null; // deleting a missing tag is a no-op
        const now = clock.now();
        return { next: { ...nb, tags: next, updateAt: now }, events: [event(id, now, 'notebook.untagged', `Tags removed: ${[...keys].join(', ')}.`)] };
      });
    },

    async events(caller: Caller, projectId: string, id: string, query: Record<string, unknown>): Promise<NotebookEvent[]> {
      await load(caller, projectId, id, 'read', 'ListNotebookEvents');
      const after = queryInteger('after', query.after) ?? 0;
      const limit = Math.min(queryInteger('limit', query.limit) ?? 100, 1000);
      if (limit < 1) throw errors.incorrectValue('limit', 'Between 1 and 1000.');
      return store.notebooks.events(id, after, limit);
    },

    /** notebookd extension: the last output of the instance's start hooks and Jupyter server. */
    async logs(caller: Caller, projectId: string, id: string): Promise<RuntimeLogs> {
      await load(caller, projectId, id, 'read', 'ShowNotebookLogs');
      return (await deps.runtimeLogs?.(id)) ?? { hooks: '', server: '' };
    },
  };
  return service;
}

export type NotebookService = ReturnType<typeof createNotebookService>;
