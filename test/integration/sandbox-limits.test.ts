// Flavor limits with real processes in real sandboxed instances: memory (an instance past its
// flavor's memory ends as ERROR saying out of memory, never a silent vanish), the CPU quota
// (observable as throttling), the process-count limit, and usage sampled from the cgroup.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FLAVORS } from '../../src/config/catalog.ts';
import type { Flavor } from '../../src/domain/catalog.ts';
import type { CgroupRef } from '../../src/runtime/local/cgroup-paths.ts';
import { parseFlatKeyed } from '../../src/runtime/local/cgroup-paths.ts';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import { liveness } from '../../src/runtime/local/process-identity.ts';
import type { Launched, Runtime } from '../../src/runtime/runtime.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { instanceSpec, Kernel, launchReady, removeDataDir } from './sandbox-helpers.ts';
import { waitFor } from '../support/wait.ts';

const MIB = 1024 * 1024;

function v1(handle: Launched['handle']): Extract<CgroupRef, { version: 1 }>['dirs'] {
  const ref = (handle as unknown as LocalHandle).cgroup;
  assert.ok(ref && ref.version === 1, 'this host has cgroup v1: the instance has a v1 cgroup');
  return ref.dirs;
}

const cgroupFile = async (dir: string | undefined, file: string) => parseFlatKeyed(await readFile(join(dir!, file), 'utf8'));

describe('sandbox: flavor limits with real processes', () => {
  let dataDir: string;
  let runtime: Runtime;
  const launched: Launched[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-limits-'));
    runtime = createLocalRuntime({ dataDir, pidsMax: 64 });
  });

  after(async () => {
    await removeDataDir(dataDir, launched, runtime);
  });

  it("writes the flavor into the instance's cgroup: memory, CPU quota, process count", async () => {
    const l = await launchReady(runtime, instanceSpec('lim-files', { memoryMb: 768, vcpus: 1.5 }), launched);
    const dirs = v1(l.handle);
    assert.equal((await readFile(join(dirs.memory!, 'memory.limit_in_bytes'), 'utf8')).trim(), String(768 * MIB));
    assert.equal((await readFile(join(dirs.cpu!, 'cpu.cfs_quota_us'), 'utf8')).trim(), '150000');
    assert.equal((await readFile(join(dirs.cpu!, 'cpu.cfs_period_us'), 'utf8')).trim(), '100000');
    assert.equal((await readFile(join(dirs.pids!, 'pids.max'), 'utf8')).trim(), '64');
    // Every process of the instance is in it (the sandbox init, the server and what it runs).
    const procs = (await readFile(join(dirs.memory!, 'cgroup.procs'), 'utf8')).trim().split('\n').map(Number);
    assert.ok(procs.includes((l.handle as unknown as LocalHandle).pid), 'the sandbox init is in the cgroup');
    // Usage comes from the cgroup.
    const sample = await runtime.sample!(l.handle);
    assert.ok(sample, 'a sample');
    assert.ok(sample.memoryBytes > 10 * MIB && sample.memoryBytes < 768 * MIB, `memory in use ${sample.memoryBytes}`);
    assert.ok(sample.processes >= 2, `processes ${sample.processes}`);
    assert.ok(sample.cpuSeconds > 0);
    await runtime.stop(l.handle, 5_000);
    assert.equal(await readFile(join(dirs.memory!, 'cgroup.procs'), 'utf8').catch(() => 'gone'), 'gone', 'the cgroup is removed at stop');
  });

  it('an instance that allocates past its memory is stopped and reported as out of memory, with the reason kept', async () => {
    const l = await launchReady(runtime, instanceSpec('lim-oom', { memoryMb: 256 }), launched);
    const kernel = await Kernel.open(l.target);
    // Touch every page (bytes * n writes them); the kernel dies, the execute_reply never comes.
    void kernel.run('hog = b"x" * (600 * 1024 * 1024)').catch(() => {});
    const result = await waitFor('poll to report the OOM', 60_000, async () => {
      const p = await runtime.poll(l.handle);
      return p.state === 'running' ? null : p;
    });
    kernel.close();
    assert.equal(result.state, 'exited');
    assert.match((result as { reason: string }).reason, /^out of memory: the instance exceeded its 256 MB memory limit/);
    assert.equal((await liveness(l.handle as unknown as LocalHandle)).state === 'alive', false, 'the instance was stopped');
    const dirs = v1(l.handle);
    assert.ok((await cgroupFile(dirs.memory, 'memory.oom_control')).oom_kill! >= 1, 'the kernel counted an OOM kill');
    // A restarted notebookd polling the same handle gets the same answer.
    const restarted = createLocalRuntime({ dataDir });
    const again = await restarted.poll(l.handle);
    assert.match((again as { reason: string }).reason, /^out of memory/);
    // The next start begins with a fresh cgroup: no stale OOM.
    const next = await launchReady(runtime, { ...instanceSpec('lim-oom', { memoryMb: 256 }) }, launched);
    assert.deepEqual(await runtime.poll(next.handle), { state: 'running' });
    await runtime.stop(next.handle, 5_000);
  });

  it('the CPU quota holds: four busy processes under a quarter vCPU get a quarter of a CPU, and cpu.stat counts throttled periods', async () => {
    const vcpus = 0.25;
    const l = await launchReady(runtime, instanceSpec('lim-cpu', { vcpus }), launched);
    const dirs = v1(l.handle);
    const usageNs = async () => Number((await readFile(join(dirs.cpuacct!, 'cpuacct.usage'), 'utf8')).trim());
    const kernel = await Kernel.open(l.target);
    const before = await usageNs();
    const began = Date.now();
    // More demand than this (loaded, 2-core) host would give one process, so the quota is what binds.
    const out = await kernel.run(`
import subprocess, time
busy = [subprocess.Popen(['python3', '-c', 'while True: pass']) for _ in range(4)]
time.sleep(3)
for p in busy:
    p.kill()
    p.wait()
print('done')
`);
    const wallS = (Date.now() - began) / 1000;
    const cpuS = ((await usageNs()) - before) / 1e9;
    kernel.close();
    assert.equal(out.error, null);
    assert.ok(cpuS / wallS < vcpus * 1.3, `CPU seconds per wall second with ${vcpus} vCPU: ${(cpuS / wallS).toFixed(3)}`);
    const stat = await cgroupFile(dirs.cpu, 'cpu.stat');
    assert.ok(stat.nr_throttled! > 0, `throttled periods: ${JSON.stringify(stat)}`);
    await runtime.stop(l.handle, 5_000);
  });

  it('the process limit stops a fork bomb inside the instance, and the instance survives it', async () => {
    const l = await launchReady(runtime, instanceSpec('lim-pids'), launched);
    const kernel = await Kernel.open(l.target);
    const out = await kernel.run(`
import subprocess
procs, failure = [], None
for i in range(200):
    try:
        procs.append(subprocess.Popen(['sleep', '60']))
    except OSError as e:
        failure = type(e).__name__
        break
started = len(procs)
for p in procs:
    p.kill()
    p.wait()
print(started, failure)
`);
    assert.equal(out.error, null);
    const [started, failure] = out.stdout.trim().split(' ');
    assert.ok(Number(started) > 10 && Number(started) < 64, `processes started before the limit: ${started}`);
    assert.equal(failure, 'BlockingIOError', 'fork failed with EAGAIN');
    const events = await cgroupFile(v1(l.handle).pids, 'pids.events');
    assert.ok(events.max! > 0, 'pids.events counted the refusals');
    assert.equal((await kernel.run('print(1 + 1)')).stdout.trim(), '2', 'the kernel still works');
    kernel.close();
    assert.deepEqual(await runtime.poll(l.handle), { state: 'running' });
    await runtime.stop(l.handle, 5_000);
  });
});

