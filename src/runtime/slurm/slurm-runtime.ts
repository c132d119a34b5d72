// The Slurm runtime: an instance is a Slurm job running the image's Jupyter server on whatever
// node Slurm picks. The volume and the instance's state directory live on storage shared by
// notebookd's host and every compute node (sharedDir, same path everywhere); the job reports
// its node address and port there (connection.json), which is how start() learns the target.
// Stop is scancel (SIGTERM to the job, a grace period, SIGKILL, cancel); start is a new job;
// delete cancels and removes the volume. The lease is mirrored onto the job's time limit
// (leaseChanged) as a backstop, while notebookd's lease executor stays the authority for the
// exact stop time. The handle (job id + a per-start nonce kept in the job's comment) lets a
// restarted notebookd adopt the job and never mistake another job for it.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildExecLaunch, spawnExec } from '../exec-process.ts';
import type { ImageProgram } from '../../domain/catalog.ts';
import { readTail } from '../local/file-tail.ts';
import { readJson, writeJson } from '../local/json-file.ts';
import { assertInstanceId, instancePaths } from '../local/layout.ts';
import type { InstancePaths } from '../local/layout.ts';
import { instanceEnv, specProblem } from '../local/jupyter-command.ts';
import { createProgramCheck } from '../local/program-check.ts';
import type { Availability, ExecRequest, InstanceSpec, Launched, PollResult, ProgressReporter, Runtime, RuntimeHandle } from '../runtime.ts';
import { buildJobScript, hookFiles, jobComment, jobName, resourceArgs, sbatchArgs } from './job-script.ts';
import { endedResult, initialTimeLimit, isAlive, isOver, jobView, parseSacct, parseScontrolRecord, timeLimitFor } from './job-state.ts';
import type { ExitRecord, JobView } from './job-state.ts';
import { createSlurmCli, SlurmCliError } from './slurm-cli.ts';
import type { SlurmCli, SlurmCliOptions } from './slurm-cli.ts';

export interface RuntimeLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

/** Empty strings count as unset, so the config section can be passed as it is. */
export interface SlurmRuntimeOptions extends SlurmCliOptions {
  /** slurm.conf for every Slurm call (SLURM_CONF). */
  slurmConf?: string;
  /** Storage mounted at the same path on notebookd's host and every compute node. */
  sharedDir: string;
  partition?: string;
  account?: string;
  qos?: string;
  /** More sbatch arguments, e.g. ['--constraint=ib']. */
  extraSbatchArgs?: readonly string[];
  /** Python with Jupyter on the compute nodes. Default /usr/bin/python3. */
  pythonPath?: string;
  /** Where Jupyter listens on the node. Default 0.0.0.0. */
  listenHost?: string;
  /** The address notebookd reaches nodes at; empty (default): each node's `hostname -f`. */
  connectHost?: string;
  /** How long start() waits for the job to run and report its port (queue time included). Default 120 s. */
  startWaitMs?: number;
  /** Slack added to the lease when mirrored onto the time limit. Default 2 min. */
  timeLimitGraceMs?: number;
  /** How long post_start waits for the server's port. Default 60 s. */
  postStartWaitMs?: number;
  log?: RuntimeLog;
}

/** What the store keeps for a running instance. Plain JSON. */
export interface SlurmHandle {
  v: 1;
  kind: 'slurm';
  instanceId: string;
  jobId: string;
  /** Random per start; also in the job's comment, so a reused job id is never taken for ours. */
  nonce: string;
  host: string;
  port: number;
}

export function parseSlurmHandle(handle: RuntimeHandle): SlurmHandle | string {
  const h = handle as Partial<SlurmHandle>;
  if (h.kind !== 'slurm' || h.v !== 1) return 'not a Slurm runtime handle';
  if (typeof h.jobId !== 'string' || !/^\d+(?:_\d+)?$/.test(h.jobId)) return `bad job id ${String(h.jobId)}`;
  if (typeof h.nonce !== 'string' || !/^[0-9a-f]{8,64}$/.test(h.nonce)) return 'bad nonce';
  if (typeof h.instanceId !== 'string') return 'missing instanceId';
  try {
    assertInstanceId(h.instanceId);
  } catch (err) {
    return (err as Error).message;
  }
  return h as SlurmHandle;
}

interface Connection {
  nonce: string;
  jobId: string;
  host: string;
  port: number;
  pid: number;
  node: string;
}

/** Which job the instance's last start submitted (job.json), so destroy and a repeated start find it. */
interface JobRecord {
  jobId: string;
  nonce: string;
}

