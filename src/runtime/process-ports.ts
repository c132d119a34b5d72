// Which TCP ports a set of host processes listens on, read from /proc: the processes are the
// descendants of some root pids plus every process carrying an environment marker. The SSH
// gateway forwards only to these ports, never to whatever else listens on the host's loopback.
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface PortQuery {
  rootPids: number[];
  /** NAME=value in /proc/<pid>/environ also selects a process (and its descendants by inheritance). */
  marker?: { name: string; value: string };
  /** Whose network namespace's tables to read (default: the first root, else this process). */
  netnsPid?: number;
}

const LOCAL_V4 = new Set(['0100007F', '00000000']);
const LOCAL_V6 = new Set(['00000000000000000000000001000000', '00000000000000000000000000000000']);

async function children(): Promise<Map<number, number[]>> {
  const map = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = map.get(ppid) ?? [];
    list.push(Number(name));
    map.set(ppid, list);
  }
  return map;
}

async function marked(marker: { name: string; value: string }): Promise<number[]> {
  const needle = `${marker.name}=${marker.value}`;
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(needle)) out.push(Number(name));
  }
  return out;
}

async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  return inodes;
}

/** Loopback or wildcard listening ports in a /proc/net/tcp{,6} table whose socket inode is ours. */
export function parseListening(table: string, inodes: Set<string>, v6: boolean): number[] {
  const ports: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = LISTEN
    const [addr, portHex] = cols[1]!.split(':') as [string, string];
    const local = v6 ? LOCAL_V6.has(addr) || addr.startsWith('0000000000000000FFFF0000') && addr.endsWith('0100007F') : LOCAL_V4.has(addr);
    if (local && inodes.has(cols[9]!)) ports.push(parseInt(portHex, 16));
  }
  return ports;
}

export async function listeningPorts(q: PortQuery): Promise<number[]> {
  const tree = await children();
  const selected = new Set<number>();
  const stack = [...q.rootPids, ...(q.marker ? await marked(q.marker) : [])];
  while (stack.length) {
    const pid = stack.pop()!;
    if (selected.has(pid)) continue;
    selected.add(pid);
    stack.push(...(tree.get(pid) ?? []));
  }
  const inodes = new Set<string>();
  for (const pid of selected) for (const inode of await socketInodes(pid)) inodes.add(inode);
  if (inodes.size === 0) return [];
  const ns = q.netnsPid ?? q.rootPids[0] ?? process.pid;
  const v4 = await readFile(`/proc/${ns}/net/tcp`, 'utf8').catch(() => '');
  const v6 = await readFile(`/proc/${ns}/net/tcp6`, 'utf8').catch(() => '');
  return [...new Set([...parseListening(v4, inodes, false), ...parseListening(v6, inodes, true)])].sort((a, b) => a - b);
}
