// Where an instance's cgroups live and what is written into them. Pure: the I/O is in cgroups.ts.
//
// Instances nest under notebookd's *own* cgroup (from /proc/self/cgroup) in each hierarchy,
// never at a v1 root: a cgroup created at the root would escape whatever accounting notebookd
// itself is under. v2 is used when the unified hierarchy has the controllers; otherwise v1
// (memory, cpu, cpuacct, pids), which is what hybrid hosts such as ours have.
import { posix } from 'node:path';
import type { MountEntry } from './mountinfo.ts';

export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
/** What v2 must offer for the limits we set. */
export const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** An instance's cgroup directories, kept in the runtime handle: absolute paths under /sys/fs/cgroup. */
export type CgroupRef = { version: 1; dirs: Partial<Record<V1Controller, string>> } | { version: 2; dir: string };

export interface ProcCgroupLine {
  hierarchyId: number;
  controllers: string[];
  path: string;
}

/** /proc/self/cgroup: `4:memory:/process_api/090…`, `1:cpu,cpuacct:/`, `0::/user.slice`. */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const out: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({ hierarchyId: Number(m[1]), controllers: m[2] ? m[2].split(',') : [], path: m[3] || '/' });
  }
  return out;
}

export interface CgroupParents {
  layout: CgroupRef;
  /** v1 controllers that have no usable hierarchy (their limits are not enforced). */
  missing: string[];
}

/**
 * The directories under which instance cgroups are created. `root` is a cgroup path (the same
 * in every hierarchy, e.g. /notebookd); empty means `<notebookd's own cgroup>/notebookd`.
 * `v2Available` lists the controllers in the unified root's cgroup.controllers.
 */
export function resolveCgroupParents(
  procCgroup: readonly ProcCgroupLine[],
  mounts: readonly MountEntry[],
  root: string,
  v2Available: readonly string[],
): CgroupParents | { error: string } {
  const under = (own: string) => (root ? root : posix.join(own, 'notebookd'));
  const inMount = (m: MountEntry, cgPath: string): string | null => {
    // A mount shows the hierarchy from m.root down: the path must be inside it.
    const rel = posix.relative(m.root, cgPath);
    if (rel.startsWith('..') || posix.isAbsolute(rel)) return null;
    return posix.join(m.mountPoint, rel);
  };

  const unified = procCgroup.find((l) => l.hierarchyId === 0 && l.controllers.length === 0);
  const v2Mount = mounts.find((m) => m.fstype === 'cgroup2');
  if (unified && v2Mount && V2_CONTROLLERS.every((c) => v2Available.includes(c))) {
    const dir = inMount(v2Mount, under(unified.path));
    if (!dir) return { error: `notebookd's cgroup ${unified.path} is not visible under ${v2Mount.mountPoint}` };
    return { layout: { version: 2, dir }, missing: [] };
  }

  const dirs: Partial<Record<V1Controller, string>> = {};
  const missing: string[] = [];
  for (const controller of V1_CONTROLLERS) {
    const line = procCgroup.find((l) => l.controllers.includes(controller));
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes(controller));
    const dir = line && mount ? inMount(mount, under(line.path)) : null;
    if (dir) dirs[controller] = dir;
    else missing.push(controller);
  }
  if (Object.keys(dirs).length === 0) return { error: 'no cgroup hierarchy with the memory, cpu or pids controller is mounted' };
  return { layout: { version: 1, dirs }, missing };
}

/** The instance's cgroup below the parents. */
export function instanceCgroup(parents: CgroupRef, instanceId: string): CgroupRef {
  if (parents.version === 2) return { version: 2, dir: posix.join(parents.dir, instanceId) };
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const [controller, dir] of Object.entries(parents.dirs) as [V1Controller, string][]) dirs[controller] = posix.join(dir, instanceId);
  return { version: 1, dirs };
}

/** Distinct directories of a ref (co-mounted v1 controllers share one). */
export function cgroupDirs(ref: CgroupRef): string[] {
  return ref.version === 2 ? [ref.dir] : [...new Set(Object.values(ref.dirs))];
}

export interface InstanceLimits {
  memoryMb: number;
  vcpus: number;
  pidsMax: number;
}

export interface LimitWrite {
  dir: string;
  file: string;
  value: string;
  /** Failing to write it is not fatal (e.g. swap accounting switched off on this kernel). */
  optional?: boolean;
}

