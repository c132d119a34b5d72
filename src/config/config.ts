// Configuration is read once, from (lowest to highest precedence) built-in defaults, a JSON
// file, NOTEBOOKD_* environment variables and command-line flags; then validated and frozen.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { DEFAULT_LEASE_POLICY, policyForFlavor, policyProblem } from '../domain/lease.ts';
import { isAddressOrCidr } from '../domain/validation.ts';
import { DEFAULT_FLAVORS, DEFAULT_IMAGES } from './catalog.ts';

const Strict = { additionalProperties: false } as const;

const leasePolicyFields = {
  minMs: Type.Integer({ minimum: 1 }),
  maxMs: Type.Integer({ minimum: 1 }),
  defaultMs: Type.Integer({ minimum: 1 }),
  allowDisable: Type.Boolean(),
  warningLeadMs: Type.Integer({ minimum: 0 }),
  /** Hard cap on one run (from RUNNING, however often prolonged); null: none. */
  maxRunningMs: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
};

const LeasePolicySchema = Type.Object({
  ...leasePolicyFields,
  /** Overrides of any field above for one flavor, by flavor id. */
  perFlavor: Type.Record(Type.String(), Type.Partial(Type.Object(leasePolicyFields, Strict))),
}, Strict);

const WebhookSchema = Type.Object({
  /** Stable name the persisted deliveries are kept under; defaults to the URL. */
  id: Type.Optional(Type.String({ minLength: 1 })),
  url: Type.String({ pattern: '^https?://' }),
  /** Event types to deliver ('lease.expiring', 'notebook.stopped', ...); '*' for all. */
  types: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  /** When set, each delivery carries X-Notebookd-Signature: sha256=HMAC(secret, body). */
  secret: Type.String(),
}, Strict);

const FlavorSchema = Type.Object({
  id: Type.String({ minLength: 1 }),
  name: Type.String(),
  category: Type.Union([Type.Literal('CPU'), Type.Literal('GPU'), Type.Literal('ASCEND')]),
  arch: Type.Union([Type.Literal('x86_64'), Type.Literal('aarch64')]),
  feature: Type.Union([Type.Literal('DEFAULT'), Type.Literal('NOTEBOOK')]),
  description: Type.String(),
  free: Type.Boolean(),
  soldOut: Type.Boolean(),
  vcpus: Type.Number({ exclusiveMinimum: 0 }),
  memoryMb: Type.Integer({ minimum: 64 }),
  gpus: Type.Integer({ minimum: 0 }),
  gpuType: Type.Union([Type.String(), Type.Null()]),
  evsMaxSizeGb: Type.Integer({ minimum: 5, maximum: 4096 }),
}, Strict);

const Limit = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);
const QuotaLimitsSchema = {
  instances: Limit,
  runningInstances: Limit,
  vcpus: Limit,
  gpus: Limit,
  storageGb: Limit,
};

const ConfigSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  dataDir: Type.String({ minLength: 1 }),
  /** Empty means the SQLite file <dataDir>/notebookd.db. */
  databaseUrl: Type.String(),
  runtime: Type.Union([Type.Literal('local'), Type.Literal('fake'), Type.Literal('slurm'), Type.Literal('kubernetes')]),
  /** runtime 'local': isolation, flavor limits and storage of instances on this host (README "Isolation"). */
  localRuntime: Type.Object({
    /** auto: a bubblewrap sandbox where the host can make one; on: refuse to run without; off: never. */
    sandbox: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
    bwrapPath: Type.String({ minLength: 1 }),
    /** Sandbox users get host uids base..base+60000, one per instance. */
    sandboxUidBase: Type.Integer({ minimum: 1000, maximum: 4_000_000_000 }),
    /** auto: flavor limits through cgroups where possible; on: refuse to run without; off: never. */
    limits: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
    /** Cgroup path instances nest under; '' is <notebookd's own cgroup>/notebookd. */
    cgroupRoot: Type.String({ pattern: '^(/[A-Za-z0-9._-]+)*$' }),
    /** Processes (tasks) per instance. */
    pidsMax: Type.Integer({ minimum: 16 }),
    /** auto: an XFS image per volume where loop mounts work; image: required; directory: measured only. */
    storage: Type.Union([Type.Literal('auto'), Type.Literal('image'), Type.Literal('directory')]),
    /** How long a BLOCK pre_start hook may run. */
    hookTimeoutMs: Type.Integer({ minimum: 1 }),
    /** Image volumes formatted ahead of time for creations (README "Volume pool"); size 0 disables. */
    volumePool: Type.Object({
      size: Type.Integer({ minimum: 0, maximum: 1000 }),
      capacityGb: Type.Integer({ minimum: 1 }),
      /** Refilling waits until no volume was taken for this long. */
      quietMs: Type.Integer({ minimum: 0 }),
    }, Strict),
  }, Strict),
  /** runtime 'slurm': instances are Slurm jobs (README "Slurm"). */
  slurm: Type.Object({
    /** Storage mounted at the same path on this host and every compute node; '' is <dataDir>/slurm. */
    sharedDir: Type.String(),
    /** slurm.conf to use (sets SLURM_CONF); '' is Slurm's own default. */
    slurmConf: Type.String(),
    /** Directory of sbatch, scontrol, ...; '' finds them on PATH. */
    binDir: Type.String(),
    partition: Type.String(),
    account: Type.String(),
    qos: Type.String(),
    extraSbatchArgs: Type.Array(Type.String()),
    /** Python with Jupyter on the compute nodes. */
    pythonPath: Type.String({ minLength: 1 }),
    /** Where Jupyter listens on its node. */
    listenHost: Type.String({ minLength: 1 }),
    /** The address notebookd reaches nodes at; '' uses each node's `hostname -f`. */
    connectHost: Type.String(),
    /** How long a start waits for its job to run (queue time included). */
    startWaitMs: Type.Integer({ minimum: 1_000 }),
    /** Slack added to the lease when it is mirrored onto the job's time limit. */
    timeLimitGraceMs: Type.Integer({ minimum: 0 }),
  }, Strict),
  /** runtime 'kubernetes': instances are StatefulSets (README "Kubernetes"). */
  kubernetes: Type.Object({
    /** kubeconfig file; '' uses KUBECONFIG, ~/.kube/config or the in-cluster service account. */
    kubeconfig: Type.String(),
    context: Type.String(),
    namespace: Type.String({ minLength: 1, maxLength: 63 }),
    /** StorageClass of the volumes; '' is the cluster's default class. */
    storageClass: Type.String(),
    /** Cluster DNS suffix of Services, for the targets notebookd proxies to. */
    serviceDomain: Type.String({ minLength: 1 }),
    /** Python with Jupyter inside the images. */
    pythonPath: Type.String({ minLength: 1 }),
    /** Extended resource that GPUs are requested as. */
    gpuResource: Type.String({ minLength: 1 }),
    imagePullSecrets: Type.Array(Type.String({ minLength: 1 })),
    /** Who may reach instances besides the allow-list: notebookd's own pods (labels) or CIDR blocks. */
    allowFrom: Type.Array(Type.Object({
      cidr: Type.Optional(Type.String({ minLength: 1 })),
      podLabels: Type.Optional(Type.Record(Type.String(), Type.String())),
      namespaceLabels: Type.Optional(Type.Record(Type.String(), Type.String())),
    }, Strict)),
    /** UID the instance runs as (fsGroup too, so the volume is writable). */
    runAsUser: Type.Integer({ minimum: 0 }),
    /** How long a start waits for the pod to pass its init container (the pre_start hook). */
    startWaitMs: Type.Integer({ minimum: 1_000 }),
  }, Strict),
  /** The origin users reach notebookd at, for instance URLs; defaults to http://host:port. */
  publicUrl: Type.String(),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  lease: LeasePolicySchema,
  timeouts: Type.Object({
    createMs: Type.Integer({ minimum: 1 }),
    startMs: Type.Integer({ minimum: 1 }),
    stopGraceMs: Type.Integer({ minimum: 0 }),
    stopMs: Type.Integer({ minimum: 1 }),
    deleteMs: Type.Integer({ minimum: 1 }),
  }, Strict),
  reconcile: Type.Object({
    /** How often RUNNING instances are health-checked against the runtime. */
    healthIntervalMs: Type.Integer({ minimum: 10 }),
    readinessPollMs: Type.Integer({ minimum: 10 }),
    concurrency: Type.Integer({ minimum: 1, maximum: 256 }),
  }, Strict),
  limits: Type.Object({
    bodyBytes: Type.Integer({ minimum: 1024 }),
    /** Token bucket per client (credential, else address) on the API; past it: 429 APIGW.0308. */
    rateLimit: Type.Object({
      enabled: Type.Boolean(),
      perSecond: Type.Number({ exclusiveMinimum: 0 }),
      burst: Type.Integer({ minimum: 1 }),
    }, Strict),
    instancesPerUser: Type.Integer({ minimum: 1 }),
  }, Strict),
  identity: Type.Object({
    /** Lifetime of tokens from POST /v3/auth/tokens (IAM: 24 h). */
    tokenLifetimeMs: Type.Integer({ minimum: 1000 }),
    /** IAM allows two access keys per user. */
    maxAccessKeysPerUser: Type.Integer({ minimum: 1, maximum: 100 }),
  }, Strict),
  /** Defaults for projects and users without their own quota; null is unlimited. */
  quotas: Type.Object({
    project: Type.Object({ ...QuotaLimitsSchema, flavors: Type.Union([Type.Array(Type.String()), Type.Null()]) }, Strict),
    user: Type.Object(QuotaLimitsSchema, Strict),
  }, Strict),
  /** Activity for IDLE leases: batching of reports and polling of the instances. */
  activity: Type.Object({
    /** At most one store write per instance per interval. */
    flushIntervalMs: Type.Integer({ minimum: 10 }),
    /** How often IDLE instances' kernels, terminals and CPU are sampled. */
    pollIntervalMs: Type.Integer({ minimum: 10 }),
    /** Process CPU above this many cores (averaged over a poll interval) counts as activity. */
    cpuBusyCores: Type.Number({ exclusiveMinimum: 0 }),
    probeTimeoutMs: Type.Integer({ minimum: 10 }),
  }, Strict),
  /** Instance events to subscribers: Server-Sent Events and operator webhooks. */
  events: Type.Object({
    /** How often streams look for events written by other replicas (local writes wake them at once). */
    pollMs: Type.Integer({ minimum: 10 }),
    /** SSE keep-alive comment interval. */
    heartbeatMs: Type.Integer({ minimum: 10 }),
    webhooks: Type.Array(WebhookSchema),
    webhookDelivery: Type.Object({
      maxAttempts: Type.Integer({ minimum: 1 }),
      initialBackoffMs: Type.Integer({ minimum: 1 }),
      maxBackoffMs: Type.Integer({ minimum: 1 }),
      timeoutMs: Type.Integer({ minimum: 10 }),
    }, Strict),
  }, Strict),
  /** GET /metrics (Prometheus text format): open like /healthz unless a bearer token is set. */
  metrics: Type.Object({
    enabled: Type.Boolean(),
    bearerToken: Type.String(),
  }, Strict),
  /** The access gateway: the /nb/ proxy and the allow-lists of both it and the SSH gateway. */
  access: Type.Object({
    /** Which header carries the client address for allow-lists; 'none' uses the socket peer. */
    clientIpHeader: Type.Union([Type.Literal('none'), Type.Literal('x-forwarded-for'), Type.Literal('x-real-ip'), Type.Literal('forwarded')]),
    /** Proxies (addresses or CIDR blocks) whose clientIpHeader is believed; others' headers are ignored. */
    trustedProxies: Type.Array(Type.String({ minLength: 1 })),
    /** Lifetime of the per-instance access cookie the proxy sets (renewed while in use). */
    credentialTtlMs: Type.Integer({ minimum: 1_000 }),
    /**
     * Origin of instance URLs ('' = publicUrl). Another host name for the same notebookd keeps
     * what instances serve off the console's origin (its storage and cookies).
     */
    instanceBaseUrl: Type.String(),
  }, Strict),
  /** The SSH gateway: `ssh -p <port> <instance-id>@<host>`. */
  ssh: Type.Object({
    enabled: Type.Boolean(),
    /** Listen address; '' means the same as `host`. */
    host: Type.String(),
    /** 0 picks a free port (tests). */
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** The host name in the SSH endpoint's uri; '' means the public URL's host. */
    publicHost: Type.String(),
  }, Strict),
  flavors: Type.Array(FlavorSchema, { minItems: 1 }),
  images: Type.Array(Type.Any(), { minItems: 1 }),
  bootstrap: Type.Object({
    projectId: Type.String(),
    token: Type.String(),
    accessKey: Type.String(),
    secretKey: Type.String(),
    adminName: Type.String({ minLength: 1 }),
    adminPassword: Type.String(),
  }, Strict),
}, Strict);

