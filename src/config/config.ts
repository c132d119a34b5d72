// Configuration is read once, from (lowest to highest precedence) built-in defaults, a JSON
// file, NOTEBOOKD_* environment variables and command-line flags; then validated and frozen.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { DEFAULT_LEASE_POLICY } from '../domain/lease.ts';
import { DEFAULT_FLAVORS, DEFAULT_IMAGES } from './catalog.ts';

const Strict = { additionalProperties: false } as const;

const LeasePolicySchema = Type.Object({
  minMs: Type.Integer({ minimum: 1 }),
  maxMs: Type.Integer({ minimum: 1 }),
  defaultMs: Type.Integer({ minimum: 1 }),
  allowDisable: Type.Boolean(),
  warningLeadMs: Type.Integer({ minimum: 0 }),
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

const ConfigSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  dataDir: Type.String({ minLength: 1 }),
  /** Empty means the SQLite file <dataDir>/notebookd.db. */
  databaseUrl: Type.String(),
  runtime: Type.Union([Type.Literal('local'), Type.Literal('fake')]),
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
    instancesPerUser: Type.Integer({ minimum: 1 }),
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
  publicUrl: '',
  logLevel: 'info',
  lease: { ...DEFAULT_LEASE_POLICY },
  timeouts: { createMs: 300_000, startMs: 120_000, stopGraceMs: 10_000, stopMs: 60_000, deleteMs: 120_000 },
  reconcile: { healthIntervalMs: 5_000, readinessPollMs: 200, concurrency: 16 },
  limits: { bodyBytes: 1_048_576, instancesPerUser: 50 },
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
  NOTEBOOKD_PUBLIC_URL: (c, v) => (c.publicUrl = v),
  NOTEBOOKD_LOG_LEVEL: (c, v) => (c.logLevel = v),
  NOTEBOOKD_BOOTSTRAP_PROJECT_ID: (c, v) => (c.bootstrap.projectId = v),
  NOTEBOOKD_BOOTSTRAP_TOKEN: (c, v) => (c.bootstrap.token = v),
  NOTEBOOKD_BOOTSTRAP_AK: (c, v) => (c.bootstrap.accessKey = v),
  NOTEBOOKD_BOOTSTRAP_SK: (c, v) => (c.bootstrap.secretKey = v),
  NOTEBOOKD_BOOTSTRAP_ADMIN_PASSWORD: (c, v) => (c.bootstrap.adminPassword = v),
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
  if (!(lease.minMs <= lease.defaultMs && lease.defaultMs <= lease.maxMs)) {
    throw new ConfigError('invalid configuration: lease must satisfy minMs <= defaultMs <= maxMs');
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
