// Domain records → ModelArts wire objects (reference §2). Upper-case enums out, epoch-ms times,
// snake_case names. Extensions of ours are documented in the README and never rename a field.
import type { Flavor, Image } from '../domain/catalog.ts';
import type { InstanceUsage } from '../service/instance-usage.ts';
import { leaseStopAt } from '../domain/lease.ts';
import type { Lease, Notebook, NotebookEvent } from '../domain/notebook.ts';

export interface PresentContext {
  publicUrl: string;
  image?: Image;
  /** The SSH gateway, for the SSH endpoint's uri. */
  sshAddress?: { host: string; port: number };
}

/** ssh://<instance-id>@<host>:<port>: what `ssh -p <port> <instance-id>@<host>` connects to. */
export const sshUri = (id: string, a: { host: string; port: number }) => `ssh://${id}@${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

export function presentLease(lease: Lease) {
  return {
    create_at: lease.createAt,
    duration: lease.durationMs,
    enable: lease.enable,
    type: lease.type,
    update_at: lease.updateAt,
    // notebookd extensions: why the stop time is what it is.
    stop_at: leaseStopAt(lease),
    last_activity_at: lease.lastActivityAt,
    last_activity_source: lease.lastActivitySource,
  };
}

export const instanceUrl = (publicUrl: string, nb: Pick<Notebook, 'id'>, image?: Pick<Image, 'program'>) =>
  `${publicUrl}/nb/${nb.id}/${image?.program === 'jupyter_server' ? 'api/status' : 'tree'}`;

function presentHooks(nb: Notebook) {
  if (!nb.hooks) return undefined;
  const hook = (h: NonNullable<Notebook['hooks']>['preStart']) => h && { script: h.script, type: h.type, mode: h.mode };
  return { container_hooks: { ...(nb.hooks.preStart && { pre_start: hook(nb.hooks.preStart) }), ...(nb.hooks.postStart && { post_start: hook(nb.hooks.postStart) }) } };
}

export function presentNotebook(nb: Notebook, ctx: PresentContext) {
  const url = instanceUrl(ctx.publicUrl, nb, ctx.image);
  const endpoints = nb.endpoints.some((e) => e.service === 'NOTEBOOK')
    ? nb.endpoints
    : [{ service: 'NOTEBOOK' as const, keyPairNames: [], allowedAccessIps: [] }, ...nb.endpoints];
  return {
    id: nb.id,
    name: nb.name,
    description: nb.description,
    status: nb.status,
    feature: nb.feature,
    flavor: nb.flavorId,
    image: {
      id: nb.imageId,
      name: ctx.image?.name ?? '',
      swr_path: ctx.image?.swrPath ?? '',
      tag: ctx.image?.tag ?? '',
      type: ctx.image?.type ?? 'DEDICATED',
      description: ctx.image?.description ?? '',
    },
    lease: presentLease(nb.lease),
    volume: {
      category: nb.volume.category,
      ownership: nb.volume.ownership,
      capacity: nb.volume.capacityGb,
      mount_path: nb.volume.mountPath,
      read_only: nb.volume.readOnly,
      status: nb.volume.status,
      mount_type: 'STATIC',
      ...(nb.volume.pendingCapacityGb !== undefined && { new_capacity: nb.volume.pendingCapacityGb }),
    },
    endpoints: endpoints.map((e) => ({
      service: e.service,
      dev_service: e.service,
      uri: e.service === 'NOTEBOOK' ? url : ctx.sshAddress ? sshUri(nb.id, ctx.sshAddress) : '',
      key_pair_names: e.keyPairNames,
      allowed_access_ips: e.allowedAccessIps,
      ssh_keys: e.keyPairNames,
    })),
    url,
    token: nb.token ?? '',
    action_progress: nb.actionProgress.map((p) => ({
      notebook_id: nb.id,
      step: p.step,
      status: p.status,
      description: p.description,
      step_description: p.description,
    })),
    fail_reason: nb.failReason ?? '',
    workspace_id: nb.workspaceId,
    billing_items: ['COMPUTE'],
    user: { id: nb.owner.id, name: nb.owner.name, domain: { id: nb.owner.domainId, name: nb.owner.domainName } },
    user_id: nb.owner.id,
    tags: nb.tags,
    data_volumes: [],
    ...(nb.hooks && { hooks: presentHooks(nb) }),
    create_at: nb.createAt,
    update_at: nb.updateAt,
    // notebookd extension: why the instance last stopped.
    stop_reason: nb.stopReason,
  };
}

export function presentFlavor(f: Flavor) {
  return {
    id: f.id,
    name: f.name,
    arch: f.arch,
    category: f.category,
    description: f.description,
    feature: f.feature,
    free: f.free,
    sold_out: f.soldOut,
    vcpus: f.vcpus,
    memory: f.memoryMb * 1024, // KB on the wire
    storages: ['EVS', 'EFS'],
    billing: { code: f.id, unit_num: 1 },
    ...(f.gpus > 0 && { gpu: { gpu: f.gpus, gpu_memory: 16, type: f.gpuType ?? '' } }),
    evs_max_size: f.evsMaxSizeGb,
    evs_sku_code: 'SSD',
    grow_support_type: 'COMMON',
  };
}

export function presentImage(i: Image) {
  return {
    id: i.id,
    name: i.name,
    namespace: i.namespace,
    tag: i.tag,
    swr_path: i.swrPath,
    description: i.description,
    arch: i.arch,
    origin: i.origin,
    type: i.type,
    visibility: i.visibility,
    service_type: i.serviceType,
    dev_services: i.devServices,
    resource_categories: i.resourceCategories,
    support_res_categories: i.resourceCategories,
    workspace_id: i.workspaceId,
    status: i.status,
    status_message: i.statusMessage,
    size: i.sizeBytes,
    tags: i.tags,
    read_me: i.readMe,
    create_at: i.createAt,
    update_at: i.updateAt,
    // notebookd extension: the Jupyter program the local runtime runs for this image.
    program: i.program,
  };
}

/** notebookd extension on ShowNotebook: what a running instance uses now. */
export function presentUsage(u: InstanceUsage) {
  return {
    cpu_seconds: Math.round(u.cpuSeconds * 1000) / 1000,
    memory_bytes: u.memoryBytes,
    memory_limit_bytes: u.memoryLimitBytes,
    processes: u.processes,
    sampled_at: u.sampledAt,
  };
}

export function presentEvent(e: NotebookEvent) {
  return { id: e.id, notebook_id: e.notebookId, at: e.at, type: e.type, message: e.message, data: e.data ?? {} };
}

/** The paging envelope: current is the 0-based page index, size the page size (reference §1.2). */
export function page<T>(data: T[], total: number, offset: number, limit: number) {
  const size = limit > 0 ? limit : Math.max(total, 1);
  return { current: Math.floor(offset / size), data, pages: Math.ceil(total / size), size, total };
}

/** page() of items already serialised, as JSON (the same keys in the same order). */
export function pageJson(items: string[], total: number, offset: number, limit: number): string {
  const { current, pages, size } = page([], total, offset, limit);
  return `{"current":${current},"data":[${items.join(',')}],"pages":${pages},"size":${size},"total":${total}}`;
}