export type Config = Static<typeof ConfigSchema> & { images: typeof DEFAULT_IMAGES };

export const DEFAULTS: Config = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  databaseUrl: '',
  runtime: 'local',
  localRuntime: {
    sandbox: 'auto',
    bwrapPath: '/usr/bin/bwrap',
    sandboxUidBase: 900_000,
    limits: 'auto',
    cgroupRoot: '',
    pidsMax: 1024,
    storage: 'auto',
    hookTimeoutMs: 600_000,
    // capacityGb: the API's default EVS capacity (domain/validation.ts EVS_DEFAULT_GB).
    // quietMs: a burst's servers boot for seconds after the last creation; refilling waits for them.
    volumePool: { size: 8, capacityGb: 5, quietMs: 15_000 },
  },
  slurm: {
    sharedDir: '',
    slurmConf: '',
    binDir: '',
    partition: '',
    account: '',
    qos: '',
    extraSbatchArgs: [],
    pythonPath: '/usr/bin/python3',
    listenHost: '0.0.0.0',
    connectHost: '',
    startWaitMs: 110_000,
    timeLimitGraceMs: 120_000,
  },
  kubernetes: {
    kubeconfig: '',
    context: '',
    namespace: 'notebookd',
    storageClass: '',
    serviceDomain: 'svc.cluster.local',
    pythonPath: 'python3',
    gpuResource: 'nvidia.com/gpu',
    imagePullSecrets: [],
    allowFrom: [],
    runAsUser: 1000,
    startWaitMs: 110_000,
  },
  publicUrl: '',
  logLevel: 'info',
  lease: { ...DEFAULT_LEASE_POLICY, perFlavor: {} },
  timeouts: { createMs: 300_000, startMs: 120_000, stopGraceMs: 10_000, stopMs: 60_000, deleteMs: 120_000 },
  reconcile: { healthIntervalMs: 5_000, readinessPollMs: 200, concurrency: 32 },
  limits: { bodyBytes: 1_048_576, instancesPerUser: 50, rateLimit: { enabled: true, perSecond: 1_000, burst: 2_000 } },
  identity: { tokenLifetimeMs: 86_400_000, maxAccessKeysPerUser: 2 },
  quotas: {
    project: { instances: null, runningInstances: null, vcpus: null, gpus: null, storageGb: null, flavors: null },
    user: { instances: null, runningInstances: null, vcpus: null, gpus: null, storageGb: null },
  },
  activity: { flushIntervalMs: 5_000, pollIntervalMs: 30_000, cpuBusyCores: 0.1, probeTimeoutMs: 2_000 },
  events: {
    pollMs: 1_000,
    heartbeatMs: 15_000,
    webhooks: [],
    webhookDelivery: { maxAttempts: 10, initialBackoffMs: 2_000, maxBackoffMs: 600_000, timeoutMs: 5_000 },
  },
  metrics: { enabled: true, bearerToken: '' },
  access: { clientIpHeader: 'none', trustedProxies: [], credentialTtlMs: 3_600_000, instanceBaseUrl: '' },
  ssh: { enabled: true, host: '', port: 2222, publicHost: '' },
  flavors: [...DEFAULT_FLAVORS],
  images: [...DEFAULT_IMAGES],
  bootstrap: { projectId: '', token: '', accessKey: '', secretKey: '', adminName: 'admin', adminPassword: '' },
};

