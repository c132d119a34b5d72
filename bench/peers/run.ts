// bench/peers: notebookd side by side with JupyterHub on this machine, in one run.
//   bare        Debian's Jupyter server alone (the program and arguments notebookd's local runtime
//               runs): spawn → {base}api/status 200 with its token. SIGTERM → exited.
//   JupyterHub  3.0 (Debian) with SimpleLocalProcessSpawner and configurable-http-proxy:
//               POST /hub/api/users/{name}/server → /user/{name}/api/status 200 through the hub's
//               proxy; DELETE …/server → the user has no server (the spawner waited for the process).
//   notebookd   the real binary, --runtime local, its defaults (sandbox, cgroup limits, XFS image
//               volumes): CreateNotebook, and StartNotebook of a STOPPED instance, → /nb/{id}/api/status
//               200 through its proxy with the instance token; StopNotebook → STOPPED and the pid gone.
// Each for one instance (median of BENCH_ROUNDS, default 3, after one warm-up round that is not
// counted) and for BENCH_CONCURRENCY (default 20) at once (time until ALL are ready / stopped).
// Overhead = end-to-end minus bare boot at the same concurrency. Targets (issue 8): notebookd at
// least as fast end to end as JupyterHub in every case, and its start overhead at most a fifth
// of JupyterHub's.
//
//   apt-get install jupyterhub        # once; configurable-http-proxy comes with it
//   node --import tsx bench/peers/run.ts
//
// notebookd's volume pool (pre-formatted volumes, README "Volume pool") is sized for the bench's
// creations, BENCH_CONCURRENCY + BENCH_ROUNDS + 1, as an operator expecting such bursts would size
// it; BENCH_POOL_SIZE=<n> sets it, BENCH_POOL_SIZE=default keeps notebookd's default (8).
// Where a creation's time goes, step by step: bench/peers/create-trace.ts.
//
// Clients poll every 20 ms (one instance) or 50 ms (concurrent) for every system alike. Each system
// has its own data directory under the OS temp dir; everything the bench started is stopped by pid
// at the end, also on failure or Ctrl-C. Runs as root (notebookd's sandbox and volumes need it).
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { bareBoot } from './bare.ts';
import { peerCgroups } from './cgroup.ts';
import { atExit, cleanUp, median, POLL_MS } from './common.ts';
import { startJupyterHub } from './jupyterhub.ts';
import { startNotebookd } from './notebookd.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_CONCURRENCY ?? 20);
// notebookd's volume pool sized for this bench's creations (one per round and N at once), as an
// operator expecting bursts of N would size it; BENCH_POOL_SIZE=default keeps notebookd's default.
const POOL = process.env.BENCH_POOL_SIZE === 'default' ? undefined : Number(process.env.BENCH_POOL_SIZE ?? N + ROUNDS + 1);
const TARGET_OVERHEAD_SHARE = 0.2;

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const signed = (ms: number) => `${ms >= 0 ? '+' : '−'}${(Math.abs(ms) / 1000).toFixed(2)} s`;

