// The volume pool (src/runtime/local/volume-pool.ts): real XFS images, formatted ahead of time and
// claimed by rename when an instance of the pool's capacity is created; other capacities are
// formatted on demand; a half-made image is never handed out; no image is handed out twice.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, statfs, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { instancePaths } from '../../src/runtime/local/layout.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import { createVolumes, formatImage, imageFile, GIB } from '../../src/runtime/local/volume.ts';
import { createVolumePool, type VolumePool } from '../../src/runtime/local/volume-pool.ts';
import type { Launched } from '../../src/runtime/runtime.ts';
import { waitFor } from '../support/wait.ts';
import { execIn, instanceSpec, launchReady, removeDataDir } from './sandbox-helpers.ts';

const XFS_MAGIC = 0x58465342;
const silent = { info() {}, warn() {} };
const READY = /^\d+g-[0-9a-f]{16}\.img$/;

const mounted = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${dir} `);
const inode = async (path: string) => (await stat(path)).ino;
const poolImages = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter((n) => READY.test(n)).sort();

function pool(dataDir: string, size: number, capacityGb = 1, quietMs = 0): VolumePool {
  return createVolumePool({ dir: join(dataDir, 'volume-pool'), capacityGb, size, quietMs, format: (image) => formatImage(image, true), log: silent });
}

async function paths(dataDir: string, id: string) {
  const p = instancePaths(dataDir, id);
  await mkdir(p.instanceDir, { recursive: true });
  return p;
}

describe('volume pool: pre-formatted images claimed by creations', () => {
  let dataDir: string;
  const volumeDirs: string[] = [];
  const pools: VolumePool[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-pool-'));
  });

  after(async () => {
    for (const p of pools) await p.close();
    for (const dir of volumeDirs) if (await mounted(dir)) execFileSync('umount', ['-l', dir]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('fills to its size; a creation of its capacity takes a ready image by rename (no format) and gets a mounted XFS of exactly that capacity; the pool refills', async () => {
    const dir = join(dataDir, 'a');
    const p = pool(dir, 2);
    pools.push(p);
    p.start();
    await p.idle();
    const ready = await poolImages(join(dir, 'volume-pool'));
    assert.equal(ready.length, 2);
    const readyInodes = await Promise.all(ready.map((n) => inode(join(dir, 'volume-pool', n))));

    const volumes = createVolumes({ pool: p });
    const vp = await paths(dir, 'claimed');
    volumeDirs.push(vp.volumeDir);
    assert.deepEqual(await volumes.ensure(vp, 1, 'image'), { capacityGb: 1, kind: 'image' });
    assert.ok(readyInodes.includes(await inode(imageFile(vp))), 'the volume is one of the pool images, moved');
    // (The refill may already be under way: quietMs is 0 here.)
    const left = await poolImages(join(dir, 'volume-pool'));
    assert.equal(ready.filter((n) => !left.includes(n)).length, 1, 'one ready image moved out of the pool');
    assert.equal(await mounted(vp.volumeDir), true);
    const fs = await statfs(vp.volumeDir);
    assert.equal(fs.type, XFS_MAGIC);
    assert.ok(fs.blocks * fs.bsize > 0.9 * GIB && fs.blocks * fs.bsize <= GIB, `a 1 GB filesystem: ${fs.blocks * fs.bsize}`);
    assert.equal((await stat(imageFile(vp))).size, GIB);
    await writeFile(join(vp.volumeDir, 'kept.txt'), 'kept\n');

    // Refilled behind the claim, to its size again, with an image that is not the claimed one.
    await p.idle();
    const refilled = await poolImages(join(dir, 'volume-pool'));
    assert.equal(refilled.length, 2);
    const claimedName = ready.find((n) => !left.includes(n))!;
    assert.ok(!refilled.includes(claimedName), 'the claimed image never comes back');

    // The claimed volume is the instance's for good: remounted, its files are there.
    execFileSync('umount', [vp.volumeDir]);
    await volumes.ensure(vp, 1, 'image');
    assert.equal(await readFile(join(vp.volumeDir, 'kept.txt'), 'utf8'), 'kept\n');
  });

  it('a capacity other than the pool\'s is formatted on demand and leaves the pool alone', async () => {
    const dir = join(dataDir, 'b');
    const p = pool(dir, 1);
    pools.push(p);
    p.start();
    await p.idle();
    const ready = await poolImages(join(dir, 'volume-pool'));
    const volumes = createVolumes({ pool: p });
    const vp = await paths(dir, 'other-size');
    volumeDirs.push(vp.volumeDir);
    await volumes.ensure(vp, 2, 'image');
    assert.equal((await stat(imageFile(vp))).size, 2 * GIB);
    assert.equal((await statfs(vp.volumeDir)).type, XFS_MAGIC);
    assert.deepEqual(await poolImages(join(dir, 'volume-pool')), ready, 'the pool is untouched');
    assert.equal(p.readyCount(), 1);
  });

  it('crash safety: a half-made image is never handed out and is removed at start; images of another capacity are removed; ready ones are adopted', async () => {
    const dir = join(dataDir, 'c');
    const poolDir = join(dir, 'volume-pool');
    await mkdir(poolDir, { recursive: true });
    // A crash while formatting leaves a .making- file: sized, but no filesystem in it.
    const halfMade = join(poolDir, '.making-00000000000000aa.img');
    await (await open(halfMade, 'w')).close();
    await truncate(halfMade, GIB);
    // The capacity setting changed since this one was made.
    const otherCapacity = join(poolDir, '2g-00000000000000bb.img');
    await (await open(otherCapacity, 'w')).close();
    await truncate(otherCapacity, 2 * GIB);
    await formatImage(otherCapacity);
    // A ready one from before the restart.
    const adopted = join(poolDir, '1g-00000000000000cc.img');
    await (await open(adopted, 'w')).close();
    await truncate(adopted, GIB);
    await formatImage(adopted);
    const adoptedInode = await inode(adopted);

    const p = pool(dir, 1);
    pools.push(p);
    p.start();
    await p.idle();
    assert.deepEqual(await readdir(poolDir), ['1g-00000000000000cc.img'], 'only the ready image of the pool\'s capacity is left');

    const volumes = createVolumes({ pool: p });
    const vp = await paths(dir, 'after-crash');
    volumeDirs.push(vp.volumeDir);
    await volumes.ensure(vp, 1, 'image');
    assert.equal(await inode(imageFile(vp)), adoptedInode, 'the adopted image was handed out, never the half-made one');
    assert.equal((await statfs(vp.volumeDir)).type, XFS_MAGIC);
  });

  it('many creations at once: each gets its own volume (pool images first, then formatted ones), none twice; no refill while creations keep coming', async () => {
    const dir = join(dataDir, 'd');
    // Filled at start (nothing claimed yet), then quiet for a minute after each claim.
    const p = pool(dir, 3, 1, 60_000);
    pools.push(p);
    p.start();
    await p.idle();
    const readyInodes = await Promise.all((await poolImages(join(dir, 'volume-pool'))).map((n) => inode(join(dir, 'volume-pool', n))));
    const volumes = createVolumes({ pool: p });
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => paths(dir, `crowd-${i}`)));
    for (const vp of all) volumeDirs.push(vp.volumeDir);
    await Promise.all(all.map((vp) => volumes.ensure(vp, 1, 'image')));
    const inodes = await Promise.all(all.map((vp) => inode(imageFile(vp))));
    assert.equal(new Set(inodes).size, 8, 'eight distinct images');
    assert.equal(inodes.filter((i) => readyInodes.includes(i)).length, 3, 'the three ready ones were used');
    for (const vp of all) assert.equal((await statfs(vp.volumeDir)).type, XFS_MAGIC);
    assert.equal(p.readyCount(), 0);
    assert.deepEqual(await readdir(join(dir, 'volume-pool')), [], 'nothing is being formatted within quietMs of a claim');
  });

  it('size 0: no pool directory, every volume formatted on demand', async () => {
    const dir = join(dataDir, 'e');
    const p = pool(dir, 0);
    p.start();
    await p.idle();
    const vp = await paths(dir, 'no-pool');
    volumeDirs.push(vp.volumeDir);
    await createVolumes({ pool: p }).ensure(vp, 1, 'image');
    assert.equal((await statfs(vp.volumeDir)).type, XFS_MAGIC);
    assert.equal(await stat(join(dir, 'volume-pool')).then(() => true, () => false), false);
  });
});

describe('volume pool in the local runtime', () => {
  let dataDir: string;
  const launched: Launched[] = [];
  let runtime: ReturnType<typeof createLocalRuntime>;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-pool-runtime-'));
    runtime = createLocalRuntime({ dataDir, volumePool: { size: 2, capacityGb: 1, quietMs: 0 } });
  });

  after(async () => {
    await removeDataDir(dataDir, launched, runtime);
  });

  it('fills once the host is known to take image volumes; an instance created from it runs with its files on the claimed volume', async () => {
    await runtime.checkImage('jupyter_server'); // the storage probe: the pool starts here
    const poolDir = join(dataDir, 'volume-pool');
    await waitFor('the pool to fill', 30_000, async () => (await poolImages(poolDir)).length === 2);
    const before = await Promise.all((await poolImages(poolDir)).map((n) => inode(join(poolDir, n))));

    const s = instanceSpec('pooled', { capacityGb: 1 });
    const l = await launchReady(runtime, s, launched);
    assert.ok(before.includes(await inode(join(dataDir, 'volumes', `${s.instanceId}.img`))), 'the instance got a pool image');
    const r = await execIn(runtime, l, ['/bin/sh', '-c', 'echo hello > mine.txt && df -B1 --output=size . | tail -1 && stat -c %U .']);
    assert.equal(r.code, 0, r.stderr);
    const [size, owner] = r.stdout.trim().split('\n');
    assert.ok(Number(size) > 0.9 * GIB && Number(size) <= GIB, `1 GB inside: ${size}`);
    assert.equal(owner, 'ma-user', 'the new volume belongs to the sandbox user');
    assert.equal(await readFile(join(dataDir, 'volumes', s.instanceId, 'mine.txt'), 'utf8'), 'hello\n');
    await runtime.stop(l.handle, 5_000);
    await waitFor('the pool to refill', 30_000, async () => (await poolImages(poolDir)).length === 2);
  });
});

describe('volume pool settings', () => {
  it('default to 8 images of the API\'s default capacity; a partial setting keeps the other defaults; a negative size is refused', () => {
    assert.deepEqual(loadConfig({}, {}).localRuntime.volumePool, { size: 8, capacityGb: 5, quietMs: 15_000 });
    assert.deepEqual(loadConfig({}, {}, { localRuntime: { volumePool: { size: 0 } } }).localRuntime.volumePool, { size: 0, capacityGb: 5, quietMs: 15_000 });
    assert.throws(() => loadConfig({}, {}, { localRuntime: { volumePool: { size: -1 } } }), /invalid configuration.*volumePool/);
  });
});
