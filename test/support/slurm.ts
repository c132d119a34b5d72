// A real, throwaway single-node Slurm cluster for tests: munged, slurmctld and slurmd started as
// plain processes (no systemd) from Debian's packages, with a generated configuration under a
// temp dir (as ../shared/reference/slurm.md shows). One cluster per test process, started lazily
// and stopped at exit. Own munge socket, own ports and an own node name, so it never touches a
// system-wide Slurm and two test processes can each have one. Failing to start is an error, never
// a skip: the Slurm runtime must be tested for real.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestSlurm {
  /** Environment every Slurm CLI call needs (SLURM_CONF). */
  env: Record<string, string>;
  dir: string;
  nodeName: string;
  partition: string;
  /** A partition that is DOWN: jobs submitted to it stay PENDING. */
  downPartition: string;
  /** Last lines of slurmctld's and slurmd's logs, for failure messages. */
  logs(): string;
  /** Runs a Slurm CLI tool against this cluster; throws with its stderr on failure. */
  cli(tool: string, args: string[]): string;
  /** Cancels every job, stops the daemons and removes the directory. Idempotent. */
  stop(): void;
}

export interface TestSlurmOptions {
  /** CPUs the node claims (over-stated on purpose, so 20+ notebooks fit on 2 cores). */
  cpus?: number;
  memoryMb?: number;
}

let cluster: Promise<TestSlurm> | undefined;

/** The shared test cluster of this process (started on first use). */
export function startSlurm(opts: TestSlurmOptions = {}): Promise<TestSlurm> {
  cluster ??= launch(opts);
  return cluster;
}

const SBIN = '/usr/sbin';
const need = ['slurmctld', 'slurmd', 'munged'].map((b) => join(SBIN, b));

function idOf(user: string): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new Error(`there is no '${user}' OS user; install the Slurm packages: apt-get install slurmctld slurmd slurm-client munge`, { cause: error });
  }
}

