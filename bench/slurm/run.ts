// bench/slurm: how much Slurm costs an instance start. On a one-node Slurm cluster started here
// (test/support/slurm.ts) and on the local runtime, in the same run and on the same machine:
//   1. start latency: start() until the server answers api/status (sequential, jupyter_server);
//   2. 20 concurrent starts: time until all 20 answer, and each one's latency.
// Prints the figures and the ratio Slurm / local. Run: node --import tsx bench/slurm/run.ts
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { InstanceSpec, Launched, Runtime } from '../../src/runtime/runtime.ts';
import { createSlurmRuntime } from '../../src/runtime/slurm/slurm-runtime.ts';
import { startSlurm } from '../../test/support/slurm.ts';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 5);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 20);

const spec = (prefix: string, i: number): InstanceSpec => {
  const instanceId = `bench-${prefix}-${i}`;
  return {
    instanceId,
    basePath: `/nb/${instanceId}/`,
    jupyterToken: randomBytes(16).toString('hex'),
    program: 'jupyter_server',
    imageId: 'bench',
    vcpus: 1,
    memoryMb: 512,
    capacityGb: 5,
    hooks: null,
    leaseMs: 3_600_000,
  };
};

async function ready(launched: Launched, timeoutMs = 120_000): Promise<void> {
  const { origin, basePath, jupyterToken } = launched.target;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${origin}${basePath}api/status`, { headers: { Authorization: `token ${jupyterToken}` }, signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${origin} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** start() → api/status 200, in ms; the instance is stopped and removed afterwards. */
async function timedStart(runtime: Runtime, s: InstanceSpec): Promise<{ ms: number; launched: Launched }> {
  await runtime.prepare(s, () => {});
  const began = performance.now();
  const launched = await runtime.start(s);
  await ready(launched);
  return { ms: performance.now() - began, launched };
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (ms: number) => `${Math.round(ms)} ms`;

interface Figures {
  sequential: number[];
  concurrentAllMs: number;
  concurrent: number[];
}

async function measure(name: string, runtime: Runtime): Promise<Figures> {
  const sequential: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const s = spec(`${name}-seq`, i);
    const { ms, launched } = await timedStart(runtime, s);
    sequential.push(ms);
    await runtime.stop(launched.handle, 5_000);
    await runtime.destroy(s.instanceId);
  }
  const specs = Array.from({ length: CONCURRENT }, (_, i) => spec(`${name}-par`, i));
  const began = performance.now();
  const results = await Promise.all(specs.map((s) => timedStart(runtime, s)));
  const concurrentAllMs = performance.now() - began;
  await Promise.all(results.map((r) => runtime.stop(r.launched.handle, 5_000)));
  await Promise.all(specs.map((s) => runtime.destroy(s.instanceId)));
  return { sequential: sequential.sort((a, b) => a - b), concurrentAllMs, concurrent: results.map((r) => r.ms).sort((a, b) => a - b) };
}

function report(name: string, f: Figures): void {
  console.log(
    `${name.padEnd(6)} start→ready median ${fmt(pct(f.sequential, 50))} (min ${fmt(f.sequential[0]!)}, max ${fmt(f.sequential.at(-1)!)}, n=${f.sequential.length}); ` +
      `${CONCURRENT} concurrent: all ready in ${fmt(f.concurrentAllMs)}, each p50 ${fmt(pct(f.concurrent, 50))} p95 ${fmt(pct(f.concurrent, 95))}`,
  );
}

const slurm = await startSlurm();
const sharedDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-slurm-'));
await chmod(sharedDir, 0o755);
const localDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-local-'));
try {
  const slurmRuntime = createSlurmRuntime({ sharedDir, env: slurm.env, partition: slurm.partition, listenHost: '127.0.0.1', connectHost: '127.0.0.1' });
  const localRuntime = createLocalRuntime({ dataDir: localDir });
  // One warm-up each: the first Slurm job waits for the scheduler's first tick, Python's caches fill.
  for (const [name, rt] of [['slurm', slurmRuntime], ['local', localRuntime]] as const) {
    const s = spec(`${name}-warm`, 0);
    const { launched } = await timedStart(rt, s);
    await rt.stop(launched.handle, 5_000);
    await rt.destroy(s.instanceId);
  }
  const local = await measure('local', localRuntime);
  const onSlurm = await measure('slurm', slurmRuntime);
  report('local', local);
  report('slurm', onSlurm);
  console.log(
    `ratio slurm/local: start median ${(pct(onSlurm.sequential, 50) / pct(local.sequential, 50)).toFixed(2)}x, ` +
      `${CONCURRENT} concurrent all-ready ${(onSlurm.concurrentAllMs / local.concurrentAllMs).toFixed(2)}x`,
  );
} finally {
  slurm.stop();
  await rm(sharedDir, { recursive: true, force: true });
  await rm(localDir, { recursive: true, force: true });
}
