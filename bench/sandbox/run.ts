// bench/sandbox: what isolation costs. The local runtime with everything this host allows (bwrap
// sandbox, cgroup limits, an XFS image volume) next to the same runtime without the sandbox and
// the image (its peer: a plain detached Jupyter process in a directory, in the same kind of cgroup,
// so that both get the same CPU weight on a busy host), measured in one run, alternating:
// prepare (volume creation), start → ready (api/status 200), first kernel result, an exec
// round trip (what an SSH command costs) and stop.
//
//   node --import tsx bench/sandbox/run.ts
//   (BENCH_RUNS per mode, default 5; BENCH_PROGRAM notebook | jupyter_server, default jupyter_server)
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { execIn, instanceSpec, Kernel, waitReady } from '../../test/integration/sandbox-helpers.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PROGRAM = (process.env.BENCH_PROGRAM ?? 'jupyter_server') as 'notebook' | 'jupyter_server';

type Phase = 'prepareMs' | 'readyMs' | 'kernelMs' | 'execMs' | 'stopMs';
const PHASES: Phase[] = ['prepareMs', 'readyMs', 'kernelMs', 'execMs', 'stopMs'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

async function once(runtime: Runtime, id: string): Promise<Record<Phase, number>> {
  const spec = instanceSpec(id, { program: PROGRAM, vcpus: 2, memoryMb: 2048, capacityGb: 5 });
  let t = Date.now();
  await runtime.prepare(spec, () => {});
  const prepareMs = Date.now() - t;
  t = Date.now();
  const launched = await runtime.start(spec);
  await waitReady(launched.target, 120_000);
  const readyMs = Date.now() - t;
  t = Date.now();
  const kernel = await Kernel.open(launched.target);
  const out = await kernel.run('print(6 * 7)');
  if (out.stdout.trim() !== '42') throw new Error(`kernel said ${JSON.stringify(out)}`);
  const kernelMs = Date.now() - t;
  kernel.close();
  t = Date.now();
  const r = await execIn(runtime, launched, ['/bin/true']);
  if (r.code !== 0) throw new Error(`exec failed: ${r.stderr}`);
  const execMs = Date.now() - t;
  t = Date.now();
  await runtime.stop(launched.handle, 10_000);
  const stopMs = Date.now() - t;
  if ((launched.handle as unknown as LocalHandle).sandboxed === undefined && runtime !== plain) throw new Error('the isolated runtime did not sandbox');
  await runtime.destroy(id);
  return { prepareMs, readyMs, kernelMs, execMs, stopMs };
}

let plain: Runtime;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'notebookd-bench-sandbox-'));
  const isolated = createLocalRuntime({ dataDir });
  plain = createLocalRuntime({ dataDir, sandbox: 'off', storage: 'directory' });
  const notes = await isolated.checkImage(PROGRAM);
  if (notes.warning) console.log(`note: the isolated runtime is degraded here: ${notes.warning}`);
  const results: Record<'isolated' | 'plain', Record<Phase, number[]>> = {
    isolated: { prepareMs: [], readyMs: [], kernelMs: [], execMs: [], stopMs: [] },
    plain: { prepareMs: [], readyMs: [], kernelMs: [], execMs: [], stopMs: [] },
  };
  try {
    await plain.checkImage(PROGRAM);
    for (let i = 0; i < RUNS; i++) {
      for (const [name, runtime] of [['isolated', isolated], ['plain', plain]] as const) {
        const r = await once(runtime, `bench-${name}-${i}`);
        for (const p of PHASES) results[name][p].push(r[p]);
      }
    }
  } finally {
    await isolated.close?.();
    await rm(dataDir, { recursive: true, force: true });
  }
  console.log(`bench/sandbox: ${RUNS} runs per mode, ${PROGRAM}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('phase          isolated (median ms)   plain (median ms)   ratio');
  for (const p of PHASES) {
    const a = median(results.isolated[p]);
    const b = median(results.plain[p]);
    console.log(`${p.padEnd(14)} ${String(a).padStart(10)}            ${String(b).padStart(10)}        ${(a / b).toFixed(2)}`);
  }
}

await main();
