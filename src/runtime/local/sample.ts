// Resource usage of a local instance: CPU time and resident memory summed over the server's
// process tree (the Jupyter server, its kernels and terminals, anything they started), read from
// /proc. The process table is read once and shared by the samples taken within a short window, so
// sampling many instances costs one /proc walk, not one per instance.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import type { RuntimeHandle, RuntimeSample } from '../runtime.ts';
import { bootId } from './process-identity.ts';

interface ProcUsage {
  pid: number;
  ppid: number;
  startTime: number;
  /** utime + stime, clock ticks. */
  cpuTicks: number;
  rssPages: number;
}

/** Fields after the command name (which may hold spaces and ')'): field N is rest[N - 3]. */
export function parseUsage(text: string): ProcUsage | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  const usage = { pid, ppid: field(4), startTime: field(22), cpuTicks: field(14) + field(15), rssPages: field(24) };
  return Object.values(usage).every(Number.isFinite) ? usage : null;
}

function sysconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

let ticksPerSecond: number | undefined;
let pageBytes: number | undefined;

const TABLE_TTL_MS = 500;
let table: { at: number; rows: Promise<ProcUsage[]> } | null = null;

async function readTable(): Promise<ProcUsage[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const rows = await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map((n) =>
        readFile(`/proc/${n}/stat`, 'utf8').then(
          (text) => parseUsage(text),
          () => null, // exited meanwhile
        ),
      ),
  );
  return rows.filter((r): r is ProcUsage => r !== null);
}

function processTable(): Promise<ProcUsage[]> {
  const now = Date.now();
  if (!table || now - table.at > TABLE_TTL_MS) table = { at: now, rows: readTable() };
  return table.rows;
}

/** Sums usage over the tree rooted at `root`; exported for tests. */
export function sumTree(rows: readonly ProcUsage[], rootPid: number): { cpuTicks: number; rssPages: number; processes: number } {
  const children = new Map<number, ProcUsage[]>();
  for (const r of rows) children.set(r.ppid, [...(children.get(r.ppid) ?? []), r]);
  const root = rows.find((r) => r.pid === rootPid);
  const total = { cpuTicks: 0, rssPages: 0, processes: 0 };
  const queue = root ? [root] : [];
  while (queue.length) {
    const p = queue.shift()!;
    total.cpuTicks += p.cpuTicks;
    total.rssPages += p.rssPages;
    total.processes += 1;
    queue.push(...(children.get(p.pid) ?? []));
  }
  return total;
}

/**
 * Samples the process tree a local handle names ({pid, startTime, bootId}); null when that
 * process is gone or the pid now belongs to someone else. Children that exited are not counted:
 * their CPU time went to the parent only once reaped, so a sample may drop; callers use deltas
 * and treat a drop as no activity.
 */
export async function sampleLocalHandle(handle: RuntimeHandle): Promise<RuntimeSample | null> {
  const { pid, startTime, bootId: handleBoot } = handle as { pid?: unknown; startTime?: unknown; bootId?: unknown };
  if (typeof pid !== 'number' || typeof startTime !== 'number' || handleBoot !== bootId()) return null;
  const rows = await processTable();
  const root = rows.find((r) => r.pid === pid);
  if (!root || root.startTime !== startTime) return null;
  ticksPerSecond ??= sysconf('CLK_TCK', 100);
  pageBytes ??= sysconf('PAGESIZE', 4096);
  const total = sumTree(rows, pid);
  return { cpuSeconds: total.cpuTicks / ticksPerSecond, memoryBytes: total.rssPages * pageBytes, processes: total.processes };
}
