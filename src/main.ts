// The composition root: the only place that picks concrete implementations and wires them.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { buildServer } from './api/server.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createCredentialCache } from './auth/credential-cache.ts';
import { bootstrapIfEmpty, type BootstrapResult } from './auth/bootstrap.ts';
import { LOG_REDACTION } from './auth/log-redaction.ts';
import { systemClock, type Clock } from './clock.ts';
import { storeLocation, type Config } from './config/config.ts';
import { createFakeRuntime } from './runtime/fake/fake-runtime.ts';
import { createLocalRuntime } from './runtime/local/local-runtime.ts';
import { createSlurmRuntime } from './runtime/slurm/slurm-runtime.ts';
import type { Runtime } from './runtime/runtime.ts';
import type { ActivitySink } from './domain/activity.ts';
import { createAccess } from './proxy/access.ts';
import { createRouteTable, watchNotebookWrites } from './proxy/route-table.ts';
import { createKeyPairService } from './service/keypair-service.ts';
import { createLeaseExecutor } from './scheduler/lease-executor.ts';
import { createActivityPoller } from './scheduler/activity-poller.ts';
import { createActivitySink, type BatchingActivitySink } from './scheduler/activity-sink.ts';
import { createWebhookDispatcher } from './scheduler/webhook-dispatcher.ts';
import { createEventStreams } from './service/event-stream.ts';
import { tapEvents, type EventListener } from './service/event-stream-tap.ts';
import { registerInstanceUsageMetrics } from './metrics/instance-usage-metrics.ts';
import { createNotebookdMetrics, type NotebookdMetrics } from './metrics/notebookd-metrics.ts';
import { policyForFlavor } from './domain/lease.ts';
import { presentEvent } from './api/presenters.ts';
import { createHttpReadinessProbe } from './scheduler/readiness-probe.ts';
import { createReconciler } from './scheduler/reconciler.ts';
import { createCatalogService } from './service/catalog-service.ts';
import { createIdentityService } from './service/identity-service.ts';
import { createInstanceUsage } from './service/instance-usage.ts';
import { createNotebookService } from './service/notebook-service.ts';
import { createQuotaService } from './service/quota-service.ts';
import { createSqliteStore } from './store/sql/sqlite.ts';
import type { Store } from './store/store.ts';

export interface RunningService {
  url: string;
  store: Store;
  runtime: Runtime;
  bootstrap: BootstrapResult | null;
  /** This process's metrics (also at GET /metrics). */
  metrics: NotebookdMetrics;
  /** The lease engine's batching activity sink (the proxy and SSH gateway report to it). */
  activity: BatchingActivitySink;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  log?: Logger;
  /** Tests may bring their own runtime (e.g. a misbehaving fake). */
  runtime?: Runtime;
  /** Where the proxy and the SSH gateway report activity (tests may watch it). */
  activity?: ActivitySink;
}

/** The configured store, not yet migrated; also used by `notebookd admin`, which works on the store directly. */
export async function openStore(config: Config): Promise<Store> {
  const where = storeLocation(config);
  // Loaded only when chosen: pg and @kubernetes/client-node cost seconds of start-up (bench/api).
  if (where.kind === 'postgres') return (await import('./store/sql/postgres.ts')).createPostgresStore(where.url);
  return createSqliteStore(where.path);
}

async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  switch (config.runtime) {
    case 'local':
      return createLocalRuntime({ dataDir: config.dataDir, log: log.child({ component: 'runtime' }), ...config.localRuntime });
    case 'fake':
      return createFakeRuntime();
    case 'slurm':
      return createSlurmRuntime({ ...config.slurm, sharedDir: config.slurm.sharedDir || join(config.dataDir, 'slurm'), log: log.child({ component: 'runtime' }) });
    case 'kubernetes': {
      const { createKubernetesRuntime } = await import('./runtime/kubernetes/kubernetes-runtime.ts');
      return createKubernetesRuntime({ ...config.kubernetes, log: log.child({ component: 'runtime' }) });
    }
  }
}

