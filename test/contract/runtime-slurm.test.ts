// The Slurm runtime against a real single-node Slurm cluster (test/support/slurm.ts starts
// munged, slurmctld and slurmd), running real Jupyter servers as Slurm jobs: the conformance
// suite, then what only Slurm does: flavor → job resources, the lease mirrored onto the time
// limit, and jobs that Slurm ends (TIMEOUT, OUT_OF_MEMORY, cancelled by someone else) reported
// with their reason.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseScontrolRecord } from '../../src/runtime/slurm/job-state.ts';
import { createSlurmRuntime, readConnection, slurmJobId } from '../../src/runtime/slurm/slurm-runtime.ts';
import type { SlurmHandle, SlurmRuntime, SlurmRuntimeOptions } from '../../src/runtime/slurm/slurm-runtime.ts';
import type { InstanceSpec, Launched, PollResult, RuntimeHandle } from '../../src/runtime/runtime.ts';
import { createBody, PROJECT, SERVER_IMAGE, startTestService, waitForNotebook } from '../support/service.ts';
import type { TestService } from '../support/service.ts';
import { startSlurm } from '../support/slurm.ts';
import type { TestSlurm } from '../support/slurm.ts';
import { runRuntimeContract } from './runtime.contract.ts';
import { waitFor } from '../support/wait.ts';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

async function sharedDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'notebookd-slurm-shared-'));
  await chmod(dir, 0o755);
  return dir;
}

function runtimeFor(slurm: TestSlurm, dir: string, extra: Partial<SlurmRuntimeOptions> = {}): SlurmRuntime {
  return createSlurmRuntime({
    sharedDir: dir,
    env: slurm.env,
    partition: slurm.partition,
    // One host: the job's Jupyter listens on loopback, where notebookd (this test) reaches it.
    listenHost: '127.0.0.1',
    connectHost: '127.0.0.1',
    startWaitMs: 60_000,
    ...extra,
  });
}

/** Cancels every job a runtime over `dir` may have left, then removes the directory. */
async function removeSharedDir(slurm: TestSlurm, dir: string): Promise<void> {
  const sweeper = runtimeFor(slurm, dir);
  const ids = await readdir(join(dir, 'instances')).catch(() => [] as string[]);
  for (const id of ids) await sweeper.destroy(id).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}

runRuntimeContract('slurm', async () => {
  const slurm = await startSlurm();
  const dir = await sharedDir();
  return {
    runtime: runtimeFor(slurm, dir),
    reopen: async () => runtimeFor(slurm, dir),
    cleanup: () => removeSharedDir(slurm, dir),
    programs: ['notebook', 'jupyter_server'],
    // Same job id, another submission: what a handle looks like after Slurm reused the id.
    forgeStaleHandle: (real) => ({ ...real, nonce: randomBytes(8).toString('hex') }),
    crash: async (launched) => {
      const conn = await readConnection(dir, (launched.handle as unknown as SlurmHandle).instanceId);
      assert.ok(conn, 'the job reported its connection');
      process.kill(conn.pid, 'SIGKILL');
    },
    storageExists: async (id) => (await exists(join(dir, 'volumes', id))) || (await exists(join(dir, 'instances', id))),
    readyTimeoutMs: 30_000,
  };
});

