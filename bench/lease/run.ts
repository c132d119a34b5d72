// bench/lease: the lease executor against a naive loop, on the same 100,000 RUNNING instances in a
// real SQLite store, in one run on one machine.
//
//   executor: sleeps until the indexed earliest stop time, handles what is due in batches,
//             re-checking each instance under compare-and-set (src/scheduler/lease-executor.ts);
//   naive:    every second reads every active instance (store.listActive), computes what is due
//             and stops it with the same compare-and-set write.
//
// Leases: 10,000 stop times spread evenly over a 10 s burst (1,000 expiries per second) and the
// other 90,000 over the rest of the hour after it; nothing is due before the burst. Each loop
// runs on its own copy of the store: an idle phase (nothing due) then the burst. Measured per
// phase: CPU time of the process (user + system; the loop is all that runs), memory, and the
// expiry lag (stop request time - stop time) p50/p99. Stop requests are counted, not carried out
// (the reconciler's work is the same for both). Warnings are off (lead 0) so that each expiry is
// one write. Run: node --import tsx bench/lease/run.ts   (BENCH_INSTANCES, BENCH_BURST_S, BENCH_IDLE_S)
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { systemClock, type Clock } from '../../src/clock.ts';
import { requestStop } from '../../src/domain/intents.ts';
import { HOUR_MS, leaseAction, newLease, reanchor, type LeasePolicy } from '../../src/domain/lease.ts';
import { createLeaseExecutor } from '../../src/scheduler/lease-executor.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import { mutateNotebook } from '../../src/store/mutate.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook } from '../../test/support/notebook-fixture.ts';

const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 100_000);
const BURST_S = Number(process.env.BENCH_BURST_S ?? 10);
const BURST_PER_S = 1_000;
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 10);
const POLICY: LeasePolicy = { minMs: 1, maxMs: 72 * HOUR_MS, defaultMs: HOUR_MS, allowDisable: true, warningLeadMs: 0, maxRunningMs: null };

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stop times relative to B, the burst start: the burst first, then the rest of the hour. */
function deadlines(n: number): number[] {
  const burst = Math.min(n, BURST_S * BURST_PER_S);
  const out: number[] = [];
  for (let i = 0; i < burst; i++) out.push(Math.floor((i * BURST_S * 1000) / burst));
  const rest = n - burst;
  const span = HOUR_MS - BURST_S * 1000;
  for (let i = 0; i < rest; i++) out.push(BURST_S * 1000 + Math.floor((i * span) / rest));
  return out;
}

/** Seeds the store: every instance RUNNING since B - 1 h, stopping at B + offset. */
async function seed(store: Store, base: number): Promise<void> {
  const anchoredAt = base - HOUR_MS;
  const offsets = deadlines(INSTANCES);
  for (let i = 0; i < offsets.length; i++) {
    const lease = reanchor(newLease(anchoredAt, { durationMs: HOUR_MS + offsets[i]!, type: 'TIMING' }, POLICY), anchoredAt);
    await store.notebooks.insert(makeNotebook({ status: 'RUNNING', createAt: anchoredAt, statusChangedAt: anchoredAt, lease }), []);
    if (i % 10_000 === 9_999) process.stdout.write(`  seeded ${i + 1}\n`);
  }
}

/** A real clock shifted so that "now" is `at` when this is called: deadlines stay where they were seeded. */
function clockFrom(at: number): Clock {
  const offset = at - Date.now();
  return { now: () => Date.now() + offset, sleep: (ms, signal) => systemClock.sleep(ms, signal) };
}

interface Phase {
  cpuMs: number;
  wallMs: number;
  rssMb: number;
  heapMb: number;
  stopped: number;
  lagsMs: number[];
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

/** Runs `wallMs` of a loop that is already started and reports into `lags`. */
async function measure(wallMs: number, lags: number[], waitFor?: () => boolean): Promise<Phase> {
  global.gc?.();
  const before = process.cpuUsage();
  const lagStart = lags.length;
  const started = Date.now();
  await sleep(wallMs);
  // The burst is over when its last stop time has passed and the loop caught up with it.
  while (waitFor && !waitFor() && Date.now() - started < wallMs + 30_000) await sleep(20);
  const cpu = process.cpuUsage(before);
  const mem = process.memoryUsage();
  const phaseLags = lags.slice(lagStart);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Date.now() - started, rssMb: mem.rss / 2 ** 20, heapMb: mem.heapUsed / 2 ** 20, stopped: phaseLags.length, lagsMs: phaseLags };
}

interface Loop {
  start(): void;
  stop(): Promise<void>;
}

/** The executor under test, reporting each stop's lag. */
function executorLoop(store: Store, clock: Clock, lags: number[]): Loop {
  const executor = createLeaseExecutor({ store, clock, log, onStopRequested: () => {} });
  executor.onExpired((stats) => lags.push(...stats.lagsMs));
  return executor;
}

