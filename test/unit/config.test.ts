// loadConfig: defaults < JSON file < NOTEBOOKD_* environment < flags; validated once and frozen.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, DEFAULTS, loadConfig, storeLocation, type ConfigFlags } from '../../src/config/config.ts';
import { DEFAULT_LEASE_POLICY, HOUR_MS } from '../../src/domain/lease.ts';

const NO_ENV: NodeJS.ProcessEnv = {};

const dir = mkdtempSync(join(tmpdir(), 'notebookd-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a config file and returns its path. */
function configFile(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** What assert.throws checks for a configuration refusal. */
const configError = (message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
  assert.equal(e.name, 'ConfigError');
  assert.match(e.message, message);
  return true;
};

describe('defaults', () => {
  const config = loadConfig({}, NO_ENV);

  const table: { field: string; actual: unknown; expected: unknown }[] = [
    { field: 'host', actual: config.host, expected: '127.0.0.1' },
    { field: 'port', actual: config.port, expected: 8080 },
    { field: 'dataDir (./data, resolved)', actual: config.dataDir, expected: resolve(process.cwd(), 'data') },
    { field: 'runtime', actual: config.runtime, expected: 'local' },
    { field: 'databaseUrl', actual: config.databaseUrl, expected: '' },
    { field: 'publicUrl', actual: config.publicUrl, expected: 'http://127.0.0.1:8080' },
    { field: 'logLevel', actual: config.logLevel, expected: 'info' },
    { field: 'lease', actual: config.lease, expected: { ...DEFAULT_LEASE_POLICY, perFlavor: {} } },
    { field: 'bootstrap.adminName', actual: config.bootstrap.adminName, expected: 'admin' },
  ];
  for (const c of table) {
    it(`${c.field} = ${JSON.stringify(c.expected)}`, () => assert.deepEqual(c.actual, c.expected));
  }

  it('the lease defaults to 1 h within 1 h .. 72 h', () => {
    assert.equal(config.lease.minMs, HOUR_MS);
    assert.equal(config.lease.defaultMs, HOUR_MS);
    assert.equal(config.lease.maxMs, 72 * HOUR_MS);
  });

  it('the store is the SQLite file notebookd.db in the data directory', () => {
    assert.deepEqual(storeLocation(config), { kind: 'sqlite', path: join(resolve('data'), 'notebookd.db') });
  });

  it('ships at least one flavor and one image', () => {
    assert.ok(config.flavors.length > 0, 'flavors');
    assert.ok(config.images.length > 0, 'images');
  });
});

describe('NOTEBOOKD_* environment variables', () => {
  const table: { env: string; value: string; read: (c: ReturnType<typeof loadConfig>) => unknown; expected: unknown }[] = [
    { env: 'NOTEBOOKD_HOST', value: '0.0.0.0', read: (c) => c.host, expected: '0.0.0.0' },
    { env: 'NOTEBOOKD_PORT', value: '9090', read: (c) => c.port, expected: 9090 },
    { env: 'NOTEBOOKD_DATA_DIR', value: '/srv/notebookd', read: (c) => c.dataDir, expected: '/srv/notebookd' },
    { env: 'NOTEBOOKD_DATA_DIR', value: 'relative/dir', read: (c) => c.dataDir, expected: resolve('relative/dir') },
    { env: 'NOTEBOOKD_DATABASE_URL', value: 'postgres://nb:secret@db:5432/notebookd', read: (c) => c.databaseUrl, expected: 'postgres://nb:secret@db:5432/notebookd' },
    { env: 'NOTEBOOKD_RUNTIME', value: 'fake', read: (c) => c.runtime, expected: 'fake' },
    { env: 'NOTEBOOKD_PUBLIC_URL', value: 'https://nb.example.org/', read: (c) => c.publicUrl, expected: 'https://nb.example.org' },
    { env: 'NOTEBOOKD_LOG_LEVEL', value: 'debug', read: (c) => c.logLevel, expected: 'debug' },
    { env: 'NOTEBOOKD_BOOTSTRAP_PROJECT_ID', value: 'p-42', read: (c) => c.bootstrap.projectId, expected: 'p-42' },
    { env: 'NOTEBOOKD_BOOTSTRAP_TOKEN', value: 'tok', read: (c) => c.bootstrap.token, expected: 'tok' },
    { env: 'NOTEBOOKD_BOOTSTRAP_AK', value: 'AKEXAMPLE', read: (c) => c.bootstrap.accessKey, expected: 'AKEXAMPLE' },
    { env: 'NOTEBOOKD_BOOTSTRAP_SK', value: 'SKEXAMPLE', read: (c) => c.bootstrap.secretKey, expected: 'SKEXAMPLE' },
    { env: 'NOTEBOOKD_BOOTSTRAP_ADMIN_PASSWORD', value: 'hunter2hunter2', read: (c) => c.bootstrap.adminPassword, expected: 'hunter2hunter2' },
  ];
  for (const c of table) {
    it(`${c.env}=${c.value} → ${JSON.stringify(c.expected)}`, () => {
      assert.deepEqual(c.read(loadConfig({}, { [c.env]: c.value })), c.expected);
    });
  }

  it('an empty variable counts as unset', () => {
    const config = loadConfig({}, { NOTEBOOKD_HOST: '', NOTEBOOKD_PORT: '' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
  });

  it('NOTEBOOKD_CONFIG names the file; --config wins over it', () => {
    const fromEnv = configFile({ port: 7001 });
    const fromFlag = configFile({ port: 7002 });
    assert.equal(loadConfig({}, { NOTEBOOKD_CONFIG: fromEnv }).port, 7001);
    assert.equal(loadConfig({ config: fromFlag }, { NOTEBOOKD_CONFIG: fromEnv }).port, 7002);
  });
});

describe('precedence: file < environment < flags', () => {
  const file = configFile({
    host: '10.0.0.1',
    port: 9001,
    dataDir: '/srv/from-file',
    databaseUrl: 'sqlite:/srv/from-file.db',
    runtime: 'fake',
    publicUrl: 'https://file.example.org',
    logLevel: 'warn',
  });
  const env: NodeJS.ProcessEnv = { NOTEBOOKD_HOST: '10.0.0.2', NOTEBOOKD_PORT: '9002', NOTEBOOKD_DATA_DIR: '/srv/from-env', NOTEBOOKD_LOG_LEVEL: 'error' };
  const flags: ConfigFlags = { config: file, host: '10.0.0.3', port: '9003' };

  const table: { name: string; flags: ConfigFlags; env: NodeJS.ProcessEnv; expected: Record<string, unknown> }[] = [
    {
      name: 'the file overrides the defaults',
      flags: { config: file },
      env: NO_ENV,
      expected: { host: '10.0.0.1', port: 9001, dataDir: '/srv/from-file', databaseUrl: 'sqlite:/srv/from-file.db', runtime: 'fake', publicUrl: 'https://file.example.org', logLevel: 'warn' },
    },
    {
      name: 'the environment overrides the file',
      flags: { config: file },
      env,
      expected: { host: '10.0.0.2', port: 9002, dataDir: '/srv/from-env', databaseUrl: 'sqlite:/srv/from-file.db', runtime: 'fake', logLevel: 'error' },
    },
    {
      name: 'flags override the environment and the file',
      flags,
      env,
      expected: { host: '10.0.0.3', port: 9003, dataDir: '/srv/from-env', runtime: 'fake', logLevel: 'error' },
    },
    {
      name: 'every flag',
      flags: { config: file, host: '::1', port: 9004, dataDir: '/srv/from-flag', databaseUrl: 'postgres://db/nb', runtime: 'local', publicUrl: 'https://flag.example.org/', logLevel: 'trace' },
      env,
      expected: { host: '::1', port: 9004, dataDir: '/srv/from-flag', databaseUrl: 'postgres://db/nb', runtime: 'local', publicUrl: 'https://flag.example.org', logLevel: 'trace' },
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const config = loadConfig(c.flags, c.env) as unknown as Record<string, unknown>;
      for (const [field, expected] of Object.entries(c.expected)) assert.deepEqual(config[field], expected, field);
    });
  }

  it('a file sets nested settings without losing their siblings', () => {
    const config = loadConfig({ config: configFile({ lease: { maxMs: 8 * HOUR_MS }, timeouts: { startMs: 5_000 } }) }, NO_ENV);
    assert.deepEqual(config.lease, { ...DEFAULT_LEASE_POLICY, perFlavor: {}, maxMs: 8 * HOUR_MS });
    assert.deepEqual(config.timeouts, { ...DEFAULTS.timeouts, startMs: 5_000 });
  });

  it('the public URL defaults to the effective host and port, brackets around IPv6', () => {
    assert.equal(loadConfig({ host: '::1', port: 9005 }, NO_ENV).publicUrl, 'http://[::1]:9005');
    assert.equal(loadConfig({}, { NOTEBOOKD_HOST: '10.1.2.3', NOTEBOOKD_PORT: '80' }).publicUrl, 'http://10.1.2.3:80');
  });
});

describe('storeLocation', () => {
  const table: { databaseUrl: string; expected: ReturnType<typeof storeLocation> }[] = [
    { databaseUrl: '', expected: { kind: 'sqlite', path: '/srv/nb/notebookd.db' } },
    { databaseUrl: 'postgres://nb:secret@db:5432/notebookd', expected: { kind: 'postgres', url: 'postgres://nb:secret@db:5432/notebookd' } },
    { databaseUrl: 'postgresql://db/notebookd', expected: { kind: 'postgres', url: 'postgresql://db/notebookd' } },
    { databaseUrl: 'sqlite:/var/lib/nb.db', expected: { kind: 'sqlite', path: '/var/lib/nb.db' } },
    { databaseUrl: 'file:///var/lib/nb.db', expected: { kind: 'sqlite', path: '/var/lib/nb.db' } },
    { databaseUrl: '/var/lib/nb.db', expected: { kind: 'sqlite', path: '/var/lib/nb.db' } },
  ];
  for (const c of table) {
    it(`${JSON.stringify(c.databaseUrl)} → ${c.expected.kind}`, () => {
      const config = loadConfig({}, { NOTEBOOKD_DATA_DIR: '/srv/nb', NOTEBOOKD_DATABASE_URL: c.databaseUrl });
      assert.deepEqual(storeLocation(config), c.expected);
    });
  }
});

describe('invalid configuration throws ConfigError with a clear message', () => {
  const table: { name: string; flags?: ConfigFlags; env?: NodeJS.ProcessEnv; file?: unknown; message: RegExp }[] = [
    { name: 'a port that is not a number (env)', env: { NOTEBOOKD_PORT: 'http' }, message: /NOTEBOOKD_PORT must be an integer, got 'http'/ },
    { name: 'a port that is not a number (flag)', flags: { port: '80a' }, message: /--port must be an integer, got '80a'/ },
    { name: 'a fractional port', env: { NOTEBOOKD_PORT: '80.5' }, message: /NOTEBOOKD_PORT must be an integer/ },
    { name: 'a port above 65535', env: { NOTEBOOKD_PORT: '70000' }, message: /port/ },
    { name: 'a negative port', flags: { port: -1 }, message: /port/ },
    { name: 'a port of the wrong type in the file', file: { port: '8080' }, message: /port/ },
    { name: 'an unknown runtime (env)', env: { NOTEBOOKD_RUNTIME: 'docker' }, message: /runtime.*(docker|local)/ },
    { name: 'an unknown runtime (flag)', flags: { runtime: 'nomad' }, message: /runtime.*(nomad|local)/ },
    { name: 'an unknown log level', env: { NOTEBOOKD_LOG_LEVEL: 'loud' }, message: /logLevel/ },
    { name: 'lease min > max', file: { lease: { minMs: 2 * HOUR_MS, maxMs: HOUR_MS, defaultMs: HOUR_MS } }, message: /lease.*minMs <= defaultMs <= maxMs/ },
    { name: 'a lease default outside its bounds', file: { lease: { defaultMs: 100 * HOUR_MS } }, message: /lease/ },
    { name: 'a database URL of an unsupported kind', env: { NOTEBOOKD_DATABASE_URL: 'mysql://db/nb' }, message: /databaseUrl must be postgres:\/\/\.\.\., sqlite:<path> or a file path/ },
    { name: 'an empty host', file: { host: '' }, message: /host/ },
    { name: 'no flavors', file: { flavors: [] }, message: /flavors/ },
    { name: 'an unknown key (a typo) in the file', file: { prot: 9000 }, message: /prot/ },
    { name: 'a file that is not JSON', file: '{ "port": 9000, }', message: /cannot read config file .*config-\d+\.json/ },
  ];
  for (const c of table) {
    it(c.name, () => {
      const flags: ConfigFlags = { ...c.flags, ...(c.file !== undefined && { config: configFile(c.file) }) };
      assert.throws(() => loadConfig(flags, c.env ?? NO_ENV), configError(c.message));
    });
  }

  it('a missing file', () => {
    const missing = join(dir, 'does-not-exist.json');
    assert.throws(() => loadConfig({ config: missing }, NO_ENV), configError(new RegExp(`cannot read config file ${missing}`)));
  });
});

describe('the result is frozen', () => {
  const config = loadConfig({ port: 9100 }, NO_ENV);

  it('at every level', () => {
    for (const [name, value] of Object.entries({
      config,
      lease: config.lease,
      timeouts: config.timeouts,
      reconcile: config.reconcile,
      limits: config.limits,
      bootstrap: config.bootstrap,
      flavors: config.flavors,
      'flavors[0]': config.flavors[0],
      images: config.images,
    })) {
      assert.ok(Object.isFrozen(value), `${name} is frozen`);
    }
  });

  it('assignments throw', () => {
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.lease as { maxMs: number }).maxMs = 1;
    }, TypeError);
    assert.equal(config.port, 9100);
  });

  it('loading does not touch the defaults, and each load is independent', () => {
    const other = loadConfig({}, NO_ENV);
    assert.equal(other.port, 8080);
    assert.equal(DEFAULTS.port, 8080);
    assert.equal(DEFAULTS.dataDir, './data');
    assert.ok(!Object.isFrozen(DEFAULTS), 'DEFAULTS stays a plain object');
    assert.notEqual(other.lease, config.lease);
  });
});
