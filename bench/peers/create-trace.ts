// Where a CreateNotebook's time goes, step by step, beside a StartNotebook of the same instances:
// an in-process notebookd (the defaults of `serve --runtime local`) whose local runtime is wrapped
// to timestamp every call and progress report. Prints, per phase, the median (one at a time) and
// the median and maximum (N at once) of when it began and how long it took, from the API call.
//
//   node --import tsx bench/peers/create-trace.ts        # BENCH_ROUNDS (3), BENCH_CONCURRENCY (20), BENCH_POOL_SIZE, BENCH_POOL_QUIET_MS
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { startService } from '../../src/main.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { killLeftoverServers, localHandleOf } from '../../test/support/notebookd-process.ts';
import { answers200, median, POLL_MS, sleep, until } from './common.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_CONCURRENCY ?? 20);
const PROJECT = 'bea0bea0bea0bea0bea0bea0bea0bea0';
const TOKEN = 'nbd_create-trace-token';
const IMAGE = '5b1f7c1e-8a7d-4c1e-9d2a-000000000001';
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** Per instance: phase name → [beganAt, endedAt] (epoch ms). */
type Trace = Map<string, [number, number]>;
const traces = new Map<string, Trace>();
const mark = (id: string, phase: string, beganAt: number, endedAt = Date.now()) => {
  let t = traces.get(id);
  if (!t) traces.set(id, (t = new Map()));
  // A repeated phase (the launch step's own prepare) gets a suffix.
  let name = phase;
  for (let i = 2; t.has(name); i++) name = `${phase}#${i}`;
  t.set(name, [beganAt, endedAt]);
};