const silentLog: RuntimeLog = { info() {}, warn() {} };
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const LOG_ROTATE_BYTES = 1 << 20;

const files = (paths: InstancePaths) => ({
  script: `${paths.instanceDir}/job.sh`,
  job: `${paths.instanceDir}/job.json`,
  connection: `${paths.instanceDir}/connection.json`,
  exit: `${paths.instanceDir}/exit.json`,
  stopRequested: `${paths.instanceDir}/stop-requested.json`,
  jobOutput: (jobId: string) => `${paths.instanceDir}/slurm-${jobId}.out`,
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function rotate(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (info && info.size > LOG_ROTATE_BYTES) await rename(path, `${path}.1`);
}

export type SlurmRuntime = Runtime & {
  /** Mirrors the lease's stop time (null: auto-stop off) onto the job's time limit. */
  leaseChanged(handle: RuntimeHandle, stopAt: number | null): Promise<void>;
};

export function createSlurmRuntime(opts: SlurmRuntimeOptions): SlurmRuntime {
  const cliEnv = { ...opts.env, ...(opts.slurmConf ? { SLURM_CONF: opts.slurmConf } : {}) };
  const cli: SlurmCli = createSlurmCli({ binDir: opts.binDir || undefined, env: cliEnv, timeoutMs: opts.timeoutMs });
  const log = opts.log ?? silentLog;
  const sharedDir = opts.sharedDir;
  const pythonPath = opts.pythonPath || '/usr/bin/python3';
  const listenHost = opts.listenHost || '0.0.0.0';
  const connectHost = opts.connectHost ?? '';
  const startWaitMs = opts.startWaitMs ?? 120_000;
  const graceMs = opts.timeLimitGraceMs ?? 120_000;
  const postStartWaitMs = opts.postStartWaitMs ?? 60_000;
  const programCheck = createProgramCheck(pythonPath);
  /** The time limit last set per job (jobId:nonce → minutes), so a steady lease costs no scontrol call. */
  const mirrored = new Map<string, number | 'UNLIMITED'>();
  /** When each job started, as far as RunTime told (jobId:nonce → epoch ms). */
  const startedAt = new Map<string, number>();
  let controllerCheck: { at: number; result: Availability } | null = null;

  const resources = (spec: Pick<InstanceSpec, 'vcpus' | 'memoryMb' | 'gpus'>) => ({
    vcpus: spec.vcpus,
    memoryMb: spec.memoryMb,
    gpus: spec.gpus ?? 0,
    partition: opts.partition || undefined,
    account: opts.account || undefined,
    qos: opts.qos || undefined,
    extraArgs: opts.extraSbatchArgs,
  });

  /** The job as scontrol sees it; null once Slurm has forgotten it (MinJobAge after its end). */
  async function showJob(jobId: string): Promise<JobView | null> {
    try {
      const { stdout } = await cli.run('scontrol', ['-o', 'show', 'job', jobId]);
      const line = stdout.split('\n').find((l) => l.startsWith('JobId='));
      return line ? jobView(parseScontrolRecord(line)) : null;
    } catch (err) {
      if (err instanceof SlurmCliError && /Invalid job id/i.test(err.stderr)) return null;
      throw err;
    }
  }

  const ours = (view: JobView, h: { instanceId: string; nonce: string }) => view.comment === jobComment(h.instanceId, h.nonce);

  async function controllerAvailability(): Promise<Availability> {
    if (controllerCheck?.result.available && Date.now() - controllerCheck.at < 60_000) return controllerCheck.result;
    let result: Availability;
    try {
      await cli.run('sinfo', ['-h', '-o', '%P', ...(opts.partition ? ['-p', opts.partition] : [])]);
      result = { available: true, message: 'slurmctld answers' };
    } catch (err) {
      result = { available: false, message: `Slurm is not reachable from notebookd: ${(err as Error).message}` };
    }
    controllerCheck = { at: Date.now(), result };
    return result;
  }

  async function checkImage(program: ImageProgram): Promise<Availability> {
    const controller = await controllerAvailability();
    if (!controller.available) return controller;
    // The program is checked on notebookd's host, which should carry the compute nodes' image.
    return programCheck(program);
  }

  async function writeStopRequest(paths: InstancePaths, jobId: string, nonce: string) {
    await writeJson(files(paths).stopRequested, { jobId, nonce }).catch(() => {});
  }

  async function stopRequested(paths: InstancePaths, h: { jobId: string; nonce: string }): Promise<boolean> {
    const rec = await readJson<JobRecord>(files(paths).stopRequested);
    return rec?.jobId === h.jobId && rec.nonce === h.nonce;
  }

  async function signal(jobId: string, args: string[]): Promise<void> {
    try {
      await cli.run('scancel', [...args, jobId]);
    } catch (err) {
      // The job ended meanwhile (or never ran): nothing left to signal.
      if (err instanceof SlurmCliError && /already completing|completed|Invalid job id|pending/i.test(err.stderr + err.message)) return;
      throw err;
    }
  }

  /** Waits until the job is over (or forgotten); false when the deadline passed first. */
  async function waitOver(jobId: string, nonce: string, instanceId: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const view = await showJob(jobId);
      if (!view || !ours(view, { instanceId, nonce }) || isOver(view.state)) return true;
      if (Date.now() >= deadline) return false;
      await delay(100);
    }
  }

  async function stopJob(h: { instanceId: string; jobId: string; nonce: string }, graceMs: number): Promise<void> {
    const view = await showJob(h.jobId);
    if (!view || !ours(view, h) || isOver(view.state)) return;
    const paths = instancePaths(sharedDir, h.instanceId);
    await writeStopRequest(paths, h.jobId, h.nonce);
    const began = Date.now();
    let killed = false;
    if (view.state === 'RUNNING' && graceMs > 0) {
      // SIGTERM to the batch shell and everything it started; the script forwards it to Jupyter,
      // which shuts its kernels down and exits.
      await signal(h.jobId, ['--full', '--signal=TERM']);
      if (!(await waitOver(h.jobId, h.nonce, h.instanceId, graceMs))) {
        await signal(h.jobId, ['--full', '--signal=KILL']);
        killed = true;
      }
    } else if (view.state === 'RUNNING') {
      await signal(h.jobId, ['--full', '--signal=KILL']);
      killed = true;
    }
    await signal(h.jobId, []);
    // Slurm kills what is left after KillWait; the job is over once its processes are gone.
    if (!(await waitOver(h.jobId, h.nonce, h.instanceId, 120_000))) {
      throw new Error(`Slurm job ${h.jobId} did not end within 120 s of scancel`);
    }
    log.info({ instanceId: h.instanceId, jobId: h.jobId, killed, ms: Date.now() - began }, 'slurm job stopped');
  }

  async function stop(handle: RuntimeHandle, graceMs: number): Promise<void> {
    const h = parseSlurmHandle(handle);
    if (typeof h === 'string') return;
    await stopJob(h, graceMs);
  }

  async function poll(handle: RuntimeHandle): Promise<PollResult> {
    const h = parseSlurmHandle(handle);
    if (typeof h === 'string') return { state: 'lost', reason: `invalid handle: ${h}` };
    const paths = instancePaths(sharedDir, h.instanceId);
    const exitRecord = async (): Promise<ExitRecord | null> => {
      const rec = await readJson<ExitRecord>(files(paths).exit);
      return rec?.nonce === h.nonce ? rec : null;
    };
    const withTail = async (result: PollResult): Promise<PollResult> => {
      if (result.state === 'running') return result;
      const tail = await readTail(paths.jupyterLog, { lines: 5 });
      return tail ? { ...result, reason: `${result.reason}; last log lines:\n${tail}` } : result;
    };
    let view = await showJob(h.jobId);
    // COMPLETING lasts a moment (up to KillWait): its final state says why the job ended.
    for (let waited = 0; view?.state === 'COMPLETING' && waited < 3_000; waited += 100) {
      await delay(100);
      view = await showJob(h.jobId);
    }
    if (view) {
      if (!ours(view, h)) return { state: 'lost', reason: `Slurm job ${h.jobId} is not this instance's job any more (Slurm reused the id)` };
      if (isAlive(view.state)) return { state: 'running' };
      return withTail(
        endedResult({ ...view, stopRequested: await stopRequested(paths, h), exit: await exitRecord() }),
      );
    }
    // Forgotten by slurmctld (MinJobAge passed): accounting may still know it.
    try {
      const { stdout } = await cli.run('sacct', ['-n', '-P', '-X', '-j', h.jobId, '-o', 'JobID,State,ExitCode']);
      const acct = parseSacct(stdout, h.jobId);
      if (acct) {
        return withTail(
          endedResult({ ...acct, reason: 'None', memoryMb: null, nodeList: '', cancelledBy: acct.by, stopRequested: await stopRequested(paths, h), exit: await exitRecord() }),
        );
      }
    } catch {
      // Accounting is off (no slurmdbd): fall through to what the job itself recorded.
    }
    const exit = await exitRecord();
    if (exit) {
      return withTail(
        endedResult({ jobId: h.jobId, state: 'COMPLETED', reason: 'None', exitCode: exit.exitCode, exitSignal: null, memoryMb: null, nodeList: '', stopRequested: await stopRequested(paths, h), exit }),
      );
    }
    return { state: 'lost', reason: `Slurm no longer knows job ${h.jobId} and it left no exit record (it ended long ago, or slurmctld lost its state)` };
  }

  /** Cancels whatever job an earlier start of this instance left behind. */
  async function cancelLeftovers(instanceId: string, paths: InstancePaths, graceMs: number): Promise<void> {
    const known = await readJson<JobRecord>(files(paths).job);
    if (known) await stopJob({ instanceId, ...known }, graceMs);
    // A submission whose job.json was never written (notebookd died right after sbatch).
    const { stdout } = await cli.run('squeue', ['-h', `--name=${jobName(instanceId)}`, '-o', '%i|%k']);
    for (const line of stdout.split('\n')) {
      const [jobId, comment] = line.trim().split('|');
      const nonce = comment?.startsWith(`notebookd:${instanceId}:`) ? comment.slice(`notebookd:${instanceId}:`.length) : null;
      if (jobId && nonce) await stopJob({ instanceId, jobId, nonce }, graceMs);
    }
  }

  /** Waits until the job reports its port, or fails with why it could not start. */
  async function awaitConnection(instanceId: string, paths: InstancePaths, jobId: string, nonce: string, hooksOffset: number): Promise<Connection> {
    const f = files(paths);
    const deadline = Date.now() + startWaitMs;
    let lastCheck = 0;
    let view: JobView | null = null;
    for (;;) {
      const conn = await readJson<Connection>(f.connection);
      if (conn?.nonce === nonce && conn.jobId === jobId) return conn;
      const exit = await readJson<ExitRecord>(f.exit);
      if (exit?.nonce === nonce) {
        if (exit.phase === 'pre_start') {
          const tail = await readTail(paths.hooksLog, { fromOffset: hooksOffset });
          throw new Error(`pre_start hook failed with exit code ${exit.exitCode} (Slurm job ${jobId})${tail ? `; last output:\n${tail}` : ''}`);
        }
        const tail = (await readTail(paths.jupyterLog, { lines: 8 })) || (await readTail(f.jobOutput(jobId), { lines: 8 }));
        throw new Error(`the job script ended with code ${exit.exitCode} before the server started (Slurm job ${jobId})${tail ? `; last log lines:\n${tail}` : ''}`);
      }
      if (Date.now() - lastCheck > 1_000) {
        lastCheck = Date.now();
        view = await showJob(jobId);
        if (!view || isOver(view.state)) {
          const tail = await readTail(f.jobOutput(jobId), { lines: 8 });
          const how = view ? `${view.state}, exit code ${view.exitCode ?? '?'}` : 'it vanished';
          throw new Error(`Slurm job ${jobId} ended before the server reported its port (${how})${tail ? `; job output:\n${tail}` : ''}`);
        }
      }
      if (Date.now() >= deadline) {
        const pending = view?.state === 'PENDING' ? ` (still PENDING: ${view.reason})` : view ? ` (${view.state})` : '';
        await stopJob({ instanceId, jobId, nonce }, 0).catch(() => {});
        throw new Error(`Slurm job ${jobId} did not start the server within ${Math.round(startWaitMs / 1000)} s${pending}; it was cancelled`);
      }
      await delay(100);
    }
  }

  return {
    kind: 'slurm',
    checkImage,

    async prepare(spec: InstanceSpec, report: ProgressReporter): Promise<void> {
      const paths = instancePaths(sharedDir, spec.instanceId);
      // 1 storage: the volume and the state directory on shared storage.
      await report(1, 'PROCESSING');
      await mkdir(paths.volumeDir, { recursive: true });
      await mkdir(paths.instanceDir, { recursive: true, mode: 0o700 });
      const current = await readJson<{ capacityGb: number }>(paths.volumeFile);
      if (!current || current.capacityGb < spec.capacityGb) await writeJson(paths.volumeFile, { capacityGb: spec.capacityGb }, 0o644);
      await report(1, 'COMPLETED');
      // 2 compute: Slurm answers, the program exists, and the cluster can ever place this flavor.
      await report(2, 'PROCESSING');
      const availability = await checkImage(spec.program);
      if (!availability.available) throw new Error(availability.message);
      try {
        await cli.run('sbatch', ['--test-only', ...resourceArgs(resources(spec)), '--wrap=true']);
      } catch (err) {
        const why = err instanceof SlurmCliError ? err.stderr.trim().split('\n').pop() : (err as Error).message;
        throw new Error(`Slurm cannot place this flavor (${Math.ceil(spec.vcpus)} CPUs, ${spec.memoryMb} MB, ${spec.gpus ?? 0} GPUs${opts.partition ? ` in partition ${opts.partition}` : ''}): ${why}`);
      }
      await report(2, 'COMPLETED');
      // 3 network: nothing to reserve ahead: the job picks a free port on its node at start.
      await report(3, 'PROCESSING');
      await report(3, 'COMPLETED');
    },

    async start(spec: InstanceSpec): Promise<Launched> {
      const problem = specProblem(spec);
      if (problem) throw new Error(problem);
      const paths = instancePaths(sharedDir, spec.instanceId);
      const f = files(paths);
      if (!(await exists(paths.volumeDir))) {
        throw new Error(`the volume of ${spec.instanceId} does not exist (${paths.volumeDir}); prepare the instance first`);
      }
      await mkdir(paths.instanceDir, { recursive: true, mode: 0o700 });
      // A job of an earlier start (notebookd died before recording it) holds a stale token.
      await cancelLeftovers(spec.instanceId, paths, 5_000);

      const nonce = randomBytes(8).toString('hex');
      for (const file of [f.connection, f.exit, f.stopRequested]) await rm(file, { force: true });
      for (const hook of hookFiles({ paths, preStart: spec.hooks?.preStart, postStart: spec.hooks?.postStart })) {
        await writeFile(hook.path, hook.content, { mode: 0o700 });
      }
      await writeFile(paths.tokenFile, spec.jupyterToken, { mode: 0o600 });
      await rotate(paths.jupyterLog);
      await rotate(paths.hooksLog);
      const hooksOffset = (await stat(paths.hooksLog).catch(() => null))?.size ?? 0;
      const script = buildJobScript({
        instanceId: spec.instanceId,
        nonce,
        paths,
        program: spec.program,
        basePath: spec.basePath,
        pythonPath,
        listenHost,
        connectHost,
        hostEnv: process.env,
        preStart: spec.hooks?.preStart,
        postStart: spec.hooks?.postStart,
        postStartWaitMs,
      });
      await writeFile(f.script, script, { mode: 0o700 });

      const { stdout } = await cli.run(
        'sbatch',
        sbatchArgs({
          ...resources(spec),
          instanceId: spec.instanceId,
          nonce,
          paths,
          scriptPath: f.script,
          timeLimitMin: initialTimeLimit(spec.leaseMs, startWaitMs, graceMs),
        }),
      );
      const jobId = stdout.trim().split(';')[0]!;
      if (!/^\d+(?:_\d+)?$/.test(jobId)) throw new Error(`sbatch answered ${JSON.stringify(stdout.trim())} instead of a job id`);
      await writeJson(f.job, { jobId, nonce } satisfies JobRecord);
      log.info({ instanceId: spec.instanceId, jobId }, 'slurm job submitted');

      const conn = await awaitConnection(spec.instanceId, paths, jobId, nonce, hooksOffset);
      const handle: SlurmHandle = { v: 1, kind: 'slurm', instanceId: spec.instanceId, jobId, nonce, host: conn.host, port: conn.port };
      const host = conn.host.includes(':') ? `[${conn.host}]` : conn.host;
      log.info({ instanceId: spec.instanceId, jobId, node: conn.node, host: conn.host, port: conn.port }, 'slurm job running');
      return {
        handle: { ...handle },
        target: { origin: `http://${host}:${conn.port}`, basePath: spec.basePath, jupyterToken: spec.jupyterToken },
      };
    },

    stop,
    poll,

    async destroy(instanceId: string): Promise<void> {
      const paths = instancePaths(sharedDir, instanceId);
      await cancelLeftovers(instanceId, paths, 2_000);
      await rm(paths.volumeDir, { recursive: true, force: true });
      await rm(paths.instanceDir, { recursive: true, force: true });
      log.info({ instanceId }, 'instance storage removed');
    },

    async resizeVolume(instanceId: string, capacityGb: number): Promise<void> {
      if (!Number.isFinite(capacityGb) || capacityGb <= 0) throw new Error(`invalid capacity ${capacityGb} GB`);
      const paths = instancePaths(sharedDir, instanceId);
      if (!(await exists(paths.volumeDir))) throw new Error(`the volume of ${instanceId} does not exist`);
      const current = await readJson<{ capacityGb: number }>(paths.volumeFile);
      if (current && capacityGb < current.capacityGb) throw new Error(`the volume cannot shrink from ${current.capacityGb} GB to ${capacityGb} GB`);
      // Recorded: quotas on the shared file system are the site's (e.g. an XFS project quota).
      await writeJson(paths.volumeFile, { capacityGb }, 0o644);
    },

    /**
     * A process in the instance's job (srun --overlap into its allocation, on its node), with the
     * instance's environment and the volume as working directory: the SSH gateway's sessions.
     * With a pty, the window size is the one asked for at start (resizes do not cross srun).
     */
    async exec(handle: RuntimeHandle, req: ExecRequest): Promise<ChildProcess> {
      const h = parseSlurmHandle(handle);
      if (typeof h === 'string') throw new Error(`invalid handle: ${h}`);
      const view = await showJob(h.jobId);
      if (!view || !ours(view, h) || view.state !== 'RUNNING') throw new Error(`the instance ${h.instanceId} is not running (Slurm job ${h.jobId})`);
      const paths = instancePaths(sharedDir, h.instanceId);
      const env0 = { ...instanceEnv(paths, process.env), SLURM_JOB_ID: h.jobId };
      const launch = buildExecLaunch({ instanceId: h.instanceId, cwd: paths.volumeDir, env: env0, pythonPath }, req);
      const argv = launch.pty ? ['/bin/sh', '-c', 'exec "$@" 3</dev/null', 'sh', launch.command, ...launch.args] : [launch.command, ...launch.args];
      const env = Object.entries(launch.env).map(([k, v]) => `${k}=${v}`);
      return spawnExec({
        command: opts.binDir ? join(opts.binDir, 'srun') : 'srun',
        args: ['--jobid', h.jobId, '--overlap', '--nodes=1', '--ntasks=1', '--quiet', `--chdir=${paths.volumeDir}`, '--', '/usr/bin/env', '-i', ...env, ...argv],
        cwd: '/',
        env: { ...process.env, ...cliEnv } as Record<string, string>,
        pty: launch.pty,
      });
    },

    async leaseChanged(handle: RuntimeHandle, stopAt: number | null): Promise<void> {
      const h = parseSlurmHandle(handle);
      if (typeof h === 'string') return;
      const key = `${h.jobId}:${h.nonce}`;
      const now = Date.now();
      let began = startedAt.get(key);
      if (began !== undefined) {
        const wanted = timeLimitFor({ stopAt, now, runTimeMs: now - began, graceMs });
        if (mirrored.get(key) === wanted) return;
      }
      const view = await showJob(h.jobId);
      if (!view || !ours(view, h) || !isAlive(view.state)) return;
      began = now - view.runTimeMs;
      startedAt.set(key, began);
      const wanted = timeLimitFor({ stopAt, now, runTimeMs: view.runTimeMs, graceMs });
      if ((wanted === 'UNLIMITED' ? null : wanted) !== view.timeLimitMin) {
        try {
          await cli.run('scontrol', ['update', `JobId=${h.jobId}`, `TimeLimit=${wanted}`]);
        } catch (err) {
          const denied = err instanceof SlurmCliError && /permission denied|Access\/permission/i.test(err.stderr);
          throw new Error(
            denied
              ? `Slurm refused to change job ${h.jobId}'s time limit: only root or SlurmUser may raise it; run notebookd as one of them`
              : `could not change job ${h.jobId}'s time limit: ${(err as Error).message}`,
          );
        }
        log.info({ instanceId: h.instanceId, jobId: h.jobId, timeLimitMin: wanted }, 'slurm time limit follows the lease');
      }
      mirrored.set(key, wanted);
    },

    async close(): Promise<void> {
      mirrored.clear();
      startedAt.clear();
    },
  };
}

/** The job id of a Slurm handle (tests and tools). */
export const slurmJobId = (handle: RuntimeHandle): string | null => {
  const h = parseSlurmHandle(handle);
  return typeof h === 'string' ? null : h.jobId;
};

/** Reads what the job reported (tests: the server's pid, to crash it). */
export async function readConnection(sharedDir: string, instanceId: string): Promise<Connection | null> {
  return readJson<Connection>(files(instancePaths(sharedDir, instanceId)).connection);
}
