// bench/proxy: requests per second and latency p50/p99 of the same requests sent directly, through
// notebookd's proxy (/nb/{id}/..., token checked on every request), and through JupyterHub's
// configurable-http-proxy configured for the same routes, in one run on one machine:
//   (a) GET {base}api/status of a real Jupyter server (the local runtime, Debian's notebook);
//   (b) GET {base}files/big.bin, a 1 MiB file served by that Jupyter server;
//   (c) a bare node:http backend answering 1 KiB of JSON (the proxies' own cost);
//   (d) WebSocket message round trips (64-byte messages) to a bare echo backend.
// Then notebookd's resident memory before and after 100,000 proxied requests of (c).
// notebookd, Jupyter, the bare backend and configurable-http-proxy each run in a process of
// their own; the load generator (autocannon, and ws for (d)) runs in this one.
//
//   node --import tsx bench/proxy/run.ts
//   (BENCH_SECONDS per measurement, default 5; BENCH_CONNECTIONS, default 32; BENCH_MEMORY_REQUESTS, default 100000)
//
// configurable-http-proxy is not an npm dependency of notebookd: the run uses Debian's package
// (apt-get install node-configurable-http-proxy; it needs NODE_PATH=/usr/share/nodejs under
// NodeSource's Node) or CHP_COMMAND to point at another build.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { WebSocket } from 'ws';
import { mutateNotebook } from '../../src/store/mutate.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const MEMORY_REQUESTS = Number(process.env.BENCH_MEMORY_REQUESTS ?? 100_000);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';
const TOKEN = `nbd_${randomBytes(24).toString('base64url')}`;
const CHP_TOKEN = randomBytes(16).toString('hex');

const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function start(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const rssKb = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>, connections = CONNECTIONS): Promise<Figures> {
  await autocannon({ url, headers, connections, duration: 1 }); // warm-up: connections, JIT, caches
  const r = await autocannon({ url, headers, connections, duration: SECONDS });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx };
}

/** Sequential 64-byte round trips on `connections` sockets for SECONDS. */
async function wsRoundTrips(url: string, connections = 8): Promise<Figures> {
  const payload = randomBytes(32).toString('hex');
  const latencies: number[] = [];
  let errors = 0;
  const one = async (measure: boolean, untilAt: number) => {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    while (Date.now() < untilAt) {
      const t0 = process.hrtime.bigint();
      ws.send(payload);
      const echo = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
      if (echo !== payload) errors++;
      if (measure) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ws.close();
  };
  await Promise.all(Array.from({ length: connections }, () => one(false, Date.now() + 1_000)));
  const began = Date.now();
  await Promise.all(Array.from({ length: connections }, () => one(true, began + SECONDS * 1_000)));
  const elapsedS = (Date.now() - began) / 1_000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsedS, p50: at(0.5), p99: at(0.99), errors };
}