function traced(inner: Runtime): Runtime {
  return {
    ...inner,
    async prepare(spec, report) {
      const began = Date.now();
      let stepAt = began;
      try {
        await inner.prepare(spec, async (step, status) => {
          const at = Date.now();
          if (status === 'COMPLETED') mark(spec.instanceId, `  step ${step} work`, stepAt, at);
          await report(step, status);
          mark(spec.instanceId, `  step ${step} ${status === 'PROCESSING' ? 'begun' : 'done'}: store write`, at);
          stepAt = Date.now();
        });
      } finally {
        mark(spec.instanceId, 'runtime.prepare', began);
      }
    },
    async start(spec) {
      const began = Date.now();
      try {
        return await inner.start(spec);
      } finally {
        mark(spec.instanceId, 'runtime.start', began);
      }
    },
  };
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'notebookd-create-trace-'));
  // BENCH_POOL_SIZE: the volume pool's size instead of the default (0: no pool, as before it existed).
  const volumePool = {
    ...(process.env.BENCH_POOL_SIZE !== undefined && { size: Number(process.env.BENCH_POOL_SIZE) }),
    ...(process.env.BENCH_POOL_QUIET_MS !== undefined && { quietMs: Number(process.env.BENCH_POOL_QUIET_MS) }),
  };
  const poolSize = { localRuntime: { volumePool } };
  const config = loadConfig({ port: 0, dataDir, runtime: 'local' }, { NOTEBOOKD_BOOTSTRAP_PROJECT_ID: PROJECT, NOTEBOOKD_BOOTSTRAP_TOKEN: TOKEN }, { logLevel: 'warn', ssh: { enabled: false }, ...poolSize });
  const log = pino({ level: 'warn' });
  const runtime = traced(createLocalRuntime({ dataDir, log: log.child({ component: 'runtime' }), ...config.localRuntime }));
  const svc = await startService(config, { log, runtime });
  const headers = { 'X-Auth-Token': TOKEN, 'content-type': 'application/json' };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc.url}/v1/${PROJECT}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const ready = (id: string, token: string, pollMs: number) => until(`${id} ready`, 180_000, pollMs, () => answers200(`${svc.url}/nb/${id}/api/status`, { Authorization: `token ${token}` }));

  /** One CreateNotebook (or StartNotebook) to ready; its trace relative to the API call. */
  async function run(kind: 'create' | 'start', nameOrId: string, pollMs: number): Promise<{ id: string; trace: Trace }> {
    const began = Date.now();
    const res = kind === 'create'
      ? await api('POST', '/notebooks', { name: nameOrId, flavor: 'modelarts.vm.cpu.2u', image_id: IMAGE, volume: { category: 'evs', ownership: 'managed', capacity: 5 }, lease: { duration: 4 * 3_600_000, type: 'timing' } })
      : await api('POST', `/notebooks/${nameOrId}/start`);
    if (res.status !== 200) throw new Error(`${kind} answered ${res.status} ${JSON.stringify(res.body)}`);
    const id = res.body.id as string;
    const answeredAt = Date.now();
    await ready(id, res.body.token, pollMs);
    const t = traces.get(id) ?? new Map();
    traces.delete(id);
    t.set('API answered', [began, answeredAt]);
    t.set('ready through the proxy', [began, Date.now()]);
    const rel: Trace = new Map([...t].map(([k, [a, b]]) => [k, [a - began, b - began]]));
    return { id, trace: rel };
  }
  /** As bench/peers gives it time to between its phases: the volume pool refilled. */
  const poolRefilled = () =>
    until('the volume pool to refill', 60_000, 100, async () => {
      const names = await readdir(join(dataDir, 'volume-pool')).catch(() => [] as string[]);
      return names.filter((n) => /^\d+g-.*\.img$/.test(n)).length >= config.localRuntime.volumePool.size;
    });
  async function stop(id: string) {
    await api('POST', `/notebooks/${id}/stop`);
    await until(`${id} STOPPED`, 120_000, 50, async () => (await api('GET', `/notebooks/${id}`)).body.status === 'STOPPED');
  }

  const print = (title: string, runs: Trace[]) => {
    console.log(`\n${title}`);
    const names = [...new Set(runs.flatMap((t) => [...t.keys()]))].sort((a, b) => median(runs.map((t) => t.get(a)?.[0] ?? NaN)) - median(runs.map((t) => t.get(b)?.[0] ?? NaN)));
    for (const name of names) {
      const seen = runs.filter((t) => t.has(name));
      const at = seen.map((t) => t.get(name)![0]);
      const took = seen.map((t) => t.get(name)![1] - t.get(name)![0]);
      const many = runs.length > 1 && N > 1 && runs.length === N;
      console.log(`  ${name.padEnd(34)} at ${String(median(at)).padStart(5)} ms  took ${String(median(took)).padStart(5)} ms${many ? `  (max: at ${Math.max(...at)}, took ${Math.max(...took)})` : ''}`);
    }
  };

  try {
    console.log(`create-trace: load ${load()}`);
    const creates: Trace[] = [];
    const starts: Trace[] = [];
    for (let r = 0; r <= ROUNDS; r++) {
      await poolRefilled();
      const c = await run('create', `trace-${r}`, POLL_MS.single);
      await stop(c.id);
      const s = await run('start', c.id, POLL_MS.single);
      await stop(c.id);
      if (r > 0) creates.push(c.trace), starts.push(s.trace);
    }
    print(`CreateNotebook, one (median of ${ROUNDS})`, creates);
    print(`StartNotebook, one (median of ${ROUNDS})`, starts);

    await poolRefilled();
    console.log(`\n(the volume pool holds ${config.localRuntime.volumePool.size} images of ${config.localRuntime.volumePool.capacityGb} GB before each create)`);
    const batchAt = Date.now();
    const many = await Promise.all(Array.from({ length: N }, (_, i) => run('create', `crowd-${i}`, POLL_MS.concurrent)));
    const createAll = Date.now() - batchAt;
    await Promise.all(many.map((m) => stop(m.id)));
    const startAt = Date.now();
    const again = await Promise.all(many.map((m) => run('start', m.id, POLL_MS.concurrent)));
    const startAll = Date.now() - startAt;
    print(`CreateNotebook, ${N} at once: all ready in ${createAll} ms`, many.map((m) => m.trace));
    print(`StartNotebook, ${N} at once: all ready in ${startAll} ms`, again.map((m) => m.trace));
    console.log(`\nload at the end: ${load()}`);
  } finally {
    const all = await svc.store.notebooks.listActive().catch(() => []);
    await svc.close();
    await killLeftoverServers(dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await sleep(100);
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
}

await main();
