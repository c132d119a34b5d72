// The composition root: the only place that picks concrete implementations and wires them.
import { mkdir, readFile } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { buildServer } from './api/server.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { bootstrapIfEmpty, type BootstrapResult } from './auth/bootstrap.ts';
import { systemClock, type Clock } from './clock.ts';
import { storeLocation, type Config } from './config/config.ts';
import { createFakeRuntime } from './runtime/fake/fake-runtime.ts';
import { createLocalRuntime } from './runtime/local/local-runtime.ts';
import type { Runtime } from './runtime/runtime.ts';
import { createLeaseExecutor } from './scheduler/lease-executor.ts';
import { createHttpReadinessProbe } from './scheduler/readiness-probe.ts';
import { createReconciler } from './scheduler/reconciler.ts';
import { createCatalogService } from './service/catalog-service.ts';
import { createNotebookService } from './service/notebook-service.ts';
import { createPostgresStore } from './store/sql/postgres.ts';
import { createSqliteStore } from './store/sql/sqlite.ts';
import type { Store } from './store/store.ts';

export interface RunningService {
  url: string;
  store: Store;
  runtime: Runtime;
  bootstrap: BootstrapResult | null;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  log?: Logger;
  /** Tests may bring their own runtime (e.g. a misbehaving fake). */
  runtime?: Runtime;
}

async function openStore(config: Config): Promise<Store> {
  const where = storeLocation(config);
  if (where.kind === 'postgres') return createPostgresStore(where.url);
  return createSqliteStore(where.path);
}

function openRuntime(config: Config, log: Logger): Runtime {
  switch (config.runtime) {
    case 'local':
      return createLocalRuntime({ dataDir: config.dataDir, log: log.child({ component: 'runtime' }) });
    case 'fake':
      return createFakeRuntime();
  }
}

async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function startService(config: Config, opts: StartOptions = {}): Promise<RunningService> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? pino({ level: config.logLevel, base: { service: 'notebookd' } });
  await mkdir(config.dataDir, { recursive: true });

  const store = await openStore(config);
  await store.migrate();
  const bootstrap = await bootstrapIfEmpty(store, clock, config.dataDir, config.bootstrap);

  const runtime = opts.runtime ?? openRuntime(config, log);
  const catalog = createCatalogService({
    store,
    clock,
    flavors: config.flavors,
    images: config.images,
    checkImage: (program) => runtime.checkImage(program),
  });
  for (const image of config.images) {
    const availability = await runtime.checkImage(image.program);
    if (!availability.available) log.warn({ image: image.name }, availability.message);
  }

  // The two loops nudge each other: a stop the executor requests is carried out by the
  // reconciler, and an instance the reconciler brings up gets a deadline the executor must see.
  let nudgeLeaseExecutor = () => {};
  const reconciler = createReconciler({
    onRunning: () => nudgeLeaseExecutor(),
    store,
    runtime,
    clock,
    log: log.child({ component: 'reconciler' }),
    probe: createHttpReadinessProbe(),
    timeouts: config.timeouts,
    settings: config.reconcile,
    describe: async (nb) => {
      const flavor = catalog.getFlavor(nb.flavorId);
      const image = await catalog.imageOrPlaceholder(nb.projectId, nb.imageId);
      return { program: image?.program ?? 'notebook', vcpus: flavor?.vcpus ?? 1, memoryMb: flavor?.memoryMb ?? 1024 };
    },
  });
  const leaseExecutor = createLeaseExecutor({
    store,
    clock,
    log: log.child({ component: 'lease' }),
    onStopRequested: (id) => reconciler.nudge(id),
  });
  nudgeLeaseExecutor = () => leaseExecutor.nudge();
  const notebooks = createNotebookService({
    store,
    clock,
    catalog,
    leasePolicy: config.lease,
    instancesPerUser: config.limits.instancesPerUser,
    notify: (id) => {
      reconciler.nudge(id);
      leaseExecutor.nudge();
    },
  });

  const app = await buildServer({
    log,
    authenticate: createAuthenticator({ store, clock }),
    notebooks,
    catalog,
    publicUrl: config.publicUrl,
    bodyLimitBytes: config.limits.bodyBytes,
    version: await packageVersion(),
    ready: async (): Promise<{ ready: boolean; checks: Record<string, string> }> => {
      try {
        await store.ping();
        return { ready: true, checks: { store: 'ok', runtime: runtime.kind } };
      } catch (e) {
        return { ready: false, checks: { store: (e as Error).message } };
      }
    },
  });

  // Adopt or mark what was running before a restart, then honour overdue leases, then serve.
  reconciler.start();
  leaseExecutor.start();
  const address = await app.listen({ host: config.host, port: config.port });
  log.info({ address, store: store.kind, runtime: runtime.kind, dataDir: config.dataDir }, 'notebookd is serving');

  return {
    url: address,
    store,
    runtime,
    bootstrap,
    async close() {
      await app.close();
      await leaseExecutor.stop();
      await reconciler.stop();
      await runtime.close?.();
      await store.close();
    },
  };
}