/** Reports to the lease engine's sink and to a test's own observer. */
const teeActivity = (a: ActivitySink, b: ActivitySink): ActivitySink => ({
  record(id, source, at) {
    a.record(id, source, at);
    b.record(id, source, at);
  },
});

async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function startService(config: Config, opts: StartOptions = {}): Promise<RunningService> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? pino({ level: config.logLevel, base: { service: 'notebookd' }, redact: LOG_REDACTION });
  await mkdir(config.dataDir, { recursive: true });

  const metrics = createNotebookdMetrics();
  // Every event this process commits wakes event streams and webhooks and feeds the lifecycle counters.
  let onCommittedEvents: EventListener = () => {};
  const openedStore = tapEvents(await openStore(config), (events) => onCommittedEvents(events));
  // The access gateway's route table sees every notebook write as it commits (src/proxy/).
  const routes = createRouteTable({ store: openedStore, clock, log: log.child({ component: 'proxy' }) });
  const store = watchNotebookWrites(openedStore, (nb) => routes.apply(nb));
  await store.migrate();
  const bootstrap = await bootstrapIfEmpty(store, clock, config.dataDir, config.bootstrap);

  const runtime = opts.runtime ?? (await openRuntime(config, log));
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
    else if (availability.warning) log.warn({ image: image.name }, availability.warning);
  }
  // What running instances use now: ShowNotebook's `usage` and the per-instance gauges of /metrics.
  const usage = createInstanceUsage({ runtime, clock, memoryMbOf: (nb) => catalog.getFlavor(nb.flavorId)?.memoryMb ?? null });
  registerInstanceUsageMetrics(metrics.registry, {
    running: async () => (await store.notebooks.listActive()).filter((nb) => nb.status === 'RUNNING'),
    of: (nb) => usage.of(nb),
  });

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
      return {
        program: image?.program ?? 'notebook',
        vcpus: flavor?.vcpus ?? 1,
        memoryMb: flavor?.memoryMb ?? 1024,
        gpus: flavor?.gpus ?? 0,
        imageRef: image?.swrPath,
        leaseMs: nb.lease.enable ? nb.lease.requestedMs : null,
        allowedAccessIps: [...new Set(nb.endpoints.flatMap((e) => e.allowedAccessIps))],
      };
    },
  });
  const activitySink = createActivitySink({
    store,
    clock,
    log: log.child({ component: 'activity' }),
    flushIntervalMs: config.activity.flushIntervalMs,
    metrics,
  });
  const activityPoller = createActivityPoller({
    store,
    runtime,
    clock,
    log: log.child({ component: 'activity' }),
    sink: activitySink,
    pollIntervalMs: config.activity.pollIntervalMs,
    cpuBusyCores: config.activity.cpuBusyCores,
    probeTimeoutMs: config.activity.probeTimeoutMs,
    metrics,
  });
  const leaseExecutor = createLeaseExecutor({
    store,
    clock,
    log: log.child({ component: 'lease' }),
    onStopRequested: (id) => reconciler.nudge(id),
    flushActivity: (ids) => activitySink.flush(ids),
    metrics,
  });
  const eventStreams = createEventStreams({ store, clock, pollMs: config.events.pollMs, heartbeatMs: config.events.heartbeatMs, metrics });
  const webhooks = createWebhookDispatcher({
    store,
    clock,
    log: log.child({ component: 'webhooks' }),
    hooks: config.events.webhooks.map((h) => ({ ...h, id: h.id ?? h.url })),
    delivery: config.events.webhookDelivery,
    pollMs: config.events.pollMs,
    present: presentEvent,
    metrics,
  });
  onCommittedEvents = (events) => {
    metrics.observeEvents(events);
    eventStreams.notify(events.map((e) => e.notebookId));
    // Without webhooks there is nothing to deliver at once; the dispatcher's poll moves its cursor.
    if (config.events.webhooks.length > 0) webhooks.nudge();
  };
  nudgeLeaseExecutor = () => leaseExecutor.nudge();
  const quotas = createQuotaService({ store, clock, defaults: config.quotas, flavorOf: (id) => catalog.getFlavor(id) });
  const identity = createIdentityService({
    store,
    clock,
    tokenLifetimeMs: config.identity.tokenLifetimeMs,
    maxAccessKeysPerUser: config.identity.maxAccessKeysPerUser,
  });
  const keypairs = createKeyPairService({ store, clock });
  const notebooks = createNotebookService({
    keyPairsMissing: (projectId, names) => keypairs.missing(projectId, names),
    runtimeLogs: async (id) => (await runtime.logs?.(id, 64 * 1024)) ?? null,
    quotas,
    store,
    clock,
    catalog,
    leasePolicy: config.lease,
    leasePolicyFor: (flavorId) => policyForFlavor(config.lease, config.lease.perFlavor, flavorId),
    instancesPerUser: config.limits.instancesPerUser,
    notify: (id) => {
      reconciler.nudge(id);
      leaseExecutor.nudge();
    },
    // A renewed lease moves a deadline: the lease executor re-arms; the reconciler only mirrors
    // leases onto runtimes with a time limit of their own (Slurm).
    notifyLease: (id) => {
      if (runtime.leaseChanged) reconciler.nudge(id);
      leaseExecutor.nudge();
    },
  });

  // Callers by token hash for 5 s; identity writes through this process clear it (credential-cache.ts).
  const credentialCache = createCredentialCache({
    ttlMs: 5_000,
    maxEntries: 10_000,
    now: () => clock.now(),
    ...(store.externalWrites && { externalWrites: () => store.externalWrites!() }),
  });
  credentialCache.watch(store.identity);
  const proxyAuth = createAuthenticator({ store, clock, log: log.child({ component: 'auth' }) });
  const access = await createAccess({
    settings: config,
    store,
    routes,
    runtime,
    clock,
    // The lease engine's batching sink goes here once it is wired.
    activity: opts.activity ? teeActivity(activitySink, opts.activity) : activitySink,
    authenticateToken: (token) => proxyAuth({ method: 'GET', rawUrl: '/', headers: { 'x-auth-token': token }, rawBody: undefined }),
    log: log.child({ component: 'access' }),
  });

  const app = await buildServer({
    keypairs,
    frontDoor: access.proxy,
    sshAddress: access.sshAddress,
    instanceBaseUrl: config.access.instanceBaseUrl,
    usage,
    log,
    authenticate: createAuthenticator({ store, clock, log: log.child({ component: 'auth' }), cache: credentialCache }),
    identity,
    quotas,
    audit: { sink: (record) => store.audit.append(record), clock },
    notebooks,
    catalog,
    eventStreams,
    ...(config.metrics.enabled && { metrics: { render: () => metrics.registry.render(), bearerToken: config.metrics.bearerToken } }),
    publicUrl: config.publicUrl,
    bodyLimitBytes: config.limits.bodyBytes,
    rateLimit: { settings: config.limits.rateLimit, now: () => clock.now() },
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
  activitySink.start();
  activityPoller.start();
  webhooks.start();
  await access.start();
  const address = await app.listen({ host: config.host, port: config.port });
  log.info({ address, store: store.kind, runtime: runtime.kind, dataDir: config.dataDir }, 'notebookd is serving');

  return {
    url: address,
    store,
    runtime,
    bootstrap,
    metrics,
    activity: activitySink,
    async close() {
      await access.close();
      await app.close();
      await activityPoller.stop();
      await activitySink.stop();
      await webhooks.stop();
      await leaseExecutor.stop();
      await reconciler.stop();
      await runtime.close?.();
      await store.close();
    },
  };
}
