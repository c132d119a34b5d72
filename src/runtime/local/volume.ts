// An instance's volume. Where the host allows it (root, loop devices, xfsprogs) each volume is an
// XFS filesystem image of exactly its capacity (volumes/<id>.img, sparse), loop-mounted at
// volumes/<id>/ from its creation to its deletion (and again after a host reboot, at the next
// start), so its files stay where operators look for them: a full volume is an ordinary ENOSPC for the user's
// program, and storage_new_size grows it online (xfs_growfs; ext4's online resize would need
// CAP_SYS_RESOURCE, which hosts like ours withhold). Elsewhere the volume is a plain directory
// whose usage is measured: start refuses a volume already past its capacity. A new image volume
// of the pool's capacity is taken ready-formatted from volume-pool.ts rather than formatted here.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chown, mkdir, mkdtemp, open, readdir, rm, stat, statfs, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readJson, writeJson } from './json-file.ts';
import type { InstancePaths } from './layout.ts';
import { mountAt, readMountinfo } from './mountinfo.ts';
import type { VolumePool } from './volume-pool.ts';

export type StorageMode = 'auto' | 'image' | 'directory';
export type VolumeKind = 'image' | 'directory';

export const GIB = 1024 ** 3;

/** volumes/<id>.json's shape (kept in instances/<id>/volume.json). A record without `kind` is a directory. */
export interface VolumeRecord {
  capacityGb: number;
  kind?: VolumeKind;
}

export interface StorageSupport {
  kind: VolumeKind;
  message: string;
}

export interface VolumeUsage {
  usedBytes: number;
  capacityBytes: number;
}

/** volumes/<id>.img beside the mount point volumes/<id>/. */
export const imageFile = (paths: Pick<InstancePaths, 'volumeDir'>) => `${paths.volumeDir}.img`;

const TOOLS = ['/usr/sbin/mkfs.xfs', '/usr/sbin/xfs_growfs', '/usr/sbin/losetup'];