export const CPU_PERIOD_US = 100_000;

/** The files that enforce a flavor, in the order they must be written. */
export function limitWrites(ref: CgroupRef, limits: InstanceLimits): LimitWrite[] {
  const bytes = String(Math.round(limits.memoryMb * 1024 * 1024));
  const quotaUs = Math.max(1_000, Math.round(limits.vcpus * CPU_PERIOD_US));
  const pids = String(limits.pidsMax);
  if (ref.version === 2) {
    return [
      { dir: ref.dir, file: 'memory.max', value: bytes },
      { dir: ref.dir, file: 'memory.swap.max', value: '0', optional: true },
      { dir: ref.dir, file: 'cpu.max', value: `${quotaUs} ${CPU_PERIOD_US}` },
      { dir: ref.dir, file: 'cpu.weight', value: String(cpuWeight(2, limits.vcpus)) },
      { dir: ref.dir, file: 'pids.max', value: pids },
    ];
  }
  const out: LimitWrite[] = [];
  const { memory, cpu, pids: pidsDir } = ref.dirs;
  if (memory) {
    out.push({ dir: memory, file: 'memory.limit_in_bytes', value: bytes });
    // memory+swap no larger than memory: no swapping past the flavor (absent without swap accounting).
    out.push({ dir: memory, file: 'memory.memsw.limit_in_bytes', value: bytes, optional: true });
  }
  if (cpu) {
    out.push({ dir: cpu, file: 'cpu.cfs_period_us', value: String(CPU_PERIOD_US) });
    out.push({ dir: cpu, file: 'cpu.cfs_quota_us', value: String(quotaUs) });
    out.push({ dir: cpu, file: 'cpu.shares', value: String(cpuWeight(1, limits.vcpus)) });
  }
  if (pidsDir) out.push({ dir: pidsDir, file: 'pids.max', value: pids });
  return out;
}

/**
 * The scheduler weight of `vcpus` worth of busy processes: v1 cpu.shares (1024 per CPU), v2
 * cpu.weight (100 per CPU). A cgroup competes with its siblings as one entity, so without this
 * every instance together would weigh as much as a single host process.
 */
export function cpuWeight(version: 1 | 2, vcpus: number): number {
  return version === 1 ? Math.min(262_144, Math.max(2, Math.round(1024 * vcpus))) : Math.min(10_000, Math.max(1, Math.round(100 * vcpus)));
}

/** The parents' weight: the sum of their instances' vCPUs (at least one CPU's worth). */
export function parentWeightWrite(parents: CgroupRef, totalVcpus: number): LimitWrite | null {
  const vcpus = Math.max(1, totalVcpus);
  if (parents.version === 2) return { dir: parents.dir, file: 'cpu.weight', value: String(cpuWeight(2, vcpus)) };
  return parents.dirs.cpu ? { dir: parents.dirs.cpu, file: 'cpu.shares', value: String(cpuWeight(1, vcpus)) } : null;
}

/** `key value` lines (memory.stat, memory.oom_control, cpu.stat, memory.events) as numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

/** Where the OOM-kill counter of a ref lives. */
export function oomCounterFile(ref: CgroupRef): { path: string; key: string } | null {
  if (ref.version === 2) return { path: posix.join(ref.dir, 'memory.events'), key: 'oom_kill' };
  return ref.dirs.memory ? { path: posix.join(ref.dirs.memory, 'memory.oom_control'), key: 'oom_kill' } : null;
}

/** Checks a ref read back from a handle: absolute paths under /sys/fs/cgroup only, never `..`. */
export function parseCgroupRef(raw: unknown): CgroupRef | null {
  const ok = (p: unknown): p is string => typeof p === 'string' && p.startsWith('/sys/fs/cgroup/') && !p.split('/').includes('..');
  const r = raw as { version?: unknown; dir?: unknown; dirs?: Record<string, unknown> } | null;
  if (!r || typeof r !== 'object') return null;
  if (r.version === 2) return ok(r.dir) ? { version: 2, dir: r.dir } : null;
  if (r.version !== 1 || !r.dirs || typeof r.dirs !== 'object') return null;
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const c of V1_CONTROLLERS) {
    const d = r.dirs[c];
    if (d === undefined) continue;
    if (!ok(d)) return null;
    dirs[c] = d;
  }
  return { version: 1, dirs };
}
