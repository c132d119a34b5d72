// Per-instance CPU, memory and process gauges, sampled from the runtime when /metrics is scraped
// (no background sampling: an unscraped notebookd pays nothing).
import type { Notebook } from '../domain/notebook.ts';
import type { InstanceUsage } from '../service/instance-usage.ts';
import type { Registry } from './registry.ts';

export interface InstanceUsageSource {
  running: () => Promise<Notebook[]>;
  of: (nb: Notebook) => Promise<InstanceUsage | null>;
}

export function registerInstanceUsageMetrics(registry: Registry, source: InstanceUsageSource): void {
  // One sampling pass per scrape, shared by the gauges below.
  let pass: { at: number; rows: Promise<{ id: string; usage: InstanceUsage }[]> } | null = null;
  const rows = () => {
    const now = Date.now();
    if (!pass || now - pass.at > 1_000) {
      pass = {
        at: now,
        rows: (async () => {
          const out: { id: string; usage: InstanceUsage }[] = [];
          for (const nb of await source.running()) {
            const usage = await source.of(nb);
            if (usage) out.push({ id: nb.id, usage });
          }
          return out;
        })(),
      };
    }
    return pass.rows;
  };
  registry.collectedCounter('notebookd_instance_cpu_seconds_total', 'CPU time used by a running instance (all its processes) since it started.', async () =>
    (await rows()).map((r) => ({ labels: { id: r.id }, value: r.usage.cpuSeconds })),
  );
  registry.gauge('notebookd_instance_memory_bytes', 'Memory a running instance uses now (its working set).', async () =>
    (await rows()).map((r) => ({ labels: { id: r.id }, value: r.usage.memoryBytes })),
  );
  registry.gauge('notebookd_instance_memory_limit_bytes', "A running instance's memory limit (its flavor's).", async () =>
    (await rows()).filter((r) => r.usage.memoryLimitBytes !== null).map((r) => ({ labels: { id: r.id }, value: r.usage.memoryLimitBytes! })),
  );
  registry.gauge('notebookd_instance_processes', 'Processes of a running instance.', async () =>
    (await rows()).map((r) => ({ labels: { id: r.id }, value: r.usage.processes })),
  );
}
