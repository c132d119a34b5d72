// Flavor limits through cgroups: one cgroup per instance run, below notebookd's own cgroup, with
// the flavor's memory, CPU quota and a process-count limit. Processes join it before they exec
// anything (see sandbox-argv.ts: the launch wrapper writes its own pid into cgroup.procs), so
// nothing an instance forks can escape it.
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  cgroupDirs,
  instanceCgroup,
  limitWrites,
  oomCounterFile,
  parentWeightWrite,
  parseFlatKeyed,
  parseProcCgroup,
  resolveCgroupParents,
  V2_CONTROLLERS,
} from './cgroup-paths.ts';
import type { CgroupRef, InstanceLimits } from './cgroup-paths.ts';
import { readMountinfo } from './mountinfo.ts';

export type LimitsMode = 'auto' | 'on' | 'off';

export interface CgroupSupport {
  available: boolean;
  /** What is enforced and where, or why nothing is. */
  message: string;
  version: 1 | 2 | null;
  /** The memory controller is among them (what OOM reporting needs). */
  memory: boolean;
}

export interface CgroupUsage {
  cpuSeconds: number;
  memoryBytes: number;
  processes: number;
  /** CFS periods in which the instance was throttled by its CPU quota. */
  throttledPeriods: number;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

async function readText(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

async function readNumber(path: string): Promise<number | null> {
  const text = await readText(path);
  const n = text === null ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

/** Pids in a cgroup right now (cgroup.procs lists thread-group leaders). */
export async function cgroupPids(ref: CgroupRef): Promise<number[]> {
  const pids = new Set<number>();
  for (const dir of cgroupDirs(ref)) {
    for (const line of ((await readText(posix.join(dir, 'cgroup.procs'))) ?? '').split('\n')) {
      if (/^\d+$/.test(line.trim())) pids.add(Number(line.trim()));
    }
  }
  return [...pids];
}

/** The cgroup.procs files a launcher writes its pid into, one per distinct hierarchy. */
export function procsFiles(ref: CgroupRef): string[] {
  return cgroupDirs(ref).map((dir) => posix.join(dir, 'cgroup.procs'));
}

/** How many times the kernel OOM-killed a process of this cgroup; 0 when unknown. */
export async function oomKills(ref: CgroupRef): Promise<number> {
  const counter = oomCounterFile(ref);
  if (!counter) return 0;
  const text = await readText(counter.path);
  return text === null ? 0 : (parseFlatKeyed(text)[counter.key] ?? 0);
}

export async function cgroupUsage(ref: CgroupRef): Promise<CgroupUsage | null> {
  if (ref.version === 2) {
    const cpu = parseFlatKeyed((await readText(posix.join(ref.dir, 'cpu.stat'))) ?? '');
    const current = await readNumber(posix.join(ref.dir, 'memory.current'));
    if (current === null || cpu.usage_usec === undefined) return null;
    const stat = parseFlatKeyed((await readText(posix.join(ref.dir, 'memory.stat'))) ?? '');
    return {
      cpuSeconds: cpu.usage_usec / 1e6,
      memoryBytes: Math.max(0, current - (stat.inactive_file ?? 0)),
      processes: (await cgroupPids(ref)).length,
      throttledPeriods: cpu.nr_throttled ?? 0,
    };
  }
  const { memory, cpu, cpuacct } = ref.dirs;
  const usageNs = cpuacct ? await readNumber(posix.join(cpuacct, 'cpuacct.usage')) : null;
  const memUsage = memory ? await readNumber(posix.join(memory, 'memory.usage_in_bytes')) : null;
  if (usageNs === null && memUsage === null) return null;
  // The working set, as `free` would count it: page cache that can be dropped is not "used".
  const stat = memory ? parseFlatKeyed((await readText(posix.join(memory, 'memory.stat'))) ?? '') : {};
  const cpuStat = cpu ? parseFlatKeyed((await readText(posix.join(cpu, 'cpu.stat'))) ?? '') : {};
  return {
    cpuSeconds: (usageNs ?? 0) / 1e9,
    memoryBytes: Math.max(0, (memUsage ?? 0) - (stat.total_inactive_file ?? 0)),
    processes: (await cgroupPids(ref)).length,
    throttledPeriods: cpuStat.nr_throttled ?? 0,
  };
}

/** SIGKILLs everything in the cgroup until it is empty (its members are ours by construction). */
export async function killCgroup(ref: CgroupRef, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await cgroupPids(ref);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} survived SIGKILL in ${cgroupDirs(ref).join(', ')}`);
    await delay(20);
  }
}

/** Removes the cgroup's directories; waits briefly for exiting members to leave. Idempotent. */
export async function removeCgroup(ref: CgroupRef, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let removed = true;
  for (const dir of cgroupDirs(ref)) {
    for (;;) {
      try {
        await rmdir(dir);
        break;
      } catch (e) {
        if (errno(e) === 'ENOENT') break;
        if (errno(e) !== 'EBUSY' || Date.now() > deadline) {
          removed = false;
          break;
        }
        await delay(20);
      }
    }
  }
  return removed;
}

export interface Cgroups {
  support(): Promise<CgroupSupport>;
  /**
   * A fresh cgroup for an instance run with its limits written; null when limits are not
   * available here (and not required). What an earlier run left in it is killed first, so the
   * OOM counter of the new run starts at zero.
   */
  create(instanceId: string, limits: InstanceLimits): Promise<CgroupRef | null>;
  /** Removes the parent directories if no instance is left in them. */
  close(): Promise<void>;
}

export function createCgroups(opts: { mode: LimitsMode; root: string }): Cgroups {
  let detected: Promise<{ support: CgroupSupport; parents: CgroupRef | null }> | null = null;

  async function detect(): Promise<{ support: CgroupSupport; parents: CgroupRef | null }> {
    const off = (message: string) => ({ support: { available: false, message, version: null, memory: false }, parents: null });
    if (opts.mode === 'off') return off('resource limits are switched off (localRuntime.limits = off): flavors are not enforced');
    const procCgroup = parseProcCgroup((await readText('/proc/self/cgroup')) ?? '');
    const mounts = await readMountinfo();
    const v2Mount = mounts.find((m) => m.fstype === 'cgroup2');
    const v2Available = v2Mount ? ((await readText(posix.join(v2Mount.mountPoint, 'cgroup.controllers'))) ?? '').trim().split(/\s+/) : [];
    const resolved = resolveCgroupParents(procCgroup, mounts, opts.root, v2Available);
    if ('error' in resolved) return off(`flavor limits are not enforced: ${resolved.error}`);
    const { layout, missing } = resolved;
    try {
      for (const dir of cgroupDirs(layout)) await mkdir(dir, { recursive: true });
      if (layout.version === 2) {
        // Controllers must be enabled in every ancestor's subtree_control; an ancestor that holds
        // processes refuses (EBUSY), which needs an operator-delegated cgroupRoot.
        const enable = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');
        await writeFile(posix.join(posix.dirname(layout.dir), 'cgroup.subtree_control'), enable).catch(() => {});
        await writeFile(posix.join(layout.dir, 'cgroup.subtree_control'), enable);
      }
    } catch (e) {
      const hint =
        layout.version === 2
          ? '; give notebookd a delegated, empty cgroup in localRuntime.cgroupRoot'
          : '; notebookd needs root (or write access to these cgroup directories)';
      return off(`flavor limits are not enforced: cannot set up ${cgroupDirs(layout).join(', ')}: ${(e as Error).message}${hint}`);
    }
    const what = layout.version === 2 ? 'cgroup v2 (memory, cpu, pids)' : `cgroup v1 (${Object.keys(layout.dirs).join(', ')})`;
    const gaps = missing.length ? `; not available: ${missing.join(', ')}` : '';
    return {
      support: {
        available: true,
        message: `flavor limits enforced with ${what} under ${cgroupDirs(layout).join(', ')}${gaps}`,
        version: layout.version,
        memory: layout.version === 2 || layout.dirs.memory !== undefined,
      },
      parents: layout,
    };
  }

  const ensure = () => (detected ??= detect());

  /** Gives the parent the weight of all its instances' vCPUs (read back from their cpu.shares / cpu.weight). */
  async function rebalance(parents: CgroupRef): Promise<void> {
    const dir = parents.version === 2 ? parents.dir : parents.dirs.cpu;
    if (!dir) return;
    const file = parents.version === 2 ? 'cpu.weight' : 'cpu.shares';
    const perCpu = parents.version === 2 ? 100 : 1024;
    let total = 0;
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      total += ((await readNumber(posix.join(dir, entry.name, file))) ?? 0) / perCpu;
    }
    const write = parentWeightWrite(parents, total);
    if (write) await writeFile(posix.join(write.dir, write.file), write.value).catch(() => {});
  }

  return {
    async support() {
      return (await ensure()).support;
    },

    async create(instanceId, limits) {
      const { support, parents } = await ensure();
      if (!parents) {
        if (opts.mode === 'on') throw new Error(support.message);
        return null;
      }
      const ref = instanceCgroup(parents, instanceId);
      await killCgroup(ref);
      await removeCgroup(ref);
      for (const dir of cgroupDirs(ref)) await mkdir(dir, { recursive: true });
      for (const w of limitWrites(ref, limits)) {
        try {
          await writeFile(posix.join(w.dir, w.file), w.value);
        } catch (e) {
          if (!w.optional) {
            await removeCgroup(ref);
            throw new Error(`cannot set ${w.file} = ${w.value} in ${w.dir}: ${(e as Error).message}`);
          }
        }
      }
      await rebalance(parents);
      return ref;
    },

    async close() {
      if (!detected) return;
      const { parents } = await detected;
      if (parents) await removeCgroup(parents, 0);
    },
  };
}
