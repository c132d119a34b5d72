// /proc/self/mountinfo, parsed. Pure. The cgroup hierarchies and the volume mounts are both
// found here rather than by shelling out to findmnt.
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** The path inside the filesystem that is mounted (for a bind mount or a cgroup, not '/'). */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** One line: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`. */
export function parseMountinfoLine(line: string): MountEntry | null {
  const dash = line.indexOf(' - ');
  if (dash < 0) return null;
  const head = line.slice(0, dash).split(' ');
  const tail = line.slice(dash + 3).split(' ');
  if (head.length < 6 || tail.length < 3) return null;
  const [mountId, parentId, , root, mountPoint, options] = head as [string, string, string, string, string, string];
  const [fstype, source, superOptions] = tail as [string, string, string];
  return {
    mountId: Number(mountId),
    parentId: Number(parentId),
    root: unescapeMountPath(root),
    mountPoint: unescapeMountPath(mountPoint),
    mountOptions: options.split(','),
    fstype,
    source: unescapeMountPath(source),
    superOptions: superOptions.split(','),
  };
}

export function parseMountinfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .map(parseMountinfoLine)
    .filter((m): m is MountEntry => m !== null);
}

/** The topmost mount at `path` (a later line over the same point hides an earlier one). */
export function mountAt(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const m of mounts) if (m.mountPoint === path) found = m;
  return found;
}

export async function readMountinfo(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
}