async function ready(launched: Launched): Promise<void> {
  const { origin, basePath, jupyterToken } = launched.target;
  await waitFor('api/status 200', 30_000, async () => {
    try {
      const res = await fetch(`${origin}${basePath}api/status`, { headers: { Authorization: `token ${jupyterToken}` } });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  });
}

// Each of these waits on Slurm (a time-limit kill takes up to 30 s): they run concurrently.
describe('slurm runtime', { concurrency: true }, () => {
  let slurm: TestSlurm;
  let dir: string;
  let runtime: SlurmRuntime;
  const handles: RuntimeHandle[] = [];
  let seq = 0;

  const spec = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => {
    const instanceId = overrides.instanceId ?? `sl-${++seq}`;
    return {
      instanceId,
      basePath: `/nb/${instanceId}/`,
      jupyterToken: randomBytes(16).toString('hex'),
      program: 'jupyter_server',
      imageId: 'img',
      vcpus: 1,
      memoryMb: 512,
      capacityGb: 5,
      hooks: null,
      ...overrides,
    };
  };
  const launch = async (s: InstanceSpec) => {
    await runtime.prepare(s, () => {});
    const launched = await runtime.start(s);
    handles.push(launched.handle);
    return launched;
  };
  const job = (handle: RuntimeHandle) => parseScontrolRecord(slurm.cli('scontrol', ['-o', 'show', 'job', slurmJobId(handle)!]).trim());
  const ended = (handle: RuntimeHandle, timeoutMs = 60_000) =>
    waitFor<PollResult>('poll to report the end', timeoutMs, async () => {
      const r = await runtime.poll(handle);
      return r.state === 'running' ? null : r;
    });

  before(async () => {
    slurm = await startSlurm();
    dir = await sharedDir();
    runtime = runtimeFor(slurm, dir, { timeLimitGraceMs: 0 });
  });

  after(async () => {
    for (const handle of handles) await runtime.stop(handle, 1_000).catch(() => {});
    await removeSharedDir(slurm, dir);
  });

  it('runs the flavor as job resources: CPUs per task, memory, the lease as time limit, no requeue, no leaked environment', async () => {
    const previous = process.env.NOTEBOOKD_TEST_SECRET;
    process.env.NOTEBOOKD_TEST_SECRET = 'must-not-leak';
    let launched: Launched;
    const s = spec({ vcpus: 2, memoryMb: 768, leaseMs: 3_600_000 });
    try {
      launched = await launch(s);
    } finally {
      if (previous === undefined) delete process.env.NOTEBOOKD_TEST_SECRET;
      else process.env.NOTEBOOKD_TEST_SECRET = previous;
    }
    const fields = job(launched.handle);
    assert.equal(fields.JobState, 'RUNNING');
    assert.equal(fields.JobName, `nbd-${s.instanceId}`);
    assert.equal(fields['CPUs/Task'], '2');
    assert.match(fields.TRES ?? '', /mem=768M/);
    assert.equal(fields.Requeue, '0');
    // lease 60 min + the 60 s start allowance, rounded up to whole minutes (grace 0 here).
    assert.equal(fields.TimeLimit, '01:01:00');
    assert.equal(fields.Partition, slurm.partition);
    await ready(launched);
    const conn = await readConnection(dir, s.instanceId);
    const env = (await readFile(`/proc/${conn!.pid}/environ`, 'utf8')).split('\0');
    assert.ok(!env.some((e) => e.startsWith('NOTEBOOKD_TEST_SECRET=')), "notebookd's environment does not reach the job");
    assert.ok(env.includes(`SLURM_JOB_ID=${slurmJobId(launched.handle)}`), 'the job id is passed on');
    assert.ok(env.includes(`HOME=${join(dir, 'volumes', s.instanceId)}`));
    const argv = (await readFile(`/proc/${conn!.pid}/cmdline`, 'utf8')).split('\0');
    assert.ok(!argv.some((a) => a.includes(s.jupyterToken)), 'the token is not on the command line');
    await runtime.stop(launched.handle, 5_000);
    assert.equal((await runtime.poll(launched.handle)).state, 'exited');
  });

  it('mirrors the lease onto the time limit: prolong raises it, disabling makes it UNLIMITED', async () => {
    const launched = await launch(spec({ leaseMs: 3_600_000 }));
    const now = Date.now();
    await runtime.leaseChanged(launched.handle, now + 3 * 3_600_000);
    const raised = job(launched.handle).TimeLimit;
    assert.ok(raised === '03:00:00' || raised === '03:01:00', `time limit ${raised}`);
    await runtime.leaseChanged(launched.handle, now + 30 * 60_000);
    const lowered = job(launched.handle).TimeLimit;
    assert.ok(lowered === '00:30:00' || lowered === '00:31:00', `time limit ${lowered}`);
    await runtime.leaseChanged(launched.handle, null);
    assert.equal(job(launched.handle).TimeLimit, 'UNLIMITED');
    // A stale handle changes nothing.
    await runtime.leaseChanged({ ...launched.handle, nonce: 'ffffffffffffffff' }, now + 60_000);
    assert.equal(job(launched.handle).TimeLimit, 'UNLIMITED');
    await runtime.stop(launched.handle, 5_000);
  });

  it('a job that reaches its time limit is reported as TIMEOUT', async () => {
    const launched = await launch(spec());
    await ready(launched);
    // As if the lease ran out while notebookd was down: Slurm's backstop ends the job.
    slurm.cli('scontrol', ['update', `JobId=${slurmJobId(launched.handle)}`, 'TimeLimit=0']);
    const result = await ended(launched.handle, 90_000);
    assert.equal(result.state, 'exited');
    assert.match((result as { reason: string }).reason, /time limit.*TIMEOUT/);
  });

  it('a job whose server runs out of memory is reported as OUT_OF_MEMORY', async () => {
    // The hook waits for the go-ahead, then allocates far more than the flavor's 300 MB.
    const hog = 'while [ ! -f go-oom ]; do sleep 0.1; done\nexec /usr/bin/python3 -c "b = bytearray(900 * 2**20); import time; time.sleep(30)"';
    const s = spec({ memoryMb: 300, hooks: { postStart: { type: 'COMMAND', mode: 'ASYNC', script: Buffer.from(hog).toString('base64') } } });
    const launched = await launch(s);
    await ready(launched);
    // The kernel's OOM killer takes the server rather than the hog, as when a notebook's own
    // allocation brings the whole job down.
    const conn = await readConnection(dir, s.instanceId);
    await writeFile(`/proc/${conn!.pid}/oom_score_adj`, '1000');
    await writeFile(join(dir, 'volumes', s.instanceId, 'go-oom'), '');
    const result = await ended(launched.handle);
    assert.equal(result.state, 'exited');
    assert.match((result as { reason: string }).reason, /out of memory.*300 MB.*OUT_OF_MEMORY/);
  });

  it('a job cancelled outside notebookd is reported as such; one cancelled by stop is not', async () => {
    const foreign = await launch(spec());
    slurm.cli('scancel', [slurmJobId(foreign.handle)!]);
    const result = await ended(foreign.handle);
    assert.equal(result.state, 'exited');
    assert.match((result as { reason: string }).reason, /cancelled outside notebookd/);

    const own = await launch(spec());
    await runtime.stop(own.handle, 0);
    assert.match(((await runtime.poll(own.handle)) as { reason: string }).reason, /by notebookd|stopped by notebookd/);
  });

  it('a job Slurm has forgotten is lost', async () => {
    const handle: SlurmHandle = { v: 1, kind: 'slurm', instanceId: 'sl-forgotten', jobId: '987654', nonce: 'aaaaaaaaaaaaaaaa', host: '127.0.0.1', port: 1 };
    const result = await runtime.poll({ ...handle });
    assert.equal(result.state, 'lost');
    assert.match((result as { reason: string }).reason, /no longer knows job 987654/);
    await runtime.stop({ ...handle }, 100);
  });

  it('prepare fails at step 2 when Slurm can never place the flavor', async () => {
    const seen: string[] = [];
    await assert.rejects(
      () => runtime.prepare(spec({ memoryMb: 64 * 1024 * 1024 }), (step, status) => void seen.push(`${step}:${status}`)),
      /Slurm cannot place this flavor \(1 CPUs, 67108864 MB, 0 GPUs in partition notebooks\): .*(node configuration is not available|Memory)/i,
    );
    assert.deepEqual(seen, ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING']);
  });

  it('a start whose job stays queued gives up after startWaitMs, says why, and cancels the job', async () => {
    const queued = runtimeFor(slurm, dir, { partition: slurm.downPartition, startWaitMs: 3_000 });
    const s = spec();
    await queued.prepare(s, () => {});
    const began = Date.now();
    await assert.rejects(() => queued.start(s), /did not start the server within 3 s \(still PENDING: PartitionDown\); it was cancelled/);
    assert.ok(Date.now() - began < 15_000);
    const left = slurm.cli('squeue', ['-h', `--name=nbd-${s.instanceId}`, '-o', '%T']).trim();
    assert.equal(left, '');
  });

  it('exec runs a process in the job, in the volume, with the instance environment; a pty session too', async () => {
    const s = spec();
    const launched = await launch(s);
    const run = async (argv: string[], pty?: { term: string; cols: number; rows: number }) => {
      const child = await runtime.exec!(launched.handle, { argv, env: { LC_TEST: 'from-client' }, ...(pty && { pty }) });
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr!.resume(); // srun adds "task 0: Exited with exit code N" there
      child.stdin!.end();
      // 'close', not 'exit': the exit can be reported before the last output has been read.
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      return { code, out };
    };
    const plain = await run(['/bin/sh', '-c', 'pwd; echo "home=$HOME job=$SLURM_JOB_ID client=$LC_TEST"; exit 3']);
    assert.equal(plain.code, 3, plain.out);
    const volume = join(dir, 'volumes', s.instanceId);
    assert.match(plain.out, new RegExp(`^${volume}\\n`));
    assert.match(plain.out, new RegExp(`home=${volume} job=${slurmJobId(launched.handle)} client=from-client`));
    const tty = await run(['/bin/sh', '-c', 'test -t 0 && stty size'], { term: 'xterm', cols: 100, rows: 30 });
    assert.equal(tty.code, 0, tty.out);
    assert.match(tty.out, /30 100/);
    await runtime.stop(launched.handle, 1_000);
    await assert.rejects(() => runtime.exec!(launched.handle, { argv: ['true'] }), /is not running/);
  });

  it('destroy cancels a running job and removes the volume', async () => {
    const s = spec();
    const launched = await launch(s);
    await runtime.destroy(s.instanceId);
    assert.equal(await exists(join(dir, 'volumes', s.instanceId)), false);
    assert.notEqual((await runtime.poll(launched.handle)).state, 'running');
  });
});

// notebookd itself on Slurm: the reconciler launches the job, mirrors each lease change onto its
// time limit, and stops and deletes it.
describe('notebookd on the slurm runtime', () => {
  let slurm: TestSlurm;
  let dir: string;
  let svc: TestService;

  before(async () => {
    slurm = await startSlurm();
    dir = await sharedDir();
    svc = await startTestService({ runtime: runtimeFor(slurm, dir, { timeLimitGraceMs: 0 }) });
  });
  after(async () => {
    await svc?.close();
    await removeSharedDir(slurm, dir);
  });

  const timeLimitOf = (nb: { id: string }) => {
    const line = slurm.cli('squeue', ['-h', `--name=nbd-${nb.id}`, '-o', '%l|%T']).trim();
    return line.split('|');
  };

  it('runs an instance as a job whose time limit follows the lease, then stops and deletes it', async () => {
    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ image_id: SERVER_IMAGE, lease: { duration: 7_200_000, type: 'timing' } }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitForNotebook(svc.api, id, (nb) => nb?.status === 'RUNNING', 60_000);
    // RUNNING re-anchors the lease to now + 2 h; the next health pass mirrors it.
    await waitFor('the time limit to follow the 2 h lease', 20_000, async () => ['2:00:00', '2:01:00'].includes(timeLimitOf({ id })[0]!));

    const renewed = await svc.api.patch(`/v1/${PROJECT}/notebooks/${id}/lease`, { duration: 10_800_000 });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    await waitFor('the time limit to follow the renewal', 20_000, async () => ['3:00:00', '3:01:00'].includes(timeLimitOf({ id })[0]!));

    assert.equal((await svc.api.post(`/v1/${PROJECT}/notebooks/${id}/stop`)).status, 200);
    await waitForNotebook(svc.api, id, (nb) => nb?.status === 'STOPPED', 30_000);
    assert.deepEqual(timeLimitOf({ id }), [''], 'no job is queued or running');

    assert.equal((await svc.api.delete(`/v1/${PROJECT}/notebooks/${id}`)).status, 200);
    await waitForNotebook(svc.api, id, (nb) => nb === undefined || nb.status === 'DELETED', 30_000);
    assert.equal(await exists(join(dir, 'volumes', id)), false);
  });
});
