// The local runtime: one detached Jupyter server per instance on a loopback port. Where the host
// allows it each instance is a real, isolated environment: a bubblewrap sandbox (sandbox.ts), a
// cgroup with its flavor's memory, CPU and process limits (cgroups.ts), and a volume of exactly
// its capacity (volume.ts). Whatever the host lacks is said at start, in the image status and in
// the launch event rather than silently skipped. Servers outlive notebookd (own session, unref'd),
// and the handle (pid + start time + boot id) lets a restarted notebookd adopt them without ever
// mistaking a recycled pid for ours.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { ImageProgram } from '../../domain/catalog.ts';
import type { HookSpec } from '../../domain/notebook.ts';
import type { Availability, InstanceSpec, Launched, PollResult, ProgressReporter, Runtime, RuntimeCapabilities, RuntimeHandle, RuntimeLogs, RuntimeSample } from '../runtime.ts';
import { parseCgroupRef } from './cgroup-paths.ts';
import type { CgroupRef } from './cgroup-paths.ts';
import { cgroupUsage, createCgroups, killCgroup, oomKills, procsFiles, removeCgroup } from './cgroups.ts';
import type { CgroupSupport, LimitsMode } from './cgroups.ts';
import { execInInstance, instanceListeningPorts } from './exec.ts';
import { readTail } from './file-tail.ts';
import { portAccepts } from '../../port-accepts.ts';
import { allocatePort, isPortFree } from './free-port.ts';
import { createHookRecords } from './hook-record.ts';
import { launchBackgroundHook, runBlockingHook } from './hooks.ts';
import type { HookPhase, HookRun } from './hooks.ts';
import { buildJupyterLaunch, instanceEnv, sandboxEnv, specProblem } from './jupyter-command.ts';
import type { JupyterLaunch } from './jupyter-command.ts';
import { readJson, writeJson } from './json-file.ts';
import { assertInstanceId, instancePaths } from './layout.ts';
import type { InstancePaths } from './layout.ts';
import { bootId, liveness, readProcStat } from './process-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';
import { createProgramCheck } from './program-check.ts';
import { hostRootEntries, probeSandbox, sandboxHostIds, spawnSandbox } from './sandbox.ts';
import type { HostIds, SandboxMode, SandboxSupport } from './sandbox.ts';
import { enterSandbox, inCgroup, sandboxHostname } from './sandbox-argv.ts';
import { sampleLocalHandle } from './sample.ts';
import { terminate, terminateSandbox } from './terminate.ts';
import { createVolumes, formatImage, probeStorage } from './volume.ts';
import type { StorageMode, StorageSupport } from './volume.ts';
import { createVolumePool } from './volume-pool.ts';

export interface RuntimeLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface LocalRuntimeOptions {
  dataDir: string;
  log?: RuntimeLog;
  /** Debian's Python, whose dist-packages hold Jupyter. Default /usr/bin/python3. */
  pythonPath?: string;
  /** The loopback address servers listen on. Default 127.0.0.1. */
  host?: string;
  /** How long a BLOCK pre_start hook may run before start fails. Default 10 min. */
  hookTimeoutMs?: number;
  /** How long a post_start hook waits for the server's port to accept connections. Default 60 s. */
  postStartWaitMs?: number;
  /** auto (default): a bubblewrap sandbox where the host can make one; on: refuse to run without; off: never. */
  sandbox?: SandboxMode;
  /** Default /usr/bin/bwrap. */
  bwrapPath?: string;
  /** Instance sandbox users get host uids from base .. base+60000 (one per instance). Default 900000. */
  sandboxUidBase?: number;
  /** auto (default): flavor limits through cgroups where possible; on: refuse to run without; off: never. */
  limits?: LimitsMode;
  /** The cgroup path instances nest under; empty (default) means <notebookd's own cgroup>/notebookd. */
  cgroupRoot?: string;
  /** Process (task) limit per instance. Default 1024. */
  pidsMax?: number;
  /** auto (default): a filesystem image per volume where the host allows loop mounts; image; directory. */
  storage?: StorageMode;
  /** Image volumes of `capacityGb` formatted ahead of time under <dataDir>/volume-pool (volume-pool.ts). Default: none. */
  volumePool?: { size: number; capacityGb: number; quietMs: number };
}

