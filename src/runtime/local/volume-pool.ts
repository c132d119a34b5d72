// A few volume images of the default capacity, formatted ahead of time, so that CreateNotebook
// claims one (a rename) instead of formatting a new one while servers boot: mkfs.xfs writes a 64 MB
// log per volume, which for a burst of creations is the disk's busiest moment (bench/peers).
//
// Crash safety: an image gets its ready name (<capacityGb>g-<hex>.img) only by a rename after it
// was formatted and flushed to disk, so a half-made one (.making-*) is never handed out; it is
// removed when the pool starts. A claim is one rename into volumes/, made durable (volumes/
// fsynced) before the volume is mounted: an image a running instance writes to is
// never also in the pool after a crash. Refilling waits until creations have been quiet for a
// while and formats one image at a time at idle I/O and CPU priority.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface VolumePoolLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface VolumePoolOptions {
  /** The pool's directory: on the same filesystem as the volumes (a claim is a rename). */
  dir: string;
  /** The capacity of every image in the pool; other capacities are formatted on demand. */
  capacityGb: number;
  /** How many images are kept ready; 0 disables the pool. */
  size: number;
  /** Refilling starts once no image was claimed for this long. */
  quietMs: number;
  /** Formats the (sparse, sized) file at `image` as a volume, at low priority. */
  format: (image: string) => Promise<void>;
  log: VolumePoolLog;
}

export interface VolumePool {
  readonly capacityGb: number;
  /**
   * Moves a ready image of exactly `capacityGb` to `target` (which it replaces), durably.
   * False when the capacity differs or none is ready: the caller formats one itself.
   */
  claim(capacityGb: number, target: string): Promise<boolean>;
  /** Removes half-made images, adopts ready ones and starts keeping the pool full. Idempotent. */
  start(): void;
  /** How many images are ready now. */
  readyCount(): number;
  /** Resolves once the pool is full, or when refilling stops (closed, or a format failed). */
  idle(): Promise<void>;
  /** Stops refilling; waits for an image being formatted. */
  close(): Promise<void>;
}

const GIB = 1024 ** 3;
const READY = /^(\d+)g-[0-9a-f]{16}\.img$/;
const MAKING = '.making-';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function createVolumePool(opts: VolumePoolOptions): VolumePool {
  const { dir, capacityGb, size, quietMs, log } = opts;
  /** Ready images, oldest first. */
  const ready: string[] = [];
  let started: Promise<void> | null = null;
  let closed = false;
  let disabled = false;
  let lastClaimAt = 0;
  let timer: NodeJS.Timeout | null = null;
  let filling: Promise<void> | null = null;
  let waiters: (() => void)[] = [];

  const settle = () => {
    for (const w of waiters) w();
    waiters = [];
  };

  async function adopt(): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const name of (await readdir(dir)).sort()) {
      const m = READY.exec(name);
      if (m && Number(m[1]) === capacityGb && ready.length < size) ready.push(join(dir, name));
      // Half-made (a crash while formatting), of another capacity (the setting changed), or surplus.
      else await rm(join(dir, name), { force: true });
    }
    await fsyncDir(dir);
    if (ready.length) log.info({ ready: ready.length, capacityGb }, 'volume pool: adopted ready images');
  }

  async function makeOne(): Promise<void> {
    const id = randomBytes(8).toString('hex');
    const making = join(dir, `${MAKING}${id}.img`);
    const final = join(dir, `${capacityGb}g-${id}.img`);
    try {
      await (await open(making, 'wx', 0o600)).close();
      await truncate(making, Math.round(capacityGb * GIB));
      await opts.format(making);
      // mkfs flushes what it wrote; this makes sure of it before the image can be handed out.
      const fh = await open(making, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(making, final);
      await fsyncDir(dir);
    } catch (e) {
      await rm(making, { force: true }).catch(() => {});
      throw e;
    }
    ready.push(final);
  }

  /** Formats images one at a time until full, each only after `quietMs` without a claim. */
  function schedule(): void {
    if (closed || disabled || filling || timer || size === 0) return;
    if (ready.length >= size) return settle();
    const waitMs = lastClaimAt + quietMs - Date.now();
    if (waitMs > 0) {
      timer = setTimeout(() => {
        timer = null;
        schedule();
      }, waitMs);
      timer.unref();
      return;
    }
    filling = makeOne()
      .then(
        () => {
          filling = null;
          schedule();
        },
        (e: Error) => {
          filling = null;
          // Not retried in a loop: the next claim tries again (a full disk must not spin).
          log.warn({ err: e.message, dir }, 'volume pool: formatting an image failed; creations format their own');
          settle();
        },
      );
  }

  return {
    capacityGb,

    async claim(asked, target) {
      if (size === 0 || disabled || asked !== capacityGb || !started) return false;
      await started.catch(() => {});
      lastClaimAt = Date.now();
      for (let image = ready.shift(); image; image = ready.shift()) {
        try {
          await rename(image, target);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // Removed behind our back: try the next one.
          if (code === 'ENOENT') continue;
          ready.unshift(image);
          // volumes/ on another filesystem: a claim can never be a rename here.
          if (code === 'EXDEV') disabled = true;
          log.warn({ dir, target, err: (e as Error).message }, 'volume pool: could not take an image; this creation formats its own');
          return false;
        }
        // One journal transaction moves it out of the pool and into volumes/: syncing the target
        // directory commits both (ext4, XFS), before the instance can write anything into it.
        await fsyncDir(dirname(target));
        schedule();
        return true;
      }
      schedule();
      return false;
    },

    start() {
      if (size === 0 || started) return;
      started = adopt().then(
        () => schedule(),
        (e: Error) => {
          log.warn({ err: e.message, dir }, 'volume pool: could not be prepared; creations format their own volumes');
          settle();
        },
      );
    },

    readyCount: () => ready.length,

    async idle() {
      if (size === 0 || !started) return;
      await started;
      if (closed || (!filling && !timer && ready.length >= size)) return;
      if (!filling && !timer) return; // stopped after a failure
      await new Promise<void>((resolve) => waiters.push(resolve));
    },

    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await started?.catch(() => {});
      await filling?.catch(() => {});
      settle();
    },
  };
}