/** The peer: scan every instance each second (what a loop without the due index must do). */
function naiveLoop(store: Store, clock: Clock, lags: number[]): Loop {
  let running = false;
  let loop: Promise<void> | null = null;
  return {
    start() {
      running = true;
      loop = (async () => {
        while (running) {
          const tickAt = Date.now();
          const now = clock.now();
          for (const nb of await store.notebooks.listActive()) {
            const action = leaseAction(nb, now);
            if (action?.kind !== 'stop') continue;
            const after = await mutateNotebook(store, nb.id, (cur) => {
              const a = leaseAction(cur, clock.now());
              return a?.kind === 'stop' ? requestStop(cur, clock.now(), a.reason, 'Stopping: the lease ran out.') : null;
            });
            if (after?.status === 'STOPPING') lags.push(clock.now() - action.stopAt);
          }
          const spent = Date.now() - tickAt;
          if (running) await sleep(Math.max(0, 1_000 - spent));
        }
      })();
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function run(name: string, file: string, base: number, make: (store: Store, clock: Clock, lags: number[]) => Loop) {
  const store = await createSqliteStore(file);
  await store.migrate();
  // "Now" is IDLE_S before the burst: nothing is due during the idle phase.
  const clock = clockFrom(base - IDLE_S * 1000);
  const lags: number[] = [];
  const loop = make(store, clock, lags);
  loop.start();
  await sleep(500); // first pass and steady state
  lags.length = 0;
  const idle = await measure(IDLE_S * 1000 - 600, lags);
  while (clock.now() < base) await sleep(5);
  const burstCount = Math.min(INSTANCES, BURST_S * BURST_PER_S);
  const burst = await measure(BURST_S * 1000, lags, () => lags.length >= burstCount);
  await loop.stop();
  await store.close();
  return { name, idle, burst };
}

function report(r: Awaited<ReturnType<typeof run>>) {
  const line = (phase: string, p: Phase) =>
    `  ${r.name.padEnd(8)} ${phase.padEnd(6)} CPU ${p.cpuMs.toFixed(0).padStart(7)} ms in ${(p.wallMs / 1000).toFixed(1)} s (${((100 * p.cpuMs) / p.wallMs).toFixed(2).padStart(6)} % of a core)  RSS ${p.rssMb.toFixed(0)} MB  heap ${p.heapMb.toFixed(0)} MB` +
    (p.stopped ? `  stopped ${p.stopped}  lag p50 ${percentile(p.lagsMs, 50).toFixed(0)} ms  p99 ${percentile(p.lagsMs, 99).toFixed(0)} ms  max ${Math.max(...p.lagsMs).toFixed(0)} ms` : '');
  console.log(line('idle', r.idle));
  console.log(line('burst', r.burst));
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'bench-lease-'));
  try {
    const seedFile = join(dir, 'seed.db');
    const base = Date.now() + 10 * HOUR_MS; // far from the wall clock: the shifted clocks decide
    console.log(`bench/lease: ${INSTANCES} RUNNING instances, ${Math.min(INSTANCES, BURST_S * BURST_PER_S)} of them expiring at ${BURST_PER_S}/s over ${BURST_S} s, the rest over the hour`);
    const t0 = Date.now();
    const seedStore = await createSqliteStore(seedFile);
    await seedStore.migrate();
    await seed(seedStore, base);
    await seedStore.close();
    console.log(`  seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s; store ${((await stat(seedFile)).size / 2 ** 20).toFixed(0)} MB`);

    const copy = async (name: string) => {
      const file = join(dir, `${name}.db`);
      await copyFile(seedFile, file);
      return file;
    };
    const executor = await run('executor', await copy('executor'), base, executorLoop);
    report(executor);
    const naive = await run('naive', await copy('naive'), base, naiveLoop);
    report(naive);

    const ratio = (a: number, b: number) => (b > 0 ? a / b : Infinity);
    const idleRatio = ratio(naive.idle.cpuMs, executor.idle.cpuMs);
    const burstRatio = ratio(naive.burst.cpuMs, executor.burst.cpuMs);
    const p99 = percentile(executor.burst.lagsMs, 99);
    console.log('');
    console.log(`  CPU, naive / executor:  idle ${idleRatio.toFixed(0)}x   burst ${burstRatio.toFixed(1)}x   total ${ratio(naive.idle.cpuMs + naive.burst.cpuMs, executor.idle.cpuMs + executor.burst.cpuMs).toFixed(1)}x`);
    console.log(`  lag p99, naive / executor: ${ratio(percentile(naive.burst.lagsMs, 99), p99).toFixed(1)}x`);
    console.log(`  targets: executor p99 lag < 1000 ms: ${p99 < 1000 ? 'met' : 'MISSED'} (${p99.toFixed(0)} ms); idle CPU near zero: ${executor.idle.cpuMs / executor.idle.wallMs < 0.005 ? 'met' : 'MISSED'} (${((100 * executor.idle.cpuMs) / executor.idle.wallMs).toFixed(2)} % of a core); >= 50x less CPU than naive: ${idleRatio >= 50 ? 'met' : 'MISSED'} idle, ${burstRatio >= 50 ? 'met' : 'missed'} during the burst`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
