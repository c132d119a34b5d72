// Volumes of exactly their capacity, with real writes from inside real instances: a full volume
// is an ordinary ENOSPC for the user's program; growing works while the instance runs; data
// survives stop/start and a notebookd restart; deleting the instance deletes its volume. Also
// the fallback where volumes are plain directories, and the API's storage_new_size.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { Launched, Runtime } from '../../src/runtime/runtime.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { createBody, PROJECT, SERVER_IMAGE, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { execIn, instanceSpec, Kernel, launchReady, removeDataDir } from './sandbox-helpers.ts';

const GIB = 1024 ** 3;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
const mounted = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${dir} `);

/** Size and free bytes of the volume as the instance sees it (df inside the sandbox). */
async function dfInside(runtime: Runtime, l: Launched): Promise<{ sizeBytes: number; availBytes: number }> {
  const r = await execIn(runtime, l, ['/bin/sh', '-c', 'df -B1 --output=size,avail /home/ma-user/work | tail -1']);
  assert.equal(r.code, 0, r.stderr);
  const [size, avail] = r.stdout.trim().split(/\s+/).map(Number);
  return { sizeBytes: size!, availBytes: avail! };
}

describe('sandbox: volumes of exactly their capacity', () => {
  let dataDir: string;
  let runtime: Runtime;
  const launched: Launched[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-storage-'));
    runtime = createLocalRuntime({ dataDir });
  });

  after(async () => {
    await removeDataDir(dataDir, launched, runtime);
  });

  it('a full volume is ENOSPC for the program (kernel and shell alike); the instance keeps running; growing it while running makes room', async () => {
    const s = instanceSpec('vol-full', { capacityGb: 1 });
    const l = await launchReady(runtime, s, launched);
    const df = await dfInside(runtime, l);
    // The device is exactly 1 GB; XFS keeps its log (64 MB) inside it.
    assert.ok(df.sizeBytes >= 0.93 * GIB && df.sizeBytes <= GIB, `a 1 GB filesystem inside: ${df.sizeBytes}`);

    const kernel = await Kernel.open(l.target);
    const filled = await kernel.run(`
import errno
written = 0
try:
    with open('fill.bin', 'wb') as f:
        chunk = b'\\0' * (8 << 20)
        for _ in range(200):
            f.write(chunk)
            f.flush()
            written += len(chunk)
    print('no error', written)
except OSError as e:
    print(errno.errorcode[e.errno], written >> 20)
`);
    assert.equal(filled.error, null);
    const [code, mb] = filled.stdout.trim().split(' ');
    assert.equal(code, 'ENOSPC', filled.stdout);
    assert.ok(Number(mb) > 850 && Number(mb) < 1024, `wrote ${mb} MB before the volume was full`);
    const shell = await execIn(runtime, l, ['/bin/sh', '-c', 'dd if=/dev/zero of=more.bin bs=1M count=64 status=none']);
    assert.notEqual(shell.code, 0);
    assert.match(shell.stderr, /No space left on device/);
    assert.deepEqual(await runtime.poll(l.handle), { state: 'running' }, 'a full disk is not a crash');

    // storage_new_size while RUNNING: the reconciler calls resizeVolume; the filesystem grows online.
    await runtime.resizeVolume!(s.instanceId, 2);
    const grown = await dfInside(runtime, l);
    assert.ok(grown.sizeBytes >= 1.93 * GIB && grown.sizeBytes <= 2 * GIB, `grown to 2 GB inside: ${grown.sizeBytes}`);
    assert.ok(grown.availBytes > 0.9 * GIB, `room again: ${grown.availBytes}`);
    const appended = await kernel.run(`
with open('fill.bin', 'ab') as f:
    f.write(b'\\0' * (512 << 20))
