// What a running instance uses now (CPU time, memory, processes), read from the runtime's
// sample() on demand: for ShowNotebook's `usage` extension and for /metrics. Nothing is stored;
// an instance the runtime cannot measure simply has no usage.
import type { Clock } from '../clock.ts';
import type { Notebook } from '../domain/notebook.ts';
import type { Runtime, RuntimeHandle } from '../runtime/runtime.ts';

export interface InstanceUsage {
  /** CPU time used by the instance's processes since its start. */
  cpuSeconds: number;
  memoryBytes: number;
  /** The flavor's memory, which the runtime enforces where it can. */
  memoryLimitBytes: number | null;
  processes: number;
  sampledAt: number;
}

export interface InstanceUsageDeps {
  runtime: Pick<Runtime, 'sample'>;
  clock: Clock;
  /** The flavor's memory of an instance, when known. */
  memoryMbOf: (nb: Notebook) => number | null;
}

export function createInstanceUsage(deps: InstanceUsageDeps) {
  return {
    async of(nb: Notebook): Promise<InstanceUsage | null> {
      if (nb.status !== 'RUNNING' || !nb.runtimeHandle || !deps.runtime.sample) return null;
      const reading = await deps.runtime.sample(nb.runtimeHandle as RuntimeHandle).catch(() => null);
      if (!reading) return null;
      const memoryMb = deps.memoryMbOf(nb);
      return {
        cpuSeconds: reading.cpuSeconds,
        memoryBytes: reading.memoryBytes,
        memoryLimitBytes: memoryMb === null ? null : memoryMb * 1024 * 1024,
        processes: reading.processes,
        sampledAt: deps.clock.now(),
      };
    },
  };
}

export type InstanceUsageReader = ReturnType<typeof createInstanceUsage>;