/** What the store keeps for a running local instance. Plain JSON. */
export interface LocalHandle {
  v: 1;
  kind: 'local';
  instanceId: string;
  program: ImageProgram;
  /** The server, or, when `sandboxed`, the sandbox's init (the instance lives exactly as long). */
  pid: number;
  startTime: number;
  bootId: string;
  port: number;
  sandboxed?: boolean;
  /** The run's cgroup, when flavor limits are enforced. */
  cgroup?: CgroupRef;
  /** The flavor's memory, for the out-of-memory message. */
  memoryMb?: number;
}

export function parseLocalHandle(handle: RuntimeHandle): LocalHandle | string {
  const h = handle as Partial<LocalHandle>;
  if (h.kind !== 'local' || h.v !== 1) return 'not a local runtime handle';
  if (!Number.isInteger(h.pid) || (h.pid as number) <= 1) return `bad pid ${String(h.pid)}`;
  if (!Number.isInteger(h.startTime) || (h.startTime as number) < 0) return `bad startTime ${String(h.startTime)}`;
  if (typeof h.instanceId !== 'string' || typeof h.bootId !== 'string') return 'missing instanceId or bootId';
  try {
    assertInstanceId(h.instanceId);
  } catch (err) {
    return (err as Error).message;
  }
  if (!Number.isInteger(h.port)) return `bad port ${String(h.port)}`;
  if (h.program !== 'notebook' && h.program !== 'jupyter_server') return `bad program ${String(h.program)}`;
  if (h.sandboxed !== undefined && typeof h.sandboxed !== 'boolean') return `bad sandboxed ${String(h.sandboxed)}`;
  // The cgroup paths are written to and killed in: only well-formed ones under /sys/fs/cgroup.
  if (h.cgroup !== undefined && parseCgroupRef(h.cgroup) === null) return 'bad cgroup';
  return h as LocalHandle;
}

/** What this host offers instances, detected once per runtime object. */
export interface HostCapabilities {
  sandbox: SandboxSupport;
  limits: CgroupSupport;
  storage: StorageSupport;
}

interface ChildRecord {
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<void>;
}

const JUPYTER_LOG_ROTATE_BYTES = 1 << 20;
const MIB = 1024 * 1024;

const silentLog: RuntimeLog = { info() {}, warn() {} };
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const identityKey = (id: ProcessIdentity) => `${id.pid}:${id.startTime}`;
const sameIdentity = (a: ProcessIdentity, b: ProcessIdentity) => a.pid === b.pid && a.startTime === b.startTime;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** bwrap reports a command killed by signal N as exit code 128 + N. */
function signalOfCode(code: number): string | null {
  const n = code - 128;
  return n > 0 && n < 65 ? (Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? null) : null;
}

function exitReason(exit: { code: number | null; signal: NodeJS.Signals | null }, sandboxed = false): string {
  const signal = exit.signal ?? (sandboxed && exit.code !== null ? signalOfCode(exit.code) : null);
  if (signal) return `jupyter was killed by ${signal}`;
  return exit.code !== null ? `jupyter exited with code ${exit.code}` : 'jupyter was killed by a signal';
}

function outOfMemory(h: LocalHandle, kills: number): string {
  const limit = h.memoryMb ? `its ${h.memoryMb} MB memory limit (the flavor's)` : 'its memory limit';
  return `out of memory: the instance exceeded ${limit} and the kernel killed ${kills === 1 ? 'a process' : `${kills} processes`} in it; the instance was stopped`;
}

