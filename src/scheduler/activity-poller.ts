// Samples the activity that no request carries: busy Jupyter kernels (a computation with no
// browser open), terminal input/output, and process CPU above a threshold. Every poll interval it
// looks at the RUNNING instances whose IDLE lease is on (the only ones activity can keep alive)
// and reports what it finds to the activity sink, attributed to its source.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { ActivitySink } from '../domain/activity.ts';
import type { Notebook } from '../domain/notebook.ts';
import type { Runtime, RuntimeHandle } from '../runtime/runtime.ts';
import type { Store } from '../store/store.ts';
import { coresBetween, type CpuReading } from './samplers/cpu-sampler.ts';
import { sampleJupyter, type JupyterActivity } from './samplers/jupyter-sampler.ts';

export interface ActivityPollerDeps {
  store: Store;
  runtime: Pick<Runtime, 'sample'>;
  clock: Clock;
  log: Logger;
  sink: ActivitySink;
  pollIntervalMs: number;
  /** CPU above this many cores, averaged over a poll interval, is activity. */
  cpuBusyCores: number;
  probeTimeoutMs: number;
  /** Instances sampled at once (default 8). */
  concurrency?: number;
  /** Replaceable for tests; default: HTTP to the instance's Jupyter. */
  sampleJupyter?: (target: NonNullable<Notebook['runtimeTarget']>, timeoutMs: number) => Promise<JupyterActivity>;
  metrics?: { activitySamples: { inc(labels: { sampler: string; result: string }): void } };
}

export const isWatched = (nb: Notebook): boolean => nb.status === 'RUNNING' && nb.lease.type === 'IDLE' && nb.lease.enable;

export function createActivityPoller(deps: ActivityPollerDeps) {
  const { store, runtime, clock, log, sink } = deps;
  const concurrency = Math.max(1, deps.concurrency ?? 8);
  const jupyter = deps.sampleJupyter ?? sampleJupyter;
  /** The previous CPU reading per instance and run (a new run starts from a new baseline). */
  const cpu = new Map<string, CpuReading & { run: string }>();
  let running = false;
  let loop: Promise<void> | null = null;
  let wake = new AbortController();

  const count = (sampler: string, result: string) => deps.metrics?.activitySamples.inc({ sampler, result });

  async function sampleOne(nb: Notebook): Promise<void> {
    const target = nb.runtimeTarget;
    if (target) {
      try {
        const seen = await jupyter(target, deps.probeTimeoutMs);
        const now = clock.now();
        if (seen.busyKernels > 0) sink.record(nb.id, 'kernel', now);
        // Jupyter's own clock stamps terminal activity; never let it claim the future.
        if (seen.terminalActivityAt !== null) sink.record(nb.id, 'terminal', Math.min(seen.terminalActivityAt, now));
        count('jupyter', seen.busyKernels > 0 ? 'busy' : 'idle');
      } catch (e) {
        count('jupyter', 'error');
        log.debug({ id: nb.id, err: (e as Error).message }, 'jupyter activity sample failed');
      }
    }
    if (runtime.sample && nb.runtimeHandle) {
      try {
        const reading = await runtime.sample(nb.runtimeHandle as RuntimeHandle);
        if (!reading) return;
        const now = clock.now();
        const run = JSON.stringify(nb.runtimeHandle);
        const before = cpu.get(nb.id);
        const cores = coresBetween(before?.run === run ? before : undefined, { cpuSeconds: reading.cpuSeconds, at: now });
        cpu.set(nb.id, { cpuSeconds: reading.cpuSeconds, at: now, run });
        if (cores === null) return;
        const busy = cores >= deps.cpuBusyCores;
        if (busy) sink.record(nb.id, 'cpu', now);
        count('cpu', busy ? 'busy' : 'idle');
      } catch (e) {
        count('cpu', 'error');
        log.debug({ id: nb.id, err: (e as Error).message }, 'cpu sample failed');
      }
    }
  }

  /** One round over every watched instance. */
  async function pollOnce(): Promise<number> {
    const watched = (await store.notebooks.listActive()).filter(isWatched);
    const ids = new Set(watched.map((nb) => nb.id));
    for (const id of cpu.keys()) if (!ids.has(id)) cpu.delete(id);
    for (let i = 0; i < watched.length; i += concurrency) {
      await Promise.all(watched.slice(i, i + concurrency).map(sampleOne));
    }
    return watched.length;
  }

  return {
    pollOnce,

    start(): void {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          try {
            await pollOnce();
          } catch (e) {
            log.warn({ err: (e as Error).message }, 'activity poll failed');
          }
          if (!running) break;
          await clock.sleep(deps.pollIntervalMs, wake.signal);
          wake = new AbortController();
        }
      })();
    },

    async stop(): Promise<void> {
      running = false;
      wake.abort();
      await loop;
    },
  };
}

export type ActivityPoller = ReturnType<typeof createActivityPoller>;
