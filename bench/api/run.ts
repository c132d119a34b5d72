// bench/api: the API's throughput and latency with 10,000 instances in a real SQLite store, next to
// a bare node:http server answering a fixed 1 KiB JSON body (the ceiling of this machine), in one
// run: authenticated ShowNotebook, ListNotebooks (a page of 50, filtered) and RenewLease, each with
// autocannon at 10 connections. Then the time from process start to /readyz = 200 with 100,000
// instance records in the store (and with an empty one, for reference).
//
//   node --import tsx bench/api/run.ts
//   (BENCH_SECONDS per measurement, default 10; BENCH_CONNECTIONS, default 10;
//    BENCH_INSTANCES, default 10000; BENCH_STARTUP_INSTANCES, default 100000; BENCH_RENEW_SPREAD, default 100;
//    BENCH_PROFILE=<dir> to have notebookd write V8 CPU profiles there; BENCH_ONLY=show|list|renew: that endpoint only, no start-up runs)
//
// notebookd (the real binary, `--runtime fake`: no Jupyter is needed to answer the API) and the
// bare server each run in a process of their own; autocannon runs in this one. The records are
// written straight through the store before notebookd starts. Rate limiting stays on, with a
// bucket too large to trip, so its cost is in the figures.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon, { type Options as AutocannonOptions } from 'autocannon';
import { bootstrapIfEmpty } from '../../src/auth/bootstrap.ts';
import { systemClock } from '../../src/clock.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import { BENCH_IMAGE, populate } from './records.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000);
const STARTUP_INSTANCES = Number(process.env.BENCH_STARTUP_INSTANCES ?? 100_000);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const TOKEN = `nbd_${randomBytes(24).toString('base64url')}`;
/** Running instances the second RenewLease measurement spreads its renewals over. */
const SPREAD_TARGETS = Number(process.env.BENCH_RENEW_SPREAD ?? 100);
const TARGETS = { showVsBare: 0.5, renewVsBare: 0.25, listP99Ms: 50, readyMs: 2_000 };

const children = new Set<ChildProcess>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (code && code !== 0) console.error(`child ${args.slice(0, 2).join(' ')} exited ${code ?? signal}: ${err}`);
  });
  children.add(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** The server process's CPU time (user + system) per request: steadier than req/s on a shared machine. */
  cpuUsPerRequest: number;
  /** autocannon's (this process's) CPU time per request. */
  clientCpuUsPerRequest: number;
}

/** User + system CPU time of a process so far, in µs (/proc/<pid>/stat, clock ticks). */
async function cpuUs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

async function measure(url: string, server: ChildProcess, opts: Pick<AutocannonOptions, 'method' | 'headers' | 'body' | 'requests'> = {}): Promise<Figures> {
  const base = { url, connections: CONNECTIONS, ...opts };
  await autocannon({ ...base, duration: 2 }); // warm-up: connections, JIT, caches
  const cpuBefore = await cpuUs(server.pid!);
  const clientBefore = process.cpuUsage();
  const r = await autocannon({ ...base, duration: SECONDS });
  const cpu = (await cpuUs(server.pid!)) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  const n = Math.max(1, r.requests.total);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, cpuUsPerRequest: cpu / n, clientCpuUsPerRequest: (client.user + client.system) / n };
}

const fmt = (f: Figures) =>
  `${Math.round(f.rps).toString().padStart(6)} req/s  p50 ${f.p50} ms  p99 ${f.p99} ms  ${f.cpuUsPerRequest.toFixed(1)} µs CPU/req (autocannon ${f.clientCpuUsPerRequest.toFixed(1)})${f.non2xx || f.errors ? `  (${f.non2xx} non-2xx, ${f.errors} errors)` : ''}`;

const BARE_SERVER = `
const body = JSON.stringify({ data: 'x'.repeat(1024 - 12) });
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;


async function prepareStore(dataDir: string, count: number): Promise<void> {
  const store = await createSqliteStore(join(dataDir, 'notebookd.db'));
  await store.migrate();
  const boot = await bootstrapIfEmpty(store, systemClock, dataDir, { projectId: PROJECT, token: TOKEN, accessKey: '', secretKey: '', adminName: 'admin', adminPassword: '' });
  if (!boot) throw new Error('the bench store was not empty');
  const t = Date.now();
  await populate(store, { id: boot.userId, name: boot.userName, domainId: PROJECT, domainName: 'default' }, count, Date.now() - count * 1000);
  console.log(`  wrote ${count} instance records through the store in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  await store.close();
}