print('ok')
`);
    assert.equal(appended.stdout.trim(), 'ok', appended.error ?? '');
    kernel.close();
    assert.equal((await stat(join(dataDir, 'volumes', `${s.instanceId}.img`))).size, 2 * GIB);
    await runtime.stop(l.handle, 5_000);
  });

  it('data survives stop and start, and a notebookd restart (adopted instance, then stopped and started by the new one)', async () => {
    const s = instanceSpec('vol-keep', { capacityGb: 1 });
    const first = await launchReady(runtime, s, launched);
    assert.equal((await execIn(runtime, first, ['/bin/sh', '-c', 'echo kept > kept.txt; mkdir -p sub; echo deep > sub/deep.txt'])).code, 0);
    await runtime.stop(first.handle, 5_000);
    const volume = join(dataDir, 'volumes', s.instanceId);
    assert.equal(await readFile(join(volume, 'kept.txt'), 'utf8'), 'kept\n', 'while stopped the files are on the (still mounted) volume');

    const second = await launchReady(runtime, { ...s, jupyterToken: 'second-token-1234' }, launched);
    assert.equal((await execIn(runtime, second, ['/bin/cat', 'kept.txt', 'sub/deep.txt'])).stdout, 'kept\ndeep\n');

    // notebookd restarts: a new runtime object adopts the running instance.
    const restarted = createLocalRuntime({ dataDir });
    assert.deepEqual(await restarted.poll(second.handle), { state: 'running' });
    assert.equal((await execIn(restarted, second, ['/bin/cat', 'kept.txt'])).stdout, 'kept\n');
    await restarted.stop(second.handle, 5_000);
    const third = await launchReady(restarted, { ...s, jupyterToken: 'third-token-12345' }, launched);
    assert.equal((await execIn(restarted, third, ['/bin/cat', 'sub/deep.txt'])).stdout, 'deep\n');
    await restarted.stop(third.handle, 5_000);
  });

  it('deleting the instance deletes its volume: image, mount point and records', async () => {
    const s = instanceSpec('vol-gone', { capacityGb: 1 });
    const l = await launchReady(runtime, s, launched);
    const volume = join(dataDir, 'volumes', s.instanceId);
    assert.equal(await mounted(volume), true);
    await runtime.destroy(s.instanceId);
    assert.equal(await mounted(volume), false);
    assert.equal(await exists(`${volume}.img`), false);
    assert.equal(await exists(volume), false);
    assert.equal(await exists(join(dataDir, 'instances', s.instanceId)), false);
    assert.notEqual((await runtime.poll(l.handle)).state, 'running');
  });
});

describe('sandbox: volumes as directories (hosts without loop mounts)', () => {
  let dataDir: string;
  let runtime: Runtime;
  const launched: Launched[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-storage-dir-'));
    runtime = createLocalRuntime({ dataDir, storage: 'directory' });
  });

  after(async () => {
    await removeDataDir(dataDir, launched, runtime);
  });

  it('the image status says the size is measured, not enforced', async () => {
    const availability = await runtime.checkImage('jupyter_server');
    assert.equal(availability.available, true);
    assert.match(availability.warning ?? '', /volumes are plain directories \(localRuntime.storage = directory\): their size is measured, not enforced/);
  });

  it('a start is refused while the volume holds more than its capacity, and allowed again once grown', async () => {
    const s = instanceSpec('dir-over', { capacityGb: 1 });
    await runtime.prepare(s, () => {});
    const volume = join(dataDir, 'volumes', s.instanceId);
    execFileSync('fallocate', ['-l', String(Math.round(1.2 * GIB)), join(volume, 'big.bin')]);
    await assert.rejects(() => runtime.start(s), /the volume holds 1\.20 GB, more than its capacity of 1 GB; free space in it or grow it with storage_new_size/);
    await runtime.resizeVolume!(s.instanceId, 2);
    const l = await launchReady(runtime, { ...s, capacityGb: 2 }, launched);
    await runtime.stop(l.handle, 5_000);
  });

  it("files root wrote into a volume before it was sandboxed become the instance user's at its first sandboxed start", async () => {
    const s = instanceSpec('dir-owned', { capacityGb: 1 });
    await runtime.prepare(s, () => {});
    const volume = join(dataDir, 'volumes', s.instanceId);
    await writeFile(join(volume, 'from-before.txt'), 'old\n');
    const l = await launchReady(runtime, s, launched);
    const r = await execIn(runtime, l, ['/bin/sh', '-c', 'echo new >> from-before.txt && cat from-before.txt && stat -c %U from-before.txt']);
    assert.equal(r.stdout, 'old\nnew\nma-user\n', r.stderr);
    const hostUid = (await stat(join(volume, 'from-before.txt'))).uid;
    assert.notEqual(hostUid, 0);
    assert.equal((l.handle as unknown as LocalHandle).sandboxed, true);
    await runtime.stop(l.handle, 5_000);
  });
});

describe('sandbox: storage_new_size through the API while RUNNING', () => {
  let svc: TestService;

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local' } });
  });

  after(async () => {
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => []);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  it('goes RESIZING, then IN_USE with the new capacity, and the instance sees the bigger filesystem', async () => {
    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ image_id: SERVER_IMAGE }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', 60_000);
    const put = await svc.api.put(`/v1/${PROJECT}/notebooks/${id}`, { storage_new_size: 7 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.volume.status, 'RESIZING');
    const done = await waitForNotebook(svc.api, id, (nb) => nb.volume.status === 'IN_USE' && nb.volume.capacity === 7, 30_000);
    assert.equal(done.status, 'RUNNING');
    const nb = (await svc.service.store.notebooks.get(id))!;
    const l = { handle: nb.runtimeHandle as Launched['handle'], target: nb.runtimeTarget! };
    const df = await dfInside(svc.service.runtime, l);
    assert.ok(df.sizeBytes > 6.9 * GIB && df.sizeBytes <= 7 * GIB, `7 GB inside: ${df.sizeBytes}`);
    assert.equal((await svc.api.delete(`/v1/${PROJECT}/notebooks/${id}`)).status, 200);
    await waitForNotebook(svc.api, id, (n) => n === undefined || n.status === 'DELETED', 30_000);
    assert.equal(await exists(join(svc.dataDir, 'volumes', `${id}.img`)), false, 'deleting the instance deleted its volume');
  });
});