async function launch(opts: TestSlurmOptions): Promise<TestSlurm> {
  const missing = need.filter((b) => !existsSync(b));
  if (missing.length) throw new Error(`Slurm is not installed (${missing.join(', ')} missing): apt-get install slurmctld slurmd slurm-client munge`);
  if (process.getuid?.() !== 0) throw new Error('the Slurm test cluster needs root (slurmd runs jobs as their users)');

  const dir = mkdtempSync(join(tmpdir(), 'notebookd-slurm-'));
  chmodSync(dir, 0o755); // slurm and munge must reach their sub-directories
  const slurm = idOf('slurm');
  const munge = idOf('munge');
  const sub = (name: string, owner?: { uid: number; gid: number }, mode = 0o755) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true, mode });
    chmodSync(path, mode);
    if (owner) chownSync(path, owner.uid, owner.gid);
    return path;
  };
  const etc = sub('etc');
  const mungeKeyDir = sub('munge-key', munge, 0o700);
  const mungeRun = sub('munge-run', munge, 0o755); // the socket's directory must be world-executable
  const ctldState = sub('state-ctld', slurm);
  const slurmdSpool = sub('state-d');
  const run = sub('run', slurm);
  const log = sub('log', slurm);

  const nodeName = `nbd${randomBytes(3).toString('hex')}`;
  const partition = 'notebooks';
  const downPartition = 'closed';
  const [ctldPort, slurmdPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const mungeSocket = join(mungeRun, 'munge.sock');
  const keyFile = join(mungeKeyDir, 'munge.key');
  writeFileSync(keyFile, randomBytes(1024), { mode: 0o400 });
  chownSync(keyFile, munge.uid, munge.gid);

  const conf = join(etc, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=nbdtest',
      `SlurmctldHost=${hostname().split('.')[0]}(127.0.0.1)`,
      'SlurmUser=slurm',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${mungeSocket}`,
      `StateSaveLocation=${ctldState}`,
      `SlurmdSpoolDir=${slurmdSpool}`,
      `SlurmctldPidFile=${join(run, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(run, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(log, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(log, 'slurmd.log')}`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'MpiDefault=none',
      'MailProg=/bin/true',
      // cgroup v1 plugins: --mem is enforced, so an OOM kill is real (OUT_OF_MEMORY).
      'ProctrackType=proctrack/cgroup',
      'TaskPlugin=task/cgroup,task/affinity',
      'JobAcctGatherType=jobacct_gather/cgroup',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core_Memory',
      'SchedulerType=sched/backfill',
      // Start latency 0.5 s instead of 2.5 s (batch jobs are otherwise scheduled on a 3 s tick).
      'SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'ReturnToService=2',
      'InactiveLimit=0',
      'KillWait=5',
      'OverTimeLimit=0',
      // Ended jobs stay visible to squeue/scontrol this long (there is no accounting here).
      'MinJobAge=300',
      'SlurmdParameters=config_overrides',
      `NodeName=${nodeName} NodeAddr=127.0.0.1 NodeHostname=${hostname().split('.')[0]} CPUs=${opts.cpus ?? 32} RealMemory=${opts.memoryMb ?? 16000} State=UNKNOWN`,
      `PartitionName=${partition} Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO DefMemPerCPU=512`,
      // Accepts jobs but never runs them: for "stuck in the queue" tests.
      `PartitionName=${downPartition} Nodes=${nodeName} Default=NO MaxTime=INFINITE State=DOWN DefMemPerCPU=512`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(etc, 'cgroup.conf'),
    ['CgroupPlugin=cgroup/v1', 'CgroupMountpoint=/sys/fs/cgroup', 'ConstrainCores=yes', 'ConstrainRAMSpace=yes', 'ConstrainSwapSpace=no', 'ConstrainDevices=no', ''].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const childEnv = { ...process.env, ...env };

  const cli = (tool: string, args: string[]): string => {
    const r = spawnSync(tool, args, { env: childEnv, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
    return r.stdout;
  };
  const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n') : '(no log)');
  const logs = () => `slurmctld:\n${tail(join(log, 'slurmctld.log'))}\nslurmd:\n${tail(join(log, 'slurmd.log'))}`;

  const pidOf = (file: string): number | null => {
    const pid = Number(existsSync(file) ? readFileSync(file, 'utf8').trim() : '');
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  };
  const pidFiles = [join(run, 'slurmd.pid'), join(run, 'slurmctld.pid'), join(mungeRun, 'munged.pid')];

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // Jobs outlive slurmd (slurmstepd keeps them): cancel them all and let them end first.
    // The cluster is private to this process: every job on it is ours.
    const ids = spawnSync('squeue', ['-h', '-o', '%i'], { env: childEnv, encoding: 'utf8', timeout: 5_000 }).stdout?.split('\n').filter(Boolean) ?? [];
    if (ids.length) spawnSync('scancel', ids, { env: childEnv, timeout: 10_000 });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const r = spawnSync('squeue', ['-h', '-o', '%i'], { env: childEnv, encoding: 'utf8', timeout: 5_000 });
      if (r.status !== 0 || !r.stdout.trim()) break;
      spawnSync('sleep', ['0.2']);
    }
    // Every daemon at once: each takes 1-2 s to shut down.
    const pids = pidFiles.map(pidOf).filter((pid): pid is number => pid !== null);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    const until = Date.now() + 10_000;
    while (Date.now() < until && pids.some((pid) => existsSync(`/proc/${pid}`))) spawnSync('sleep', ['0.05']);
    removeCgroups(nodeName);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }

  try {
    await daemon('runuser', ['-u', 'munge', '--', join(SBIN, 'munged'), `--socket=${mungeSocket}`, `--key-file=${keyFile}`,
      `--pid-file=${join(mungeRun, 'munged.pid')}`, `--log-file=${join(mungeKeyDir, 'munged.log')}`, `--seed-file=${join(mungeKeyDir, 'seed')}`], childEnv);
    await daemon(join(SBIN, 'slurmctld'), [], childEnv);
    await daemon(join(SBIN, 'slurmd'), ['-N', nodeName], childEnv);
    await waitUntil('the node to become idle', 30_000, () => {
      const r = spawnSync('sinfo', ['-h', '-n', nodeName, '-o', '%t'], { env: childEnv, encoding: 'utf8', timeout: 5_000 });
      return r.status === 0 && r.stdout.trim() === 'idle';
    });
  } catch (error) {
    const message = `${(error as Error).message}\n${logs()}`;
    stop();
    throw new Error(message, { cause: error });
  }
  return { env, dir, nodeName, partition, downPartition, logs, cli, stop };
}

/** Runs a daemon that forks into the background; resolves once the foreground process exited 0. */
function daemon(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command.split('/').pop()} failed to start (exit ${code}): ${stderr.trim()}`)),
    );
  });
}

async function waitUntil(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** slurmd leaves empty cgroup directories (slurm_<node>/...) behind in every v1 hierarchy. */
function removeCgroups(nodeName: string): void {
  const root = '/sys/fs/cgroup';
  const removeTree = (path: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const entry of entries) removeTree(join(path, entry));
    try {
      rmdirSync(path);
    } catch {
      // still in use or not ours to remove: leave it
    }
  };
  let controllers: string[] = [];
  try {
    controllers = readdirSync(root);
  } catch {
    return;
  }
  for (const controller of controllers) removeTree(join(root, controller, `slurm_${nodeName}`));
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