export function createLocalRuntime(opts: LocalRuntimeOptions): Runtime {
  const dataDir = opts.dataDir;
  const log = opts.log ?? silentLog;
  const pythonPath = opts.pythonPath ?? '/usr/bin/python3';
  const host = opts.host ?? '127.0.0.1';
  const hookTimeoutMs = opts.hookTimeoutMs ?? 10 * 60_000;
  const postStartWaitMs = opts.postStartWaitMs ?? 60_000;
  const sandboxMode = opts.sandbox ?? 'auto';
  const bwrapPath = opts.bwrapPath ?? '/usr/bin/bwrap';
  const uidBase = opts.sandboxUidBase ?? 900_000;
  const pidsMax = opts.pidsMax ?? 1024;

  /** Servers this object spawned: only for these is an exit code known. */
  const children = new Map<string, ChildRecord>();
  /** post_start hooks waiting for their server's port, by server identity. */
  const postStartWaiters = new Map<string, AbortController>();
  const checkProgram = createProgramCheck(pythonPath);
  const hookRecords = createHookRecords();
  const cgroups = createCgroups({ mode: opts.limits ?? 'auto', root: opts.cgroupRoot ?? '' });
  const pool =
    opts.volumePool && opts.volumePool.size > 0
      ? createVolumePool({ dir: `${dataDir}/volume-pool`, ...opts.volumePool, format: (image) => formatImage(image, true), log })
      : null;
  const volumes = createVolumes({ pool });

  let detected: Promise<HostCapabilities> | null = null;
  /** Probed on first use (not at construction: a runtime made only to clean up never probes). */
  function capabilities(): Promise<HostCapabilities> {
    detected ??= (async () => {
      const [sandbox, limits, storage] = await Promise.all([
        probeSandbox({ mode: sandboxMode, bwrapPath, uidBase }),
        cgroups.support(),
        probeStorage(opts.storage ?? 'auto', dataDir),
      ]);
      const say = (ok: boolean, o: object, msg: string) => (ok ? log.info(o, msg) : log.warn(o, msg));
      say(sandbox.available, { sandbox: sandboxMode }, sandbox.message);
      say(limits.available, { limits: opts.limits ?? 'auto' }, limits.message);
      say(storage.kind === 'image', { storage: opts.storage ?? 'auto' }, storage.message);
      if (storage.kind === 'image') pool?.start();
      return { sandbox, limits, storage };
    })();
    detected.catch(() => (detected = null)); // a failed probe (storage=image impossible) is retried
    return detected;
  }

  /** What an instance started now would lack; empty when fully isolated and limited. */
  async function degradations(): Promise<string[]> {
    const caps = await capabilities();
    const out: string[] = [];
    if (!caps.sandbox.available) out.push(caps.sandbox.message);
    if (!caps.limits.available) out.push(caps.limits.message);
    if (caps.storage.kind !== 'image') out.push(caps.storage.message);
    return out;
  }

  async function checkImage(program: ImageProgram): Promise<Availability> {
    const availability = await checkProgram(program);
    if (!availability.available) return availability;
    let caps: HostCapabilities;
    try {
      caps = await capabilities();
    } catch (err) {
      return { available: false, message: (err as Error).message }; // e.g. storage = image on a host without loop mounts
    }
    if (sandboxMode === 'on' && !caps.sandbox.available) return { available: false, message: `${caps.sandbox.message} (localRuntime.sandbox = on)` };
    if (opts.limits === 'on' && !caps.limits.available) return { available: false, message: `${caps.limits.message} (localRuntime.limits = on)` };
    const lacking = await degradations();
    return lacking.length ? { ...availability, warning: lacking.join('; ') } : availability;
  }

  async function ensureJupyterDirs(paths: InstancePaths): Promise<void> {
    await mkdir(paths.instanceDir, { recursive: true, mode: 0o700 });
    for (const dir of [paths.runtimeDir, paths.configDir, paths.jupyterDataDir, paths.ipythonDir]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
  }

  /** The remembered port while it is free; otherwise a new one, remembered. */
  async function ensurePort(paths: InstancePaths): Promise<number> {
    const remembered = Number((await readFile(paths.portFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(remembered) && remembered > 0 && (await isPortFree(host, remembered))) return remembered;
    const port = await allocatePort(host);
    await writeFile(paths.portFile, `${port}\n`);
    if (remembered) log.info({ port, previous: remembered }, 'remembered port is taken; allocated another');
    return port;
  }

  /** The sandbox user's host uid/gid, one per instance (sandboxes need root, see sandbox.ts). */
  function hostIdsOf(instanceId: string): Promise<HostIds> {
    return sandboxHostIds(`${dataDir}/instances`, instanceId, uidBase);
  }

  async function rotateLog(path: string): Promise<void> {
    const info = await stat(path).catch(() => null);
    if (info && info.size > JUPYTER_LOG_ROTATE_BYTES) await rename(path, `${path}.1`);
  }

  function trackChild(identity: ProcessIdentity, exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>): void {
    const record: ChildRecord = { exit: null, exited: Promise.resolve() };
    record.exited = exited.then((exit) => {
      record.exit = exit;
    });
    children.set(identityKey(identity), record);
  }

  /** Spawns the server detached (no sandbox) and returns its identity; rejects if it could not even be started. */
  async function spawnServer(launch: JupyterLaunch, logPath: string, cgroupProcs: string[]): Promise<ProcessIdentity> {
    const logFile = await open(logPath, 'a');
    try {
      await logFile.write(`--- ${new Date().toISOString()} ${launch.command} ${launch.args.join(' ')}\n`);
      const wrapped = inCgroup(cgroupProcs, [launch.command, ...launch.args]);
      // detached: its own session and process group, so SIGINT/SIGTERM aimed at notebookd never
      // reaches it and stop can signal the whole group.
      const child = spawn(wrapped.command, wrapped.args, {
        cwd: launch.cwd,
        env: launch.env,
        detached: true,
        stdio: ['ignore', logFile.fd, logFile.fd],
      });
      let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => {
          exit = { code, signal };
          resolve(exit);
        }),
      );
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      child.unref();
      const stat = child.pid ? await readProcStat(child.pid) : null;
      if (!stat) {
        // Gone already (and reaped): report what it said.
        await Promise.race([exited, delay(1_000)]);
        const tail = await readTail(logPath);
        throw new Error(`${exit ? exitReason(exit) : 'jupyter vanished at launch'}${tail ? `; last log lines:\n${tail}` : ''}`);
      }
      const identity = { pid: stat.pid, startTime: stat.startTime };
      trackChild(identity, exited);
      return identity;
    } finally {
      await logFile.close();
    }
  }

  /** Where a hook of this run executes: inside the sandbox (entered) or on the host in the cgroup. */
  function hookRun(paths: InstancePaths, phase: HookPhase, hook: HookSpec, place: Placement): HookRun {
    const base = { phase, hook, logPath: paths.hooksLog };
    const procs = place.cgroup ? procsFiles(place.cgroup) : [];
    if (place.sandboxInit) {
      const initPid = place.sandboxInit.pid;
      return { ...base, cwd: '/', env: sandboxEnv(process.env), wrap: (argv) => enterSandbox({ cgroupProcs: procs, initPid, command: argv }) };
    }
    return { ...base, cwd: paths.volumeDir, env: instanceEnv(paths, process.env), ...(procs.length > 0 && { wrap: (argv: string[]) => inCgroup(procs, argv) }) };
  }

  function schedulePostStart(paths: InstancePaths, instanceId: string, hook: HookSpec, server: ProcessIdentity, port: number, place: Placement) {
    const controller = new AbortController();
    const key = identityKey(server);
    postStartWaiters.set(key, controller);
    const run = async () => {
      const deadline = Date.now() + postStartWaitMs;
      for (;;) {
        if (controller.signal.aborted) return;
        if (await portAccepts(host, port, 500)) break;
        if ((await liveness(server)).state !== 'alive') {
          log.warn({ instanceId }, 'post_start hook skipped: the server exited before it listened');
          return;
        }
        if (Date.now() >= deadline) {
          log.warn({ instanceId, waitedMs: postStartWaitMs }, 'post_start hook skipped: the server did not listen in time');
          return;
        }
        await delay(100);
      }
      if (controller.signal.aborted) return;
      const identity = await launchBackgroundHook(hookRun(paths, 'post_start', hook, place), (message, ok) =>
        ok ? log.info({ instanceId }, message) : log.warn({ instanceId, log: paths.hooksLog }, message),
      );
      await hookRecords.add(paths.hookPidsFile, identity);
    };
    run()
      .catch((err: Error) => log.warn({ instanceId, err: (err as Error).message }, 'post_start hook failed to run'))
      .finally(() => {
        if (postStartWaiters.get(key) === controller) postStartWaiters.delete(key);
      });
  }

  /**
   * Whether `h` is the instance's current run (the last one started), or no run of it is alive:
   * only then may its cgroup be emptied. A stale handle (an earlier run,
   * replaced by a new start) must never touch the new run.
   */
  async function isCurrentRun(paths: InstancePaths, h: LocalHandle): Promise<boolean> {
    const recorded = await readJson<RuntimeHandle>(paths.serverFile);
    if (!recorded) return true;
    const r = parseLocalHandle(recorded);
    if (typeof r === 'string' || r.bootId !== bootId()) return true;
    if (sameIdentity(r, h)) return true;
    return (await liveness(r)).state !== 'alive';
  }

  /** Ends what is left of the current run: stray processes in its cgroup, and the cgroup. */
  async function releaseRun(paths: InstancePaths, h: LocalHandle): Promise<void> {
    if (!(await isCurrentRun(paths, h))) return;
    const ref = h.cgroup ? parseCgroupRef(h.cgroup) : null;
    if (!ref) return;
    await killCgroup(ref).catch((err: Error) => log.warn({ instanceId: h.instanceId, err: err.message }, 'could not empty the cgroup'));
    await removeCgroup(ref);
  }

  async function stop(handle: RuntimeHandle, graceMs: number): Promise<void> {
    const h = parseLocalHandle(handle);
    if (typeof h === 'string') return; // nothing we could have started
    if (h.bootId !== bootId()) return; // a previous boot's processes are all gone
    const server = { pid: h.pid, startTime: h.startTime };
    const key = identityKey(server);
    postStartWaiters.get(key)?.abort();
    const began = Date.now();
    const result = h.sandboxed ? await terminateSandbox(server, graceMs) : await terminate(server, graceMs);
    // Our own child: let the exit event land so poll reports the exit code, not "lost".
    const child = children.get(key);
    if (child && result.signalled) await Promise.race([child.exited, delay(1_000)]);
    const paths = instancePaths(dataDir, h.instanceId);
    await hookRecords.kill(paths.hookPidsFile, server);
    await releaseRun(paths, h);
    if (result.signalled) log.info({ instanceId: h.instanceId, pid: h.pid, killed: result.killed, ms: Date.now() - began }, 'jupyter stopped');
  }

  /** The OOM kills of `h`'s run, when `h` is the current run and has a cgroup. */
  async function oomKillsOf(paths: InstancePaths, h: LocalHandle): Promise<number> {
    const ref = h.cgroup ? parseCgroupRef(h.cgroup) : null;
    if (!ref || !(await isCurrentRun(paths, h))) return 0;
    return oomKills(ref);
  }

  async function poll(handle: RuntimeHandle): Promise<PollResult> {
    const h = parseLocalHandle(handle);
    if (typeof h === 'string') return { state: 'lost', reason: `invalid handle: ${h}` };
    if (h.bootId !== bootId()) return { state: 'lost', reason: 'the host rebooted since the server was started' };
    const server = { pid: h.pid, startTime: h.startTime };
    const child = children.get(identityKey(server));
    const paths = instancePaths(dataDir, h.instanceId);
    const withTail = async (reason: string) => {
      const tail = await readTail(paths.jupyterLog);
      return tail ? `${reason}; last log lines:\n${tail}` : reason;
    };
    const state = await liveness(server);
    // An instance past its memory is reported as such, even when only a kernel was killed and
    // the server lives on: it is stopped, never left half-working or silently vanished.
    const kills = state.state === 'recycled' ? 0 : await oomKillsOf(paths, h);
    if (kills > 0) {
      // Killed, but the cgroup stays (until the next start or destroy) so that every later poll,
      // by this notebookd or a restarted one, gives the same reason.
      if (state.state === 'alive') {
        postStartWaiters.get(identityKey(server))?.abort();
        await (h.sandboxed ? terminateSandbox(server, 0) : terminate(server, 0));
        await killCgroup(parseCgroupRef(h.cgroup)!).catch(() => {});
        log.warn({ instanceId: h.instanceId, oomKills: kills }, 'instance out of memory: stopped');
      }
      return { state: 'exited', exitCode: 137, reason: outOfMemory(h, kills) };
    }
    if (!child?.exit) {
      if (state.state === 'alive') return { state: 'running' };
      // Ours and just ended: the exit event is on its way.
      if (child) await Promise.race([child.exited, delay(2_000)]);
      if (!child?.exit) {
        if (state.state === 'recycled') {
          return { state: 'lost', reason: `jupyter (pid ${h.pid}) is gone and its pid now belongs to another process` };
        }
        const what = state.state === 'zombie' ? 'has exited (unreaped)' : 'is gone';
        const subject = h.sandboxed ? `the sandbox of jupyter (init pid ${h.pid})` : `jupyter (pid ${h.pid})`;
        return { state: 'lost', reason: await withTail(`${subject} ${what}; its exit status is unknown to this notebookd process`) };
      }
    }
    const sandboxSignal = h.sandboxed && child.exit.code !== null && signalOfCode(child.exit.code) !== null;
    const reason = await withTail(exitReason(child.exit, h.sandboxed));
    // Another process bound the port between ensurePort and Jupyter's own bind (many starts at
    // once, other services on the host): forget it so the next launch picks a new one.
    if (child.exit.code !== 0 && reason.includes(`The port ${h.port} is already in use`)) {
      await rm(paths.portFile, { force: true });
      return { state: 'exited', exitCode: child.exit.code, reason, retryable: `port ${h.port} was taken before the server could listen on it` };
    }
    return { state: 'exited', exitCode: sandboxSignal ? null : child.exit.code, reason };
  }

  async function sample(handle: RuntimeHandle): Promise<RuntimeSample | null> {
    const h = parseLocalHandle(handle);
    if (typeof h === 'string' || h.bootId !== bootId()) return null;
    const ref = h.cgroup ? parseCgroupRef(h.cgroup) : null;
    // The cgroup counts everything of the instance (SSH sessions and hooks too), the process tree only the server's.
    if (ref && (await liveness(h)).state === 'alive') {
      const usage = await cgroupUsage(ref);
      if (usage) return { cpuSeconds: usage.cpuSeconds, memoryBytes: usage.memoryBytes, processes: usage.processes };
    }
    return sampleLocalHandle(handle);
  }

  /** Storage (step 1 of prepare, and again at start after a stop unmounted it). */
  async function ensureVolume(paths: InstancePaths, capacityGb: number): Promise<void> {
    const caps = await capabilities();
    await mkdir(paths.instanceDir, { recursive: true, mode: 0o700 });
    await volumes.ensure(paths, capacityGb, caps.storage.kind);
  }

  return {
    kind: 'local',
    checkImage,

    async prepare(spec: InstanceSpec, report: ProgressReporter): Promise<void> {
      const paths = instancePaths(dataDir, spec.instanceId);
      // 1 storage: the volume (kept if it exists, grown if asked) and our own per-instance directory.
      await report(1, 'PROCESSING');
      await ensureVolume(paths, spec.capacityGb);
      await report(1, 'COMPLETED');
      // 2 compute: the program (and the sandbox, if required) can run here; the sandbox user exists.
      await report(2, 'PROCESSING');
      const availability = await checkImage(spec.program);
      if (!availability.available) throw new Error(availability.message);
      await ensureJupyterDirs(paths);
      if ((await capabilities()).sandbox.available) await hostIdsOf(spec.instanceId);
      await report(2, 'COMPLETED');
      // 3 network: a free loopback port, remembered for start.
      await report(3, 'PROCESSING');
      await ensurePort(paths);
      await report(3, 'COMPLETED');
    },

    async start(spec: InstanceSpec): Promise<Launched> {
      const problem = specProblem(spec);
      if (problem) throw new Error(problem);
      const paths = instancePaths(dataDir, spec.instanceId);
      // Never start on an empty directory silently: a missing volume means lost data or a wrong dataDir.
      if (!(await exists(paths.volumeFile)) && !(await exists(paths.volumeDir))) {
        throw new Error(`the volume of ${spec.instanceId} does not exist (${paths.volumeDir}); prepare the instance first`);
      }
      const availability = await checkImage(spec.program);
      if (!availability.available) throw new Error(availability.message);
      const caps = await capabilities();
      const sandboxed = caps.sandbox.available;
      await ensureJupyterDirs(paths);

      // A server of an earlier run that is still alive (notebookd died between launch and
      // recording the handle) holds a stale token and maybe our port: it goes first.
      const leftover = await readJson<RuntimeHandle>(paths.serverFile);
      if (leftover) {
        const h = parseLocalHandle(leftover);
        if (typeof h !== 'string' && h.bootId === bootId() && (await liveness(h)).state === 'alive') {
          log.warn({ instanceId: spec.instanceId, pid: h.pid }, 'stopping a server left over from an earlier start');
        }
        await stop(leftover, 5_000);
      }
      await hookRecords.kill(paths.hookPidsFile, null);
      const port = await ensurePort(paths);

      // Storage: mounted (again, after a host reboot), owned by the sandbox user, within capacity.
      await ensureVolume(paths, spec.capacityGb);
      const over = await volumes.overCapacity(paths);
      if (over) throw new Error(over);
      const hostIds = sandboxed ? await hostIdsOf(spec.instanceId) : null;
      if (hostIds) await volumes.own(paths, hostIds);

      const cgroup = await cgroups.create(spec.instanceId, { memoryMb: spec.memoryMb, vcpus: spec.vcpus, pidsMax });
      const procs = cgroup ? procsFiles(cgroup) : [];
      const abandon = async (place: Placement) => {
        if (place.sandboxInit) await terminateSandbox(place.sandboxInit, 0).catch(() => {});
        if (cgroup) {
          await killCgroup(cgroup).catch(() => {});
          await removeCgroup(cgroup);
        }
        await rm(paths.serverFile, { force: true });
      };

      await writeFile(paths.tokenFile, spec.jupyterToken, { mode: 0o600 });
      await chmod(paths.tokenFile, 0o600);
      await rotateLog(paths.jupyterLog);
      const launch = buildJupyterLaunch({ program: spec.program, pythonPath, host, port, basePath: spec.basePath, paths, hostEnv: process.env, sandboxed });
      const preStart = spec.hooks?.preStart;
      const asyncHooks: (ProcessIdentity | null)[] = [];
      const runPreStart = async (place: Placement) => {
        if (!preStart) return;
        try {
          if (preStart.mode === 'BLOCK') await runBlockingHook(hookRun(paths, 'pre_start', preStart, place), hookTimeoutMs);
          else {
            asyncHooks.push(
              await launchBackgroundHook(hookRun(paths, 'pre_start', preStart, place), (message, ok) =>
                ok ? log.info({ instanceId: spec.instanceId }, message) : log.warn({ instanceId: spec.instanceId, log: paths.hooksLog }, message),
              ),
            );
          }
        } catch (err) {
          await abandon(place);
          throw err;
        }
      };

      let server: ProcessIdentity;
      let place: Placement;
      if (sandboxed) {
        // The sandbox starts first with its server held at the gate: pre_start hooks run inside it.
        const logFile = await open(paths.jupyterLog, 'a');
        let spawned;
        try {
          await logFile.write(`--- ${new Date().toISOString()} (sandbox) ${launch.command} ${launch.args.join(' ')}\n`);
          spawned = await spawnSandbox({
            chain: {
              cgroupProcs: procs,
              volumeDir: paths.volumeDir,
              hostIds: hostIds!,
              bwrap: {
                bwrapPath,
                hostname: sandboxHostname(spec.instanceId),
                rootEntries: await hostRootEntries(),
                tmpfsBytes: spec.memoryMb * MIB,
                command: [launch.command, ...launch.args],
              },
            },
            files: { token: spec.jupyterToken, hostname: sandboxHostname(spec.instanceId) },
            outputFd: logFile.fd,
            env: launch.env,
            openAtOnce: !preStart,
          });
        } catch (err) {
          await abandon({ cgroup, sandboxInit: null });
          const tail = await readTail(paths.jupyterLog);
          throw new Error(`${(err as Error).message}${tail ? `; last log lines:\n${tail}` : ''}`);
        } finally {
          await logFile.close();
        }
        server = spawned.init;
        trackChild(server, spawned.exited);
        place = { cgroup, sandboxInit: server };
        await writeJson(paths.serverFile, localHandle(spec, server, port, place));
        await runPreStart(place);
        spawned.openGate();
      } else {
        place = { cgroup, sandboxInit: null };
        await runPreStart(place);
        try {
          server = await spawnServer(launch, paths.jupyterLog, procs);
        } catch (err) {
          await abandon(place);
          throw err;
        }
      }
      const handle = localHandle(spec, server, port, place);
      await writeJson(paths.serverFile, handle);
      await hookRecords.bind(paths.hookPidsFile, server);
      for (const hook of asyncHooks) await hookRecords.add(paths.hookPidsFile, hook);
      if (spec.hooks?.postStart) schedulePostStart(paths, spec.instanceId, spec.hooks.postStart, server, port, place);
      log.info({ instanceId: spec.instanceId, pid: server.pid, port, program: spec.program, sandboxed, limited: cgroup !== null }, 'jupyter launched');
      const notes = await degradations();
      return {
        handle: { ...handle },
        target: { origin: `http://${host}:${port}`, basePath: spec.basePath, jupyterToken: spec.jupyterToken },
        ...(notes.length > 0 && { notes }),
      };
    },

    stop,
    async stopUnrecorded(instanceId: string, graceMs: number): Promise<void> {
      const leftover = await readJson<RuntimeHandle>(instancePaths(dataDir, instanceId).serverFile);
      if (leftover) await stop(leftover, graceMs);
    },
    poll,
    sample,

    async logs(instanceId: string, maxBytes: number): Promise<RuntimeLogs | null> {
      const paths = instancePaths(dataDir, instanceId);
      if (!(await exists(paths.instanceDir))) return null;
      const tail = (path: string) => readTail(path, { lines: Number.MAX_SAFE_INTEGER, maxBytes });
      return { hooks: await tail(paths.hooksLog), server: await tail(paths.jupyterLog) };
    },

    async capabilities(): Promise<RuntimeCapabilities> {
      const caps = await capabilities();
      return { isolation: caps.sandbox.available, memoryLimit: caps.limits.available && caps.limits.memory, volumeCapacity: caps.storage.kind === 'image' };
    },

    async destroy(instanceId: string): Promise<void> {
      const paths = instancePaths(dataDir, instanceId);
      const leftover = await readJson<RuntimeHandle>(paths.serverFile);
      if (leftover) await stop(leftover, 2_000);
      await hookRecords.kill(paths.hookPidsFile, null);
      await volumes.remove(paths);
      await rm(paths.instanceDir, { recursive: true, force: true });
      log.info({ instanceId }, 'instance storage removed');
    },

    async resizeVolume(instanceId: string, capacityGb: number): Promise<void> {
      const paths = instancePaths(dataDir, instanceId);
      if (!(await exists(paths.volumeFile)) && !(await exists(paths.volumeDir))) throw new Error(`the volume of ${instanceId} does not exist`);
      // A volume from before volume records: record it as a directory of its asked size first.
      if (!(await exists(paths.volumeFile))) await ensureVolume(paths, capacityGb);
      await volumes.grow(paths, capacityGb);
      log.info({ instanceId, capacityGb }, 'volume grown');
    },

    // exec.ts: sessions of the SSH gateway, in the instance's environment (inside its sandbox).
    async exec(handle, req) {
      const h = parseLocalHandle(handle);
      if (typeof h === 'string') throw new Error(`cannot exec: ${h}`);
      const ref = h.cgroup ? parseCgroupRef(h.cgroup) : null;
      return execInInstance(
        {
          dataDir,
          instanceId: h.instanceId,
          pythonPath,
          cgroupProcs: ref ? procsFiles(ref) : [],
          ...(h.sandboxed && { sandboxInit: { pid: h.pid, startTime: h.startTime } }),
        },
        req,
      );
    },
    async listeningPorts(handle) {
      const h = parseLocalHandle(handle);
      return typeof h === 'string' ? [] : instanceListeningPorts(h.instanceId, h.pid);
    },

    async close(): Promise<void> {
      for (const controller of postStartWaiters.values()) controller.abort();
      postStartWaiters.clear();
      await pool?.close();
      await cgroups.close();
    },
  };
}

/** Where a run's processes go: its cgroup (if limits are enforced) and its sandbox (if any). */
interface Placement {
  cgroup: CgroupRef | null;
  sandboxInit: ProcessIdentity | null;
}

function localHandle(spec: InstanceSpec, server: ProcessIdentity, port: number, place: Placement): LocalHandle {
  return {
    v: 1,
    kind: 'local',
    instanceId: spec.instanceId,
    program: spec.program,
    pid: server.pid,
    startTime: server.startTime,
    bootId: bootId(),
    port,
    ...(place.sandboxInit && { sandboxed: true }),
    ...(place.cgroup && { cgroup: place.cgroup }),
    memoryMb: spec.memoryMb,
  };
}