describe('sandbox: out of memory through the API (a small test flavor)', () => {
  let svc: TestService;
  const tiny: Flavor = {
    ...DEFAULT_FLAVORS[1]!,
    id: 'test.tiny.256m',
    name: 'Test: 1 vCPU 256 MB',
    vcpus: 1,
    memoryMb: 256,
  };

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local', flavors: [...DEFAULT_FLAVORS, tiny] } });
  });

  after(async () => {
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => []);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  it('shows its usage (ShowNotebook, /metrics); past its memory it ends in ERROR with fail_reason "out of memory", and the event log says so', async () => {
    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ flavor: tiny.id, image_id: '5b1f7c1e-8a7d-4c1e-9d2a-000000000002' }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', 60_000);
    const nb = await svc.service.store.notebooks.get(id);
    assert.ok(nb?.runtimeTarget);

    // Before: what it uses is on the instance (extension field) and in /metrics.
    const shown = await svc.api.get(`/v1/${PROJECT}/notebooks/${id}`);
    const usage = shown.body.usage as { cpu_seconds: number; memory_bytes: number; memory_limit_bytes: number; processes: number; sampled_at: number };
    assert.ok(usage, JSON.stringify(shown.body).slice(0, 300));
    assert.equal(usage.memory_limit_bytes, 256 * MIB);
    assert.ok(usage.memory_bytes > 10 * MIB && usage.memory_bytes < 256 * MIB, `memory ${usage.memory_bytes}`);
    assert.ok(usage.processes >= 2 && usage.cpu_seconds > 0, JSON.stringify(usage));
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`^notebookd_instance_memory_bytes\\{id="${id}"\\} \\d+`, 'm'));
    assert.match(metrics, new RegExp(`^notebookd_instance_memory_limit_bytes\\{id="${id}"\\} ${256 * MIB}$`, 'm'));
    assert.match(metrics, new RegExp(`^notebookd_instance_cpu_seconds_total\\{id="${id}"\\} [\\d.]+`, 'm'));

    const kernel = await Kernel.open(nb.runtimeTarget);
    void kernel.run('hog = b"x" * (600 * 1024 * 1024)').catch(() => {});
    const failed = await waitForNotebook(svc.api, id, (n) => n.status !== 'RUNNING', 60_000);
    kernel.close();
    assert.equal(failed.status, 'ERROR');
    assert.equal((await svc.api.get(`/v1/${PROJECT}/notebooks/${id}`)).body.usage, undefined, 'no usage once not running');
    assert.match(failed.fail_reason, /^out of memory: the instance exceeded its 256 MB memory limit/);
    const events = await svc.api.get(`/v1/${PROJECT}/notebooks/${id}/events`);
    assert.ok(
      (events.body.events as { message: string }[]).some((e) => /out of memory/.test(e.message)),
      JSON.stringify(events.body).slice(0, 500),
    );
    assert.equal((await svc.api.delete(`/v1/${PROJECT}/notebooks/${id}`)).status, 200);
    await waitForNotebook(svc.api, id, (n) => n === undefined || n.status === 'DELETED', 30_000);
  });
});
