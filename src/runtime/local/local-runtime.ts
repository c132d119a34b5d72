// The local runtime: one detached Jupyter server process per instance on a loopback port, its
// working tree in volumes/<id>/. Servers outlive notebookd (own session, unref'd), and the handle
// (pid + start time + boot id) lets a restarted notebookd adopt them without ever mistaking a
// recycled pid for ours.
import { spawn } from 'node:child_process';
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { ImageProgram } from '../../domain/catalog.ts';
import type { HookSpec } from '../../domain/notebook.ts';
import type { InstanceSpec, Launched, PollResult, ProgressReporter, Runtime, RuntimeHandle } from '../runtime.ts';
import { readTail } from './file-tail.ts';
import { allocatePort, isPortFree, portAccepts } from './free-port.ts';
import { createHookRecords } from './hook-record.ts';
import { launchBackgroundHook, runBlockingHook } from './hooks.ts';
import type { HookPhase } from './hooks.ts';
import { buildJupyterLaunch, instanceEnv, specProblem } from './jupyter-command.ts';
import type { JupyterLaunch } from './jupyter-command.ts';
import { readJson, writeJson } from './json-file.ts';
import { assertInstanceId, instancePaths } from './layout.ts';
import type { InstancePaths } from './layout.ts';
import { bootId, liveness, readProcStat } from './process-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';
import { createProgramCheck } from './program-check.ts';
import { terminate } from './terminate.ts';

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
}

/** What the store keeps for a running local instance. Plain JSON. */
export interface LocalHandle {
  v: 1;
  kind: 'local';
  instanceId: string;
  program: ImageProgram;
  pid: number;
  startTime: number;
  bootId: string;
  port: number;
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
  return h as LocalHandle;
}

interface ChildRecord {
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<void>;
}

const JUPYTER_LOG_ROTATE_BYTES = 1 << 20;

const silentLog: RuntimeLog = { info() {}, warn() {} };
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const identityKey = (id: ProcessIdentity) => `${id.pid}:${id.startTime}`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function exitReason(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.code !== null ? `jupyter exited with code ${exit.code}` : `jupyter was killed by ${exit.signal ?? 'a signal'}`;
}