const nbdEnv = { ...process.env, NOTEBOOKD_BOOTSTRAP_PROJECT_ID: PROJECT, NOTEBOOKD_BOOTSTRAP_TOKEN: TOKEN };

async function startNotebookd(dataDir: string, port: number): Promise<{ child: ChildProcess; readyMs: number }> {
  const config = join(dataDir, 'bench-config.json');
  // The bucket never empties: the limiter runs on every request without refusing any.
  await writeFile(config, JSON.stringify({ limits: { instancesPerUser: 1_000_000, rateLimit: { enabled: true, perSecond: 1e9, burst: 1e9 } } }));
  const t0 = performance.now();
  // BENCH_PROFILE=<dir>: notebookd writes a V8 CPU profile there when it exits (for optimisation work).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  const child = start([...profile, 'bin/notebookd.js', 'serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'error', '--runtime', 'fake', '--config', config], nbdEnv);
  await until('notebookd /readyz', 120_000, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
  return { child, readyMs: performance.now() - t0 };
}

async function main() {
  console.log(`bench/api — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`autocannon: ${CONNECTIONS} connections, ${SECONDS} s per measurement after a 2 s warm-up\n`);

  // The ceiling: a bare node:http server.
  const barePort = await freePort();
  const bare = start(['-e', BARE_SERVER], { ...process.env, PORT: String(barePort) });
  await until('the bare server', 10_000, async () => (await fetch(`http://127.0.0.1:${barePort}/`)).ok);

  // notebookd on a store with INSTANCES records.
  const dataDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-api-'));
  console.log(`store with ${INSTANCES} instances:`);
  await prepareStore(dataDir, INSTANCES);
  const port = await freePort();
  const nbd = await startNotebookd(dataDir, port);
  console.log(`  notebookd ready ${Math.round(nbd.readyMs)} ms after spawn\n`);
  const base = `http://127.0.0.1:${port}/v1/${PROJECT}/notebooks`;
  const auth = { 'X-Auth-Token': TOKEN };

  // RenewLease targets must be RUNNING: created through the API. One takes every renewal (ten
  // clients prolonging one instance); SPREAD_TARGETS share them round-robin (many users at once).
  const createRunning = async (name: string): Promise<string> => {
    const created = await fetch(base, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name, flavor: 'modelarts.vm.cpu.2u', image_id: BENCH_IMAGE, volume: { category: 'EVS', capacity: 5 } }),
    });
    const nb = (await created.json()) as { id: string };
    if (created.status !== 200) throw new Error(`creating ${name} failed: ${JSON.stringify(nb)}`);
    await until(`${name} to run`, 30_000, async () => ((await (await fetch(`${base}/${nb.id}`, { headers: auth })).json()) as { status: string }).status === 'RUNNING');
    return nb.id;
  };
  const target = { id: await createRunning('bench-target') };
  const spread: string[] = [];
  for (let i = 0; i < SPREAD_TARGETS; i++) spread.push(await createRunning(`bench-spread-${i}`));
  let nextSpread = 0;
  const renewBody = JSON.stringify({ duration: 7_200_000 });
  const renewOpts = { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: renewBody };

  const listUrl = `${base}?limit=50&offset=50&status=STOPPED&name=nb-1&sort_key=create_at&sort_dir=DESC`;
  const probe = (await (await fetch(listUrl, { headers: auth })).json()) as { total: number; data: unknown[] };
  if (probe.data.length !== Math.max(0, Math.min(50, probe.total - 50))) throw new Error(`the filtered list page has ${probe.data.length} of ${probe.total} items`);

  // BENCH_ONLY=show|list|renew measures one endpoint (with a profile, its own hot path); 0 req/s for the others.
  const only = process.env.BENCH_ONLY;
  const skipped: Figures = { rps: 0, p50: 0, p99: 0, non2xx: 0, errors: 0, cpuUsPerRequest: 0, clientCpuUsPerRequest: 0 };
  const pick = (name: string, run: () => Promise<Figures>) => (only && only !== name ? Promise.resolve(skipped) : run());
  const results = {
    bare: await measure(`http://127.0.0.1:${barePort}/`, bare),
    show: await pick('show', () => measure(`${base}/${target.id}`, nbd.child, { headers: auth })),
    list: await pick('list', () => measure(listUrl, nbd.child, { headers: auth })),
    renew: await pick('renew', () => measure(`${base}/${target.id}/lease`, nbd.child, renewOpts)),
    renewSpread: await pick('renew', () =>
      measure(`${base}/${spread[0]}/lease`, nbd.child, {
        ...renewOpts,
        requests: [{ setupRequest: (req) => ({ ...req, path: `/v1/${PROJECT}/notebooks/${spread[nextSpread++ % spread.length]}/lease` }) }],
      }),
    ),
  };
  console.log(`bare node:http (1 KiB JSON)      ${fmt(results.bare)}`);
  console.log(`ShowNotebook                     ${fmt(results.show)}`);
  console.log(`ListNotebooks (50 of ${String(probe.total).padEnd(5)} filtered) ${fmt(results.list)}`);
  console.log(`RenewLease, one instance         ${fmt(results.renew)}`);
  console.log(`RenewLease, ${String(SPREAD_TARGETS).padEnd(3)} instances round-robin ${fmt(results.renewSpread)}`);
  await stop(nbd.child);
  await stop(bare);
  await rm(dataDir, { recursive: true, force: true });
  if (only) {
    // One endpoint: its ratio, no start-up runs.
    if (only === 'show' || only === 'renew') console.log(`\n${only} / bare: ${(results[only].rps / results.bare.rps).toFixed(3)}×`);
    if (only === 'renew') console.log(`renew (${SPREAD_TARGETS} instances) / bare: ${(results.renewSpread.rps / results.bare.rps).toFixed(3)}×`);
    return;
  }

  // Startup: spawn to /readyz with an empty store, then with STARTUP_INSTANCES records.
  console.log(`\nstartup (spawn → /readyz 200):`);
  const emptyDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-api-'));
  await prepareStore(emptyDir, 0);
  const emptyRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await startNotebookd(emptyDir, await freePort());
    emptyRuns.push(s.readyMs);
    await stop(s.child);
  }
  const bigDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-api-'));
  await prepareStore(bigDir, STARTUP_INSTANCES);
  const bigRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await startNotebookd(bigDir, await freePort());
    bigRuns.push(s.readyMs);
    await stop(s.child);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`  empty store:            ${emptyRuns.map((m) => Math.round(m)).join(', ')} ms (median ${Math.round(median(emptyRuns))} ms)`);
  console.log(`  ${STARTUP_INSTANCES} instances:      ${bigRuns.map((m) => Math.round(m)).join(', ')} ms (median ${Math.round(median(bigRuns))} ms)`);
  await rm(emptyDir, { recursive: true, force: true });
  await rm(bigDir, { recursive: true, force: true });

  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const showRatio = results.show.rps / results.bare.rps;
  const renewRatio = results.renew.rps / results.bare.rps;
  const spreadRatio = results.renewSpread.rps / results.bare.rps;
  console.log('\nagainst the targets:');
  console.log(`  ShowNotebook / bare   ${showRatio.toFixed(3)}× (target ≥ ${TARGETS.showVsBare}×)  ${verdict(showRatio >= TARGETS.showVsBare)}`);
  console.log(`  RenewLease / bare     ${renewRatio.toFixed(3)}× one instance, ${spreadRatio.toFixed(3)}× over ${SPREAD_TARGETS} (target ≥ ${TARGETS.renewVsBare}×)  ${verdict(Math.min(renewRatio, spreadRatio) >= TARGETS.renewVsBare)}`);
  console.log(`  ListNotebooks p99     ${results.list.p99} ms (target < ${TARGETS.listP99Ms} ms)  ${verdict(results.list.p99 < TARGETS.listP99Ms)}`);
  console.log(`  ready with ${STARTUP_INSTANCES}   ${Math.round(median(bigRuns))} ms (target < ${TARGETS.readyMs} ms)  ${verdict(median(bigRuns) < TARGETS.readyMs)}`);
  const bad = Object.entries(results).filter(([, f]) => f.non2xx > 0 || f.errors > 0);
  if (bad.length) console.log(`  note: non-2xx or errors in ${bad.map(([k]) => k).join(', ')} — those figures are not valid`);
}

const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