async function main(): Promise<void> {
  const chpCommand = process.env.CHP_COMMAND ?? 'configurable-http-proxy';
  const chpEnv = { ...process.env, NODE_PATH: process.env.NODE_PATH ?? '/usr/share/nodejs', CONFIGPROXY_AUTH_TOKEN: CHP_TOKEN };
  const chpVersion = spawnSync(chpCommand, ['--version'], { env: chpEnv, encoding: 'utf8' });
  if (chpVersion.status !== 0) throw new Error(`${chpCommand} does not run (apt-get install node-configurable-http-proxy): ${chpVersion.stderr}`);

  const dataDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-proxy-'));
  const nbdPort = await freePort();
  const nbdEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NOTEBOOKD_')) nbdEnv[k] = v;
  Object.assign(nbdEnv, { NOTEBOOKD_BOOTSTRAP_PROJECT_ID: PROJECT, NOTEBOOKD_BOOTSTRAP_TOKEN: TOKEN, NOTEBOOKD_SSH_PORT: '0' });
  const nbd = start(process.execPath, ['bin/notebookd.js', 'serve', '--port', String(nbdPort), '--data-dir', dataDir, '--log-level', 'error', '--runtime', 'local'], nbdEnv);
  let nbdErr = '';
  nbd.stderr!.on('data', (c) => (nbdErr = (nbdErr + c).slice(-4000)));
  const nbdUrl = `http://127.0.0.1:${nbdPort}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(nbdUrl + path, { method, headers: { 'X-Auth-Token': TOKEN, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    return (await res.json()) as any;
  };
  await until('notebookd', 60_000, async () => (await fetch(`${nbdUrl}/healthz`)).ok).catch((e) => {
    throw new Error(`${(e as Error).message}: ${nbdErr}`);
  });

  const create = async (name: string) => {
    const nb = await api('POST', `/v1/${PROJECT}/notebooks`, {
      name,
      flavor: 'modelarts.vm.cpu.2u',
      image_id: '5b1f7c1e-8a7d-4c1e-9d2a-000000000001',
      volume: { category: 'evs', ownership: 'managed', capacity: 5 },
    });
    if (!nb.id) throw new Error(`create failed: ${JSON.stringify(nb)}`);
    return until(`${name} RUNNING`, 120_000, async () => {
      const cur = await api('GET', `/v1/${PROJECT}/notebooks/${nb.id}`);
      if (/FAILED|ERROR/.test(cur.status)) throw new Error(`${name}: ${cur.status} ${cur.fail_reason}`);
      return cur.status === 'RUNNING' ? cur : null;
    });
  };
  const jupyter = await create('bench-jupyter');
  const bare = await create('bench-bare');

  // The bench reads the internal targets (and re-points the second instance) in notebookd's own store.
  const store = await createSqliteStore(join(dataDir, 'notebookd.db'));
  const target = (await store.notebooks.get(jupyter.id))!.runtimeTarget!;
  const direct = `${target.origin}/nb/${jupyter.id}/`;
  const internal = { Authorization: `token ${target.jupyterToken}` };

  const big = randomBytes(1 << 20).toString('base64');
  const put = await fetch(`${direct}api/contents/big.bin`, {
    method: 'PUT',
    headers: { ...internal, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'file', format: 'base64', content: big }),
  });
  if (put.status !== 201 && put.status !== 200) throw new Error(`could not write big.bin: ${put.status} ${await put.text()}`);

  const backend = start(process.execPath, [join(ROOT, 'bench/proxy/bare-backend.mjs')]);
  const barePort = await new Promise<number>((resolve) => backend.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const bareOrigin = `http://127.0.0.1:${barePort}`;
  // The second instance's Jupyter keeps running (the runtime still polls it); only its target moves.
  await mutateNotebook(store, bare.id, (nb) => ({ next: { ...nb, runtimeTarget: { ...nb.runtimeTarget!, origin: bareOrigin } }, events: [] }));
  await until('notebookd to route to the bare backend', 30_000, async () => {
    const r = await fetch(`${nbdUrl}/nb/${bare.id}/x`, { headers: { Authorization: `token ${bare.token}` } });
    return r.ok && (await r.text()).includes('"pad"');
  });

  const chpPort = await freePort();
  const chpApi = await freePort();
  start(chpCommand, ['--ip', '127.0.0.1', '--port', String(chpPort), '--api-ip', '127.0.0.1', '--api-port', String(chpApi), '--log-level', 'error'], chpEnv);
  const chpUrl = `http://127.0.0.1:${chpPort}`;
  await until('configurable-http-proxy', 30_000, async () => (await fetch(`http://127.0.0.1:${chpApi}/api/routes`, { headers: { Authorization: `token ${CHP_TOKEN}` } })).ok);
  for (const [path, to] of [
    [`/nb/${jupyter.id}`, target.origin],
    [`/nb/${bare.id}`, bareOrigin],
  ]) {
    const r = await fetch(`http://127.0.0.1:${chpApi}/api/routes${path}`, { method: 'POST', headers: { Authorization: `token ${CHP_TOKEN}` }, body: JSON.stringify({ target: to }) });
    if (r.status !== 201) throw new Error(`CHP route ${path}: ${r.status}`);
  }

  console.log(`bench/proxy — ${SECONDS} s per measurement, ${CONNECTIONS} connections (8 for the 1 MiB file and WebSockets)`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the box skews absolute numbers; ratios are measured back to back)`);
  console.log(`peers: configurable-http-proxy ${chpVersion.stdout.trim()} (Debian node-configurable-http-proxy), Node ${process.version}\n`);

  const rows: { name: string; direct: Figures; notebookd: Figures; chp: Figures }[] = [];
  const scenario = async (name: string, run: (base: 'direct' | 'notebookd' | 'chp') => Promise<Figures>) => {
    const row = { name, direct: await run('direct'), notebookd: await run('notebookd'), chp: await run('chp') };
    rows.push(row);
    console.log(`${name}: direct ${fmt(row.direct)} | notebookd ${fmt(row.notebookd)} | chp ${fmt(row.chp)}`);
  };
  const fmt = (f: Figures) => `${f.rps.toFixed(0)} req/s p50 ${f.p50.toFixed(2)} ms p99 ${f.p99.toFixed(2)} ms${f.errors ? ` (${f.errors} errors)` : ''}`;

  const jupyterBase = { direct, notebookd: `${nbdUrl}/nb/${jupyter.id}/`, chp: `${chpUrl}/nb/${jupyter.id}/` };
  const jupyterHeaders = { direct: internal, notebookd: { Authorization: `token ${jupyter.token}` }, chp: internal };
  const bareBase = { direct: `${bareOrigin}/nb/${bare.id}/`, notebookd: `${nbdUrl}/nb/${bare.id}/`, chp: `${chpUrl}/nb/${bare.id}/` };

  await scenario('(a) Jupyter api/status', (via) => load(`${jupyterBase[via]}api/status`, jupyterHeaders[via]));
  await scenario('(b) 1 MiB file from Jupyter', (via) => load(`${jupyterBase[via]}files/big.bin`, jupyterHeaders[via], 8));
  await scenario('(c) bare node:http, 1 KiB JSON', (via) => load(`${bareBase[via]}x`, via === 'notebookd' ? { Authorization: `token ${bare.token}` } : {}));
  await scenario('(d) WebSocket round trips', (via) => wsRoundTrips(`${bareBase[via].replace('http:', 'ws:')}ws${via === 'notebookd' ? `?token=${bare.token}` : ''}`));

  console.log('\nratios to direct (requests or messages per second; higher is better) and p99 added over direct:');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(32)} notebookd ${(r.notebookd.rps / r.direct.rps).toFixed(2)}x (+${(r.notebookd.p99 - r.direct.p99).toFixed(2)} ms p99)` +
        `   configurable-http-proxy ${(r.chp.rps / r.direct.rps).toFixed(2)}x (+${(r.chp.p99 - r.direct.p99).toFixed(2)} ms p99)` +
        `   notebookd/chp ${(r.notebookd.rps / r.chp.rps).toFixed(2)}x`,
    );
  }

  // Memory: notebookd's RSS around MEMORY_REQUESTS proxied requests (after a warm-up of the same size / 10).
  await autocannon({ url: `${bareBase.notebookd}x`, headers: { Authorization: `token ${bare.token}` }, connections: CONNECTIONS, amount: Math.ceil(MEMORY_REQUESTS / 10) });
  const before = await rssKb(nbd.pid!);
  const mem = await autocannon({ url: `${bareBase.notebookd}x`, headers: { Authorization: `token ${bare.token}` }, connections: CONNECTIONS, amount: MEMORY_REQUESTS });
  const afterRun = await rssKb(nbd.pid!);
  console.log(
    `\nmemory: notebookd RSS ${(before / 1024).toFixed(1)} MiB before, ${(afterRun / 1024).toFixed(1)} MiB after ${mem['2xx']} proxied requests ` +
      `(${((afterRun - before) / 1024).toFixed(1)} MiB, ${mem.errors + mem.non2xx} errors)`,
  );

  await store.close();
  for (const id of [jupyter.id, bare.id]) await api('DELETE', `/v1/${PROJECT}/notebooks/${id}`);
  await until('instances deleted', 60_000, async () => (await api('GET', `/v1/${PROJECT}/notebooks?limit=10`)).total === 0);
  await rm(dataDir, { recursive: true, force: true }).catch(() => {});
}

try {
  await main();
} finally {
  for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
}