/** Runs `fn` for each of `items` at once; resolves when all are done. */
async function together<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<number> {
  const began = Date.now();
  await Promise.all(items.map(fn));
  return Date.now() - began;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'notebookd-bench-peers-'));
  atExit(() => rm(root, { recursive: true, force: true }));
  console.log(`bench/peers — ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  console.log(`load average at start: ${load()} (absolute times move with it; the ratios are taken within this run)`);

  const cgroups = await peerCgroups();
  const hub = await startJupyterHub(join(root, 'jupyterhub'), cgroups);
  atExit(() => hub.close());
  const nbd = await startNotebookd(join(root, 'notebookd'), { ...(POOL !== undefined && { volumePoolSize: POOL }) });
  atExit(() => nbd.close());
  console.log(`JupyterHub ${hub.version} (SimpleLocalProcessSpawner, configurable-http-proxy); notebookd --runtime local, volume pool: ${POOL === undefined ? 'its default' : `${POOL} images of 5 GB`}`);
  console.log(`notebookd's local runtime here: ${nbd.isolation || '(see its log)'}`);
  console.log(`${cgroups.note}\n`);

  const singles = Array.from({ length: ROUNDS + 1 }, (_, r) => `solo${r}`);
  const crowd = Array.from({ length: N }, (_, i) => `crowd${i}`);
  await hub.createUsers([...singles, ...crowd]);

  const one = { bare: [] as number[], bareStop: [] as number[], hub: [] as number[], hubStop: [] as number[], create: [] as number[], start: [] as number[], stop: [] as number[] };
  for (let r = 0; r <= ROUNDS; r++) {
    const counted = r > 0; // round 0 warms caches for every system alike
    const bare = await bareBoot(join(root, 'bare'), cgroups, `r${r}`, 1, POLL_MS.single);
    await cgroups.enter(`peer-hub-${singles[r]}`);
    const hubStart = await hub.startServer(singles[r]!, POLL_MS.single);
    const hubStop = await hub.stopServer(singles[r]!, POLL_MS.single);
    await cgroups.leave(`peer-hub-${singles[r]}`);
    const created = await nbd.create(`solo-${r}`, POLL_MS.single);
    const stop1 = await nbd.stop(created.id, POLL_MS.single);
    const started = await nbd.start(created.id, POLL_MS.single);
    const stop2 = await nbd.stop(created.id, POLL_MS.single);
    console.log(
      `${counted ? `round ${r}` : 'warm-up'}: bare ${s(bare.allReadyMs)} (stop ${s(bare.stopMs)}) | JupyterHub start ${s(hubStart)} stop ${s(hubStop)} | ` +
        `notebookd create ${s(created.ms)} stop ${s(stop1)} start ${s(started)} stop ${s(stop2)} | load ${load()}`,
    );
    if (!counted) continue;
    one.bare.push(bare.allReadyMs);
    one.bareStop.push(bare.stopMs);
    one.hub.push(hubStart);
    one.hubStop.push(hubStop);
    one.create.push(created.ms);
    one.start.push(started);
    one.stop.push(stop1, stop2);
  }

  console.log(`\n${N} at once (load ${load()}):`);
  const bareN = await bareBoot(join(root, 'bare'), cgroups, 'crowd', N, POLL_MS.concurrent);
  console.log(`  bare: all ready ${s(bareN.allReadyMs)}, all stopped ${s(bareN.stopMs)}`);
  for (const u of crowd) await cgroups.enter(`peer-hub-${u}`);
  const hubN = await together(crowd, (u) => hub.startServer(u, POLL_MS.concurrent));
  const hubStopN = await together(crowd, (u) => hub.stopServer(u, POLL_MS.concurrent));
  for (const u of crowd) await cgroups.leave(`peer-hub-${u}`);
  console.log(`  JupyterHub: all ready ${s(hubN)}, all stopped ${s(hubStopN)} (load ${load()})`);
  const ids: string[] = [];
  const createN = await together(crowd, async (name) => ids.push((await nbd.create(name, POLL_MS.concurrent)).id));
  const stopN = await together(ids, (id) => nbd.stop(id, POLL_MS.concurrent));
  const startN = await together(ids, (id) => nbd.start(id, POLL_MS.concurrent));
  const stopN2 = await together(ids, (id) => nbd.stop(id, POLL_MS.concurrent));
  console.log(`  notebookd: created ${s(createN)}, stopped ${s(stopN)}, started ${s(startN)}, stopped ${s(stopN2)} (load ${load()})`);

  const m = Object.fromEntries(Object.entries(one).map(([k, v]) => [k, median(v)])) as Record<keyof typeof one, number>;
  const rows: { name: string; bare: number; hub: number; nbd: number; overhead: boolean }[] = [
    { name: 'CreateNotebook, one', bare: m.bare, hub: m.hub, nbd: m.create, overhead: true },
    { name: 'StartNotebook, one', bare: m.bare, hub: m.hub, nbd: m.start, overhead: true },
    { name: `CreateNotebook, ${N} at once`, bare: bareN.allReadyMs, hub: hubN, nbd: createN, overhead: true },
    { name: `StartNotebook, ${N} at once`, bare: bareN.allReadyMs, hub: hubN, nbd: startN, overhead: true },
    { name: 'StopNotebook, one', bare: m.bareStop, hub: m.hubStop, nbd: m.stop, overhead: false },
    { name: `StopNotebook, ${N} at once`, bare: bareN.stopMs, hub: hubStopN, nbd: Math.max(stopN, stopN2), overhead: false },
  ];
  console.log(`\nSummary (one: median of ${ROUNDS}; notebookd's stop of one: median of ${2 * ROUNDS}; ${N} at once: the slower of two for notebookd's stop)`);
  console.log('case                        bare     JupyterHub (overhead)    notebookd (overhead)     e2e ratio  overhead ratio  target');
  let missed = 0;
  for (const row of rows) {
    const hubOver = row.hub - row.bare;
    const nbdOver = row.nbd - row.bare;
    const e2e = row.nbd / row.hub;
    const over = nbdOver / hubOver;
    const okE2e = e2e <= 1;
    const okOver = !row.overhead || over <= TARGET_OVERHEAD_SHARE;
    if (!okE2e || !okOver) missed++;
    const target = row.overhead ? `e2e ≤ 1.00 ${okE2e ? 'met' : 'MISSED'}, overhead ≤ ${TARGET_OVERHEAD_SHARE.toFixed(2)} ${okOver ? 'met' : 'MISSED'}` : `e2e ≤ 1.00 ${okE2e ? 'met' : 'MISSED'}`;
    console.log(
      `${row.name.padEnd(27)} ${s(row.bare).padStart(7)}  ${s(row.hub).padStart(8)} (${signed(hubOver)})  ${s(row.nbd).padStart(8)} (${signed(nbdOver)})  ` +
        `${e2e.toFixed(2).padStart(9)}  ${(row.overhead ? over.toFixed(2) : `(${over.toFixed(2)})`).padStart(14)}  ${target}`,
    );
  }
  console.log(`\nStop rows: "bare" is SIGTERM → exit of the bare server; the stop overhead ratio is shown for information only.`);
  console.log(`${missed === 0 ? 'Every target met.' : `${missed} case(s) missed a target.`} Load average at the end: ${load()}`);
}

try {
  await main();
} finally {
  await cleanUp();
}