function run(command: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command.split('/').pop()} ${args.join(' ')}: ${(stderr || err.message).trim().split('\n').slice(-3).join('; ')}`));
      else resolve(stdout);
    });
  });
}

async function isMounted(dir: string): Promise<boolean> {
  return mountAt(await readMountinfo(), dir) !== undefined;
}

/** Whether this host can hold volumes as filesystem images: tries one for real. */
export async function probeStorage(mode: StorageMode, dataDir: string): Promise<StorageSupport> {
  const directory = (why: string): StorageSupport => ({
    kind: 'directory',
    message: `volumes are plain directories (${why}): their size is measured, not enforced, and a start is refused when a volume holds more than its capacity`,
  });
  if (mode === 'directory') return directory('localRuntime.storage = directory');
  const refuse = (why: string): StorageSupport => {
    if (mode === 'image') throw new Error(`localRuntime.storage = image, but ${why}`);
    return directory(why);
  };
  if (process.getuid?.() !== 0) return refuse('loop-mounting filesystem images needs root');
  for (const tool of TOOLS) {
    const ok = await access(tool, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!ok) return refuse(`${tool} is missing; install it with: apt-get install xfsprogs`);
  }
  await mkdir(dataDir, { recursive: true });
  const scratch = await mkdtemp(join(dataDir, '.storage-probe-'));
  const image = join(scratch, 'probe.img');
  const mnt = join(scratch, 'mnt');
  try {
    await mkdir(mnt);
    await (await open(image, 'w')).close();
    await truncate(image, 320 * 1024 * 1024); // XFS's minimum size is 300 MB
    await run('/usr/sbin/mkfs.xfs', ['-q', '-f', image]);
    await run('/usr/bin/mount', ['-o', 'loop,nosuid,nodev', image, mnt]);
    await run('/usr/bin/umount', [mnt]);
    return { kind: 'image', message: 'each volume is an XFS image of exactly its capacity, loop-mounted while the instance runs and grown online' };
  } catch (e) {
    if (await isMounted(mnt)) await run('/usr/bin/umount', ['-l', mnt]).catch(() => {});
    return refuse(`loop-mounting a filesystem image failed here (${(e as Error).message})`);
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Formats the sized file `image` as a volume's XFS filesystem. `lowPriority`: at idle I/O and
 * lowest CPU priority (the pool formats ahead of time while servers may be booting).
 */
export async function formatImage(image: string, lowPriority = false): Promise<void> {
  const mkfs = ['/usr/sbin/mkfs.xfs', '-q', '-f', '-L', 'notebook', image];
  if (!lowPriority) return void (await run(mkfs[0]!, mkfs.slice(1)));
  const ionice = await access('/usr/bin/ionice', constants.X_OK).then(
    () => ['/usr/bin/ionice', '-c', '3'],
    () => [],
  );
  const argv = [...ionice, '/usr/bin/nice', '-n', '19', ...mkfs];
  await run(argv[0]!, argv.slice(1));
}

/** Bytes used under a directory (du -sx), for volumes whose size is not enforced. */
async function measureDirectory(dir: string): Promise<number> {
  const out = await run('/usr/bin/du', ['-sx', '--block-size=1', dir], 60_000);
  return Number(out.split(/\s/)[0]) || 0;
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  // -h: a symlink in the volume is changed itself, never what it points at.
  await run('/usr/bin/chown', ['-R', '-h', `${owner.uid}:${owner.gid}`, dir]);
}

export interface Volumes {
  /**
   * Creates the volume if it does not exist (of `kind`), grows it to `capacityGb` if it is
   * smaller, and, for an image, mounts it. Never shrinks. Idempotent.
   */
  ensure(paths: InstancePaths, capacityGb: number, kind: VolumeKind): Promise<VolumeRecord>;
  /** Makes the volume's root (and, once, its whole tree) belong to the sandbox user. */
  own(paths: InstancePaths, owner: { uid: number; gid: number }): Promise<void>;
  /** Grows to `capacityGb` (refuses to shrink), online if mounted. */
  grow(paths: InstancePaths, capacityGb: number): Promise<void>;
  usage(paths: InstancePaths): Promise<VolumeUsage | null>;
  /** The measured overflow of a directory volume past its capacity, as a message; null when within. */
  overCapacity(paths: InstancePaths): Promise<string | null>;
  remove(paths: InstancePaths): Promise<void>;
}

export interface VolumesOptions {
  /** Pre-formatted images of the default capacity, claimed by new image volumes. */
  pool?: VolumePool | null;
}

export function createVolumes(opts: VolumesOptions = {}): Volumes {
  const pool = opts.pool ?? null;
  const record = (paths: InstancePaths) => readJson<VolumeRecord>(paths.volumeFile);

  async function mount(paths: InstancePaths): Promise<void> {
    if (await isMounted(paths.volumeDir)) return;
    await mkdir(paths.volumeDir, { recursive: true });
    await run('/usr/bin/mount', ['-o', 'loop,nosuid,nodev,noatime', imageFile(paths), paths.volumeDir]);
  }

  async function growImage(paths: InstancePaths, bytes: number): Promise<void> {
    const size = (await stat(imageFile(paths))).size;
    if (bytes <= size) return;
    const wasMounted = await isMounted(paths.volumeDir);
    await mount(paths);
    try {
      await truncate(imageFile(paths), bytes);
      const entry = mountAt(await readMountinfo(), paths.volumeDir);
      if (!entry?.source.startsWith('/dev/loop')) throw new Error(`${paths.volumeDir} is not a loop mount`);
      await run('/usr/sbin/losetup', ['-c', entry.source]);
      await run('/usr/sbin/xfs_growfs', [paths.volumeDir]);
    } finally {
      if (!wasMounted) await unmount(paths.volumeDir);
    }
  }

  async function unmount(dir: string): Promise<void> {
    if (!(await isMounted(dir))) return;
    try {
      await run('/usr/bin/umount', [dir]);
    } catch {
      // Still held (a process that escaped the kill): detach now, release when it lets go.
      await run('/usr/bin/umount', ['-l', dir]);
    }
  }

  return {
    async ensure(paths, capacityGb, kind) {
      if (!Number.isFinite(capacityGb) || capacityGb <= 0) throw new Error(`invalid capacity ${capacityGb} GB`);
      let current = await record(paths);
      if (!current) {
        // A directory with data but no record predates images: it stays a directory.
        const legacy = (await readdir(paths.volumeDir).catch(() => [] as string[])).length > 0;
        current = { capacityGb, kind: legacy ? 'directory' : kind };
        if (current.kind === 'image') {
          await mkdir(dirname(imageFile(paths)), { recursive: true });
          if (!(await pool?.claim(capacityGb, imageFile(paths)))) {
            await (await open(imageFile(paths), 'w')).close();
            await truncate(imageFile(paths), Math.round(capacityGb * GIB));
            await formatImage(imageFile(paths));
          }
        } else {
          await mkdir(paths.volumeDir, { recursive: true });
        }
        await writeJson(paths.volumeFile, current, 0o644);
      }
      if ((current.kind ?? 'directory') === 'image') {
        await mount(paths);
        if (capacityGb > current.capacityGb) await growImage(paths, Math.round(capacityGb * GIB));
      } else {
        await mkdir(paths.volumeDir, { recursive: true });
      }
      if (capacityGb > current.capacityGb) {
        current = { ...current, capacityGb };
        await writeJson(paths.volumeFile, current, 0o644);
      }
      return current;
    },

    async own(paths, owner) {
      const info = await stat(paths.volumeDir);
      if (info.uid === owner.uid && info.gid === owner.gid) return;
      // First start in a sandbox (or under another uid): everything so far was written by root.
      // A new, empty volume needs only its root changed (no chown process per creation).
      if ((await readdir(paths.volumeDir)).length > 0) await chownTree(paths.volumeDir, owner);
      await chown(paths.volumeDir, owner.uid, owner.gid);
    },

    async grow(paths, capacityGb) {
      if (!Number.isFinite(capacityGb) || capacityGb <= 0) throw new Error(`invalid capacity ${capacityGb} GB`);
      const current = await record(paths);
      if (!current) throw new Error(`the volume of ${paths.volumeDir} does not exist`);
      if (capacityGb < current.capacityGb) throw new Error(`the volume cannot shrink from ${current.capacityGb} GB to ${capacityGb} GB`);
      if (capacityGb === current.capacityGb) return;
      if (current.kind === 'image') await growImage(paths, Math.round(capacityGb * GIB));
      await writeJson(paths.volumeFile, { ...current, capacityGb }, 0o644);
    },

    async usage(paths) {
      const current = await record(paths);
      if (!current) return null;
      if (current.kind === 'image') {
        if (!(await isMounted(paths.volumeDir))) return null;
        const fs = await statfs(paths.volumeDir);
        return { usedBytes: (fs.blocks - fs.bfree) * fs.bsize, capacityBytes: fs.blocks * fs.bsize };
      }
      return { usedBytes: await measureDirectory(paths.volumeDir), capacityBytes: current.capacityGb * GIB };
    },

    async overCapacity(paths) {
      const current = await record(paths);
      if (!current || current.kind === 'image') return null;
      const used = await measureDirectory(paths.volumeDir);
      const capacity = current.capacityGb * GIB;
      if (used <= capacity) return null;
      return `the volume holds ${(used / GIB).toFixed(2)} GB, more than its capacity of ${current.capacityGb} GB; free space in it or grow it with storage_new_size`;
    },

    async remove(paths) {
      await unmount(paths.volumeDir);
      await rm(imageFile(paths), { force: true });
      await rm(paths.volumeDir, { recursive: true, force: true });
    },
  };
}