/** Flags as commander hands them over (all optional). */
export interface ConfigFlags {
  config?: string;
  host?: string;
  port?: string | number;
  dataDir?: string;
  databaseUrl?: string;
  runtime?: string;
  publicUrl?: string;
  logLevel?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ENV: Record<string, (c: Record<string, any>, v: string) => void> = {
  NOTEBOOKD_HOST: (c, v) => (c.host = v),
  NOTEBOOKD_PORT: (c, v) => (c.port = toInt('NOTEBOOKD_PORT', v)),
  NOTEBOOKD_DATA_DIR: (c, v) => (c.dataDir = v),
  NOTEBOOKD_DATABASE_URL: (c, v) => (c.databaseUrl = v),
  NOTEBOOKD_RUNTIME: (c, v) => (c.runtime = v),
  NOTEBOOKD_SANDBOX: (c, v) => (c.localRuntime.sandbox = v),
  NOTEBOOKD_STORAGE: (c, v) => (c.localRuntime.storage = v),
  NOTEBOOKD_PUBLIC_URL: (c, v) => (c.publicUrl = v),
  NOTEBOOKD_LOG_LEVEL: (c, v) => (c.logLevel = v),
  NOTEBOOKD_SSH_PORT: (c, v) => (c.ssh.port = toInt('NOTEBOOKD_SSH_PORT', v)),
  NOTEBOOKD_SSH_HOST: (c, v) => (c.ssh.host = v),
  NOTEBOOKD_BOOTSTRAP_PROJECT_ID: (c, v) => (c.bootstrap.projectId = v),
  NOTEBOOKD_BOOTSTRAP_TOKEN: (c, v) => (c.bootstrap.token = v),
  NOTEBOOKD_BOOTSTRAP_AK: (c, v) => (c.bootstrap.accessKey = v),
  NOTEBOOKD_BOOTSTRAP_SK: (c, v) => (c.bootstrap.secretKey = v),
  NOTEBOOKD_BOOTSTRAP_ADMIN_PASSWORD: (c, v) => (c.bootstrap.adminPassword = v),
  NOTEBOOKD_TOKEN_LIFETIME_MS: (c, v) => (c.identity.tokenLifetimeMs = toInt('NOTEBOOKD_TOKEN_LIFETIME_MS', v)),
};

function toInt(what: string, v: string | number): number {
  if (typeof v === 'number' ? !Number.isInteger(v) : !/^\d{1,9}$/.test(v)) throw new ConfigError(`${what} must be an integer, got '${v}'`);
  return Number(v);
}

function deepMerge(base: any, over: any): any {
  if (over === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof over !== 'object' || over === null || Array.isArray(over)) {
    return over;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** "runtime must be one of local, fake (got 'docker')" rather than "Expected union value". */
function describeError(e: ValueError): string {
  const where = e.path.replace(/^\//, '').replace(/\//g, '.') || 'configuration';
  const allowed = (e.schema.anyOf as { const?: unknown }[] | undefined)?.map((s) => s.const).filter((c) => c !== undefined);
  const got = e.value === undefined ? 'nothing' : JSON.stringify(e.value);
  if (allowed?.length) return `${where} must be one of ${allowed.join(', ')} (got ${got})`;
  if (/unexpected property|additional/i.test(e.message)) return `${where} is not a known setting`;
  return `${where}: ${e.message.toLowerCase()} (got ${got})`;
}

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env, overrides: unknown = {}): Readonly<Config> {
  let merged: any = structuredClone(DEFAULTS);
  const file = flags.config ?? env.NOTEBOOKD_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    merged = deepMerge(merged, parsed);
  }
  for (const [name, apply] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') apply(merged, v);
  }
  const fromFlags: Partial<Config> = {
    ...(flags.host !== undefined && { host: flags.host }),
    ...(flags.port !== undefined && { port: toInt('--port', flags.port) }),
    ...(flags.dataDir !== undefined && { dataDir: flags.dataDir }),
    ...(flags.databaseUrl !== undefined && { databaseUrl: flags.databaseUrl }),
    ...(flags.runtime !== undefined && { runtime: flags.runtime as Config['runtime'] }),
    ...(flags.publicUrl !== undefined && { publicUrl: flags.publicUrl }),
    ...(flags.logLevel !== undefined && { logLevel: flags.logLevel as Config['logLevel'] }),
  };
  merged = deepMerge(deepMerge(merged, fromFlags), overrides);

  if (!Value.Check(ConfigSchema, merged)) {
    const first = [...Value.Errors(ConfigSchema, merged)].slice(0, 3);
    throw new ConfigError('invalid configuration: ' + first.map(describeError).join('; '));
  }
  const lease = merged.lease;
  const leaseProblem = policyProblem(lease);
  if (leaseProblem) throw new ConfigError(`invalid configuration: lease ${leaseProblem}`);
  for (const flavorId of Object.keys(lease.perFlavor)) {
    if (!merged.flavors.some((f: { id: string }) => f.id === flavorId)) throw new ConfigError(`invalid configuration: lease.perFlavor.${flavorId} is not a flavor of the catalog`);
    const problem = policyProblem(policyForFlavor(lease, lease.perFlavor, flavorId));
    if (problem) throw new ConfigError(`invalid configuration: lease.perFlavor.${flavorId} ${problem}`);
  }
  const hookIds = new Set<string>();
  for (const hook of merged.events.webhooks) {
    hook.id ??= hook.url;
    if (hookIds.has(hook.id)) throw new ConfigError(`invalid configuration: events.webhooks has two hooks named ${hook.id}`);
    hookIds.add(hook.id);
  }
  if (merged.access.instanceBaseUrl && !/^https?:\/\/[^/?#]+\/?$/.test(merged.access.instanceBaseUrl)) {
    throw new ConfigError(`invalid configuration: access.instanceBaseUrl must be an origin like https://notebooks.example.org`);
  }
  merged.access.instanceBaseUrl = merged.access.instanceBaseUrl.replace(/\/+$/, '');
  for (const entry of merged.access.trustedProxies) {
    if (!isAddressOrCidr(entry)) throw new ConfigError(`invalid configuration: access.trustedProxies: '${entry}' is not an IP address or CIDR block`);
  }
  if (merged.databaseUrl && !/^(postgres(ql)?:\/\/|sqlite:|file:|\/|\.)/.test(merged.databaseUrl)) {
    throw new ConfigError(`invalid configuration: databaseUrl must be postgres://..., sqlite:<path> or a file path`);
  }
  merged.dataDir = resolve(merged.dataDir);
  if (!merged.publicUrl) merged.publicUrl = `http://${merged.host.includes(':') ? `[${merged.host}]` : merged.host}:${merged.port}`;
  merged.publicUrl = merged.publicUrl.replace(/\/+$/, '');
  return deepFreeze(merged as Config);
}

/** Which store the database URL selects, and where. */
export function storeLocation(config: Config): { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string } {
  const url = config.databaseUrl;
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  if (!url) return { kind: 'sqlite', path: resolve(config.dataDir, 'notebookd.db') };
  return { kind: 'sqlite', path: resolve(url.replace(/^(sqlite|file):(\/\/)?/, '')) };
}