export function createLocalRuntime(opts: LocalRuntimeOptions): Runtime {
  const dataDir = opts.dataDir;
  const log = opts.log ?? silentLog;
  const pythonPath = opts.pythonPath ?? '/usr/bin/python3';
  const host = opts.host ?? '127.0.0.1';
  const hookTimeoutMs = opts.hookTimeoutMs ?? 10 * 60_000;
  const postStartWaitMs = opts.postStartWaitMs ?? 60_000;

  /** Servers this object spawned: only for these is an exit code known. */
  const children = new Map<string, ChildRecord>();
  /** post_start hooks waiting for their server's port, by server identity. */
  const postStartWaiters = new Map<string, AbortController>();
  const checkImage = createProgramCheck(pythonPath);
  const hookRecords = createHookRecords();

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

  /** A volume never shrinks: prepare keeps the larger size, resize refuses a smaller one. */
  async function recordCapacity(paths: InstancePaths, capacityGb: number, onShrink: 'keep' | 'reject'): Promise<void> {
    const current = await readJson<{ capacityGb: number }>(paths.volumeFile);
    if (current && capacityGb < current.capacityGb) {
      if (onShrink === 'keep') return;
      throw new Error(`the volume cannot shrink from ${current.capacityGb} GB to ${capacityGb} GB`);
    }
    if (current?.capacityGb !== capacityGb) await writeJson(paths.volumeFile, { capacityGb }, 0o644);
  }

  function hookRun(paths: InstancePaths, phase: HookPhase, hook: HookSpec) {
    return { phase, hook, cwd: paths.volumeDir, env: instanceEnv(paths, process.env), logPath: paths.hooksLog };
  }

  async function rotateLog(path: string): Promise<void> {
    const info = await stat(path).catch(() => null);
    if (info && info.size > JUPYTER_LOG_ROTATE_BYTES) await rename(path, `${path}.1`);
  }

  /** Spawns the server detached and returns its identity; rejects if it could not even be started. */
  async function spawnServer(launch: JupyterLaunch, logPath: string): Promise<ProcessIdentity> {
    const logFile = await open(logPath, 'a');
    try {
      await logFile.write(`--- ${new Date().toISOString()} ${launch.command} ${launch.args.join(' ')}\n`);
      // detached: its own session and process group, so SIGINT/SIGTERM aimed at notebookd never
      // reaches it and stop can signal the whole group.
      const child = spawn(launch.command, launch.args, {
        cwd: launch.cwd,
        env: launch.env,
        detached: true,
        stdio: ['ignore', logFile.fd, logFile.fd],
      });
      const record: ChildRecord = { exit: null, exited: Promise.resolve() };
      record.exited = new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          record.exit = { code, signal };
          resolve();
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
        await Promise.race([record.exited, delay(1_000)]);
        const tail = await readTail(logPath);
        throw new Error(`${record.exit ? exitReason(record.exit) : 'jupyter vanished at launch'}${tail ? `; last log lines:\n${tail}` : ''}`);
      }
      const identity = { pid: stat.pid, startTime: stat.startTime };
      children.set(identityKey(identity), record);
      return identity;
    } finally {
      await logFile.close();
    }
  }

  function schedulePostStart(paths: InstancePaths, instanceId: string, hook: HookSpec, server: ProcessIdentity, port: number) {
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
      const identity = await launchBackgroundHook(hookRun(paths, 'post_start', hook), (message, ok) =>
        ok ? log.info({ instanceId }, message) : log.warn({ instanceId, log: paths.hooksLog }, message),
      );
      await hookRecords.add(paths.hookPidsFile, identity);
    };
    run()
      .catch((err: Error) => log.warn({ instanceId, err: err.message }, 'post_start hook failed to run'))
      .finally(() => {
        if (postStartWaiters.get(key) === controller) postStartWaiters.delete(key);
      });
  }

  async function stop(handle: RuntimeHandle, graceMs: number): Promise<void> {
    const h = parseLocalHandle(handle);
    if (typeof h === 'string') return; // nothing we could have started
    if (h.bootId !== bootId()) return; // a previous boot's processes are all gone
    const server = { pid: h.pid, startTime: h.startTime };
    const key = identityKey(server);
    postStartWaiters.get(key)?.abort();
    const began = Date.now();
    const result = await terminate(server, graceMs);
    // Our own child: let the exit event land so poll reports the exit code, not "lost".
    const child = children.get(key);
    if (child && result.signalled) await Promise.race([child.exited, delay(1_000)]);
    const paths = instancePaths(dataDir, h.instanceId);
    await hookRecords.kill(paths.hookPidsFile, server);
    if (result.signalled) log.info({ instanceId: h.instanceId, pid: h.pid, killed: result.killed, ms: Date.now() - began }, 'jupyter stopped');
  }

  async function poll(handle: RuntimeHandle): Promise<PollResult> {
    const h = parseLocalHandle(handle);
    if (typeof h === 'string') return { state: 'lost', reason: `invalid handle: ${h}` };
    if (h.bootId !== bootId()) return { state: 'lost', reason: 'the host rebooted since the server was started' };
    const server = { pid: h.pid, startTime: h.startTime };
    const child = children.get(identityKey(server));
    const logPath = instancePaths(dataDir, h.instanceId).jupyterLog;
    const withTail = async (reason: string) => {
      const tail = await readTail(logPath);
      return tail ? `${reason}; last log lines:\n${tail}` : reason;
    };
    if (!child?.exit) {
      const state = await liveness(server);
      if (state.state === 'alive') return { state: 'running' };
      // Ours and just ended: the exit event is on its way.
      if (child) await Promise.race([child.exited, delay(2_000)]);
      if (!child?.exit) {
        if (state.state === 'recycled') {
          return { state: 'lost', reason: `jupyter (pid ${h.pid}) is gone and its pid now belongs to another process` };
        }
        const what = state.state === 'zombie' ? 'has exited (unreaped)' : 'is gone';
        return { state: 'lost', reason: await withTail(`jupyter (pid ${h.pid}) ${what}; its exit status is unknown to this notebookd process`) };
      }
    }
    return { state: 'exited', exitCode: child.exit.code, reason: await withTail(exitReason(child.exit)) };
  }

  return {
    kind: 'local',
    checkImage,

    async prepare(spec: InstanceSpec, report: ProgressReporter): Promise<void> {
      const paths = instancePaths(dataDir, spec.instanceId);
      // 1 storage: the volume (kept if it exists) and our own per-instance directory.
      await report(1, 'PROCESSING');
      await mkdir(paths.volumeDir, { recursive: true });
      await mkdir(paths.instanceDir, { recursive: true, mode: 0o700 });
      await recordCapacity(paths, spec.capacityGb, 'keep');
      await report(1, 'COMPLETED');
      // 2 compute: the program can run here, and Jupyter's state dirs exist.
      await report(2, 'PROCESSING');
      const availability = await checkImage(spec.program);
      if (!availability.available) throw new Error(availability.message);
      await ensureJupyterDirs(paths);
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
      if (!(await exists(paths.volumeDir))) {
        throw new Error(`the volume of ${spec.instanceId} does not exist (${paths.volumeDir}); prepare the instance first`);
      }
      const availability = await checkImage(spec.program);
      if (!availability.available) throw new Error(availability.message);
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

      const preStart = spec.hooks?.preStart;
      const asyncHooks: (ProcessIdentity | null)[] = [];
      if (preStart?.mode === 'BLOCK') await runBlockingHook(hookRun(paths, 'pre_start', preStart), hookTimeoutMs);
      else if (preStart) {
        asyncHooks.push(
          await launchBackgroundHook(hookRun(paths, 'pre_start', preStart), (message, ok) =>
            ok ? log.info({ instanceId: spec.instanceId }, message) : log.warn({ instanceId: spec.instanceId, log: paths.hooksLog }, message),
          ),
        );
      }

      await writeFile(paths.tokenFile, spec.jupyterToken, { mode: 0o600 });
      await chmod(paths.tokenFile, 0o600);
      await rotateLog(paths.jupyterLog);
      const launch = buildJupyterLaunch({
        program: spec.program,
        pythonPath,
        host,
        port,
        basePath: spec.basePath,
        paths,
        hostEnv: process.env,
      });
      const server = await spawnServer(launch, paths.jupyterLog);
      const handle: LocalHandle = {
        v: 1,
        kind: 'local',
        instanceId: spec.instanceId,
        program: spec.program,
        pid: server.pid,
        startTime: server.startTime,
        bootId: bootId(),
        port,
      };
      await writeJson(paths.serverFile, handle);
      await hookRecords.bind(paths.hookPidsFile, server);
      for (const hook of asyncHooks) await hookRecords.add(paths.hookPidsFile, hook);
      if (spec.hooks?.postStart) schedulePostStart(paths, spec.instanceId, spec.hooks.postStart, server, port);
      log.info({ instanceId: spec.instanceId, pid: server.pid, port, program: spec.program }, 'jupyter launched');
      return {
        handle: { ...handle },
        target: { origin: `http://${host}:${port}`, basePath: spec.basePath, jupyterToken: spec.jupyterToken },
      };
    },

    stop,
    poll,

    async destroy(instanceId: string): Promise<void> {
      const paths = instancePaths(dataDir, instanceId);
      const leftover = await readJson<RuntimeHandle>(paths.serverFile);
      if (leftover) await stop(leftover, 2_000);
      await hookRecords.kill(paths.hookPidsFile, null);
      await rm(paths.volumeDir, { recursive: true, force: true });
      await rm(paths.instanceDir, { recursive: true, force: true });
      log.info({ instanceId }, 'instance storage removed');
    },

    async resizeVolume(instanceId: string, capacityGb: number): Promise<void> {
      if (!Number.isFinite(capacityGb) || capacityGb <= 0) throw new Error(`invalid capacity ${capacityGb} GB`);
      const paths = instancePaths(dataDir, instanceId);
      if (!(await exists(paths.volumeDir))) throw new Error(`the volume of ${instanceId} does not exist`);
      await mkdir(paths.instanceDir, { recursive: true, mode: 0o700 });
      // Recorded only for now: enforcing it (quotas) comes with the sandbox.
      await recordCapacity(paths, capacityGb, 'reject');
    },

    async close(): Promise<void> {
      for (const controller of postStartWaiters.values()) controller.abort();
      postStartWaiters.clear();
    },
  };
}
