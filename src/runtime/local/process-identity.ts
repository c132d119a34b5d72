// Who a pid really is. A pid alone is not an identity: after our server exits the kernel may hand
// the same number to an unrelated process, and signalling that one would be a disaster. The start
// time (field 22 of /proc/<pid>/stat, clock ticks since boot) plus the boot id pins one process.
import { readFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22: start time in clock ticks since boot. */
  startTime: number;
}

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), T, ... */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  startTime: number;
}

/** Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and ')', so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // Fields from 3 (state) on; field N is rest[N - 3].
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const state = rest[0];
  const startTime = Number(rest[22 - 3]);
  if (!Number.isInteger(pid) || !state || !Number.isFinite(startTime)) return null;
  return { pid, state, ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]), startTime };
}

/** null when the process does not exist (or /proc cannot tell). */
export async function readProcStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

export function readProcStatSync(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

export type Liveness =
  | { state: 'alive'; stat: ProcStat }
  | { state: 'gone' }
  | { state: 'zombie' }
  | { state: 'recycled'; stat: ProcStat };

/** A zombie has exited already: it only waits for a parent to reap it (an adopted one may never be reaped). */
export async function liveness(id: ProcessIdentity): Promise<Liveness> {
  const stat = await readProcStat(id.pid);
  if (!stat) return { state: 'gone' };
  if (stat.startTime !== id.startTime) return { state: 'recycled', stat };
  if (stat.state === 'Z' || stat.state === 'X') return { state: 'zombie' };
  return { state: 'alive', stat };
}

let cachedBootId: string | undefined;
/** Start times restart at zero on reboot; the boot id tells a handle from a previous boot. */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

/** Every live process below `rootPid` (children, grandchildren...), read from /proc in one pass. */
export async function descendants(rootPid: number): Promise<ProcessIdentity[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const stats: ProcStat[] = [];
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const stat = await readProcStat(Number(n));
        if (stat) stats.push(stat);
      }),
  );
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out: ProcessIdentity[] = [];
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      out.push({ pid: child.pid, startTime: child.startTime });
      queue.push(child.pid);
    }
  }
  return out;
}
