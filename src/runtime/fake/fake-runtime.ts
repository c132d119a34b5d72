// The fake runtime, for tests: instances are in memory, but each running one serves a real HTTP
// server (fake-server.ts) so readiness probes, the proxy and activity polling run for real.
// Misbehaviour is switched on by options (slow, never ready, crashing, flaky, failing prepare,
// stop that hangs); state lives in a registry that a second fake may share ("adoption" after a
// notebookd restart).
import type { Clock } from '../../clock.ts';
import { systemClock } from '../../clock.ts';
import type { ImageProgram } from '../../domain/catalog.ts';
import type { HookSpec } from '../../domain/notebook.ts';
import type { Availability, InstanceSpec, Launched, PollResult, PrepareStep, ProgressReporter, Runtime, RuntimeHandle } from '../runtime.ts';
import { defaultFakeHookRunner } from './fake-hooks.ts';
import type { FakeHookPhase, FakeHookResult, FakeHookRunner } from './fake-hooks.ts';
import { startFakeServer } from './fake-server.ts';
import { createFakeExec } from './fake-exec.ts';
import type { FakeKernel, FakeServer, FakeTerminal } from './fake-server.ts';

export type { FakeKernel, FakeTerminal } from './fake-server.ts';
export type { FakeHookRunner, FakeHookResult, FakeHookPhase } from './fake-hooks.ts';
export { interpretScript, defaultFakeHookRunner } from './fake-hooks.ts';

/** One launch of an instance: the fake's process, with `generation` as its pid-and-start-time. */
export interface FakeRun {
  generation: number;
  instanceId: string;
  spec: InstanceSpec;
  server: FakeServer;
  port: number;
  state: 'running' | 'exited';
  exitCode: number | null;
  reason: string;
  /** Set on a run that exited as though its port had been taken: why another launch would work. */
  retryable?: string;
  /** Clock time from which api/status answers 200 (Infinity: never). */
  readyAt: number;
  kernels: FakeKernel[];
  terminals: FakeTerminal[];
  /** What sample() reports: CPU seconds used so far and resident memory. */
  cpuSeconds: number;
  memoryBytes: number;
  startedAt: number;
  /** Aborts the crash timer and wakes hanging stops. */
  ended: AbortController;
}

export interface FakeInstance {
  instanceId: string;
  capacityGb: number;
  /** The volume: path (no leading '/') → text. */
  files: Map<string, string>;
  /** Generation of the latest run, if any. */
  currentRun: number | null;
  startCount: number;
  /** Each hook run: phase, exit code and output. */
  hookLog: { phase: FakeHookPhase; exitCode: number; output: string }[];
}

/** Shared state: pass the same registry to a second fake to model a restarted notebookd. */
export interface FakeRegistry {
  instances: Map<string, FakeInstance>;
  runs: Map<number, FakeRun>;
  nextGeneration: number;
}

export function createFakeRegistry(): FakeRegistry {
  return { instances: new Map(), runs: new Map(), nextGeneration: 1 };
}

export interface FakeOptions {
  registry?: FakeRegistry;
  /** Default 'fake'. */
  kind?: string;
  /** Delays, readiness and crash timers run on this clock (a FakeClock makes them deterministic). */
  clock?: Clock;
  /** slow: prepare spends this long in step 1 (storage). */
  prepareDelayMs?: number;
  /** slow: start spends this long before launching. */
  startDelayMs?: number;
  /** api/status answers 503 until this long after launch. Default 0. */
  readyAfterMs?: number;
  /** never ready: api/status never answers 200. */
  neverReady?: boolean;
  /** crashing: each run exits with crashExitCode this long after launch. */
  crashAfterMs?: number;
  /** Default 1. */
  crashExitCode?: number;
  /** flaky: the first k calls to start() (of this runtime object) throw. */
  failStarts?: number;
  /** port taken: the first k runs exit at once, as a server whose port another process bound first. */
  portTakenRuns?: number;
  /** failing prepare: this step reports PROCESSING, then prepare throws. */
  failPrepare?: { step: PrepareStep; message?: string };
  /** stop(handle, graceMs > 0) never returns (the instance ignores it) until forced: stop(handle, 0) or releaseStops(). */
  stopHangs?: boolean;
  /** checkImage says these are not installed; prepare and start refuse them. */
  unavailablePrograms?: ImageProgram[];
  hookRunner?: FakeHookRunner;
}

/** The misbehaving fakes by name, to spread into FakeOptions: createFakeRuntime({ ...fakeVariants.crashing(5_000), clock }). */
export const fakeVariants = {
  slow: (ms: number): FakeOptions => ({ prepareDelayMs: ms, startDelayMs: ms }),
  neverReady: (): FakeOptions => ({ neverReady: true }),
  crashing: (afterMs: number, exitCode = 1): FakeOptions => ({ crashAfterMs: afterMs, crashExitCode: exitCode }),
  flaky: (failingStarts: number): FakeOptions => ({ failStarts: failingStarts }),
  portTaken: (runs: number): FakeOptions => ({ portTakenRuns: runs }),
  failingPrepare: (step: PrepareStep = 1, message?: string): FakeOptions => ({ failPrepare: { step, message } }),
  hangingStop: (): FakeOptions => ({ stopHangs: true }),
} as const;

export interface FakeHandle {
  kind: 'fake';
  instanceId: string;
  generation: number;
  port: number;
}

export interface FakeCall {
  method: 'checkImage' | 'prepare' | 'start' | 'stop' | 'poll' | 'destroy' | 'resizeVolume';
  instanceId: string | null;
  at: number;
  graceMs?: number;
}

export interface FakeRuntime extends Runtime {
  readonly registry: FakeRegistry;
  /** Every contract call made on this object, in order. */
  readonly calls: FakeCall[];
  /** The instance's latest run, or null. */
  currentRun(instanceId: string): FakeRun | null;
  instance(instanceId: string): FakeInstance | null;
  /** Makes the instance's running server exit now, as a crash would. */
  crash(instanceId: string, exitCode?: number): Promise<void>;
  /** Overrides readiness of the running server (true: 200 from now on; false: 503). */
  setReady(instanceId: string, ready: boolean): void;
  /** The list GET api/kernels answers (e.g. one kernel busy, for activity tests). */
  setKernels(instanceId: string, kernels: FakeKernel[]): void;
  /** The list GET api/terminals answers. */
  setTerminals(instanceId: string, terminals: FakeTerminal[]): void;
  /** Adds CPU time to the running server, as a computation would (sample() reports the total). */
  burnCpu(instanceId: string, seconds: number): void;
  writeFile(instanceId: string, path: string, content: string): void;
  readFile(instanceId: string, path: string): string | undefined;
  volumeExists(instanceId: string): boolean;
  /** Lets every hanging stop (stopHangs) finish: the instances stop. */
  releaseStops(): Promise<void>;
  /** Ends every running instance in the registry (test cleanup; not part of the contract). */
  killAll(): Promise<void>;
}

/** A kernel record as Jupyter lists it. */
export function fakeKernel(id: string, state: FakeKernel['execution_state'] = 'idle', lastActivityAt = Date.now()): FakeKernel {
  return { id, name: 'python3', last_activity: new Date(lastActivityAt).toISOString(), execution_state: state, connections: 0 };
}

function parseHandle(handle: RuntimeHandle): FakeHandle | null {
  const h = handle as Partial<FakeHandle>;
  if (h.kind !== 'fake' || typeof h.instanceId !== 'string' || !Number.isInteger(h.generation)) return null;
  return h as FakeHandle;
}

export function createFakeRuntime(opts: FakeOptions = {}): FakeRuntime {
  const registry = opts.registry ?? createFakeRegistry();
  const clock = opts.clock ?? systemClock;
  const hookRunner = opts.hookRunner ?? defaultFakeHookRunner;
  const unavailable = new Set(opts.unavailablePrograms ?? []);
  const calls: FakeCall[] = [];
  let startAttempts = 0;
  let portTakenRuns = 0;
  const hangingStops = new Set<() => void>();
  const execs = createFakeExec();

  const record = (method: FakeCall['method'], instanceId: string | null, extra: Partial<FakeCall> = {}) =>
    calls.push({ method, instanceId, at: clock.now(), ...extra });

  function runOf(handle: RuntimeHandle): FakeRun | null {
    const h = parseHandle(handle);
    const run = h ? registry.runs.get(h.generation) : undefined;
    // A generation that names another instance is a forged or recycled identity: not ours.
    return run && run.instanceId === h?.instanceId ? run : null;
  }

  function current(instanceId: string): FakeRun | null {
    const generation = registry.instances.get(instanceId)?.currentRun;
    return generation ? (registry.runs.get(generation) ?? null) : null;
  }

  async function end(run: FakeRun, exitCode: number | null, reason: string): Promise<void> {
    if (run.state !== 'running') return;
    run.state = 'exited';
    run.exitCode = exitCode;
    run.reason = reason;
    run.ended.abort();
    await run.server.close();
  }

  function availability(program: ImageProgram): Availability {
    if (unavailable.has(program)) {
      return { available: false, message: `fake: ${program} is not installed on this host; install it with: apt-get install fake-${program}` };
    }
    return { available: true, message: `fake: ${program} is available` };
  }

  async function runHook(instance: FakeInstance, phase: FakeHookPhase, hook: HookSpec): Promise<FakeHookResult> {
    const result = await hookRunner(phase, hook, instance.files);
    instance.hookLog.push({ phase, ...result });
    return result;
  }

  async function stop(handle: RuntimeHandle, graceMs: number): Promise<void> {
    record('stop', parseHandle(handle)?.instanceId ?? null, { graceMs });
    const run = runOf(handle);
    if (!run || run.state !== 'running') return;
    if (opts.stopHangs && graceMs > 0) {
      // The instance ignores the polite request; only a forced stop or releaseStops() ends this.
      await new Promise<void>((resolve) => {
        if (run.ended.signal.aborted) return resolve();
        const release = () => {
          hangingStops.delete(release);
          resolve();
        };
        hangingStops.add(release);
        run.ended.signal.addEventListener('abort', release, { once: true });
      });
      return end(run, 137, 'fake jupyter was killed');
    }
    // A polite stop ends it cleanly; a forced one (graceMs <= 0) kills it, waking any hanging stop.
    await end(run, graceMs > 0 ? 0 : 137, graceMs > 0 ? 'fake jupyter exited with code 0' : 'fake jupyter was killed');
  }

  const runtime: FakeRuntime = {
    kind: opts.kind ?? 'fake',
    registry,
    calls,

    async checkImage(program) {
      record('checkImage', null);
      return availability(program);
    },

    async prepare(spec: InstanceSpec, report: ProgressReporter) {
      record('prepare', spec.instanceId);
      const failAt = opts.failPrepare;
      const step = async (n: PrepareStep, work: () => void | Promise<void>) => {
        await report(n, 'PROCESSING');
        if (failAt?.step === n) throw new Error(failAt.message ?? `fake: prepare step ${n} failed`);
        await work();
        await report(n, 'COMPLETED');
      };
      await step(1, async () => {
        if (opts.prepareDelayMs) await clock.sleep(opts.prepareDelayMs);
        const existing = registry.instances.get(spec.instanceId);
        if (existing) existing.capacityGb = Math.max(existing.capacityGb, spec.capacityGb);
        else {
          registry.instances.set(spec.instanceId, {
            instanceId: spec.instanceId,
            capacityGb: spec.capacityGb,
            files: new Map(),
            currentRun: null,
            startCount: 0,
            hookLog: [],
          });
        }
      });
      await step(2, () => {
        const a = availability(spec.program);
        if (!a.available) throw new Error(a.message);
      });
      await step(3, () => {});
    },

    async start(spec: InstanceSpec): Promise<Launched> {
      record('start', spec.instanceId);
      startAttempts += 1;
      if (opts.failStarts && startAttempts <= opts.failStarts) {
        throw new Error(`fake: start attempt ${startAttempts} of the first ${opts.failStarts} fails (flaky)`);
      }
      if (!/^\/(?:[^/]+\/)*$/.test(spec.basePath)) throw new Error(`basePath ${JSON.stringify(spec.basePath)} must start and end with '/'`);
      if (spec.jupyterToken.length < 8) throw new Error('jupyterToken must be at least 8 characters');
      const instance = registry.instances.get(spec.instanceId);
      if (!instance) throw new Error(`the volume of ${spec.instanceId} does not exist; prepare the instance first`);
      const a = availability(spec.program);
      if (!a.available) throw new Error(a.message);
      if (opts.startDelayMs) await clock.sleep(opts.startDelayMs);

      // A run left over from an earlier start holds a stale token: it goes first.
      const leftover = current(spec.instanceId);
      if (leftover) await end(leftover, 137, 'fake jupyter was replaced by a new start');

      const pre = spec.hooks?.preStart;
      if (pre) {
        const result = await runHook(instance, 'pre_start', pre);
        if (pre.mode === 'BLOCK' && result.exitCode !== 0) {
          const tail = result.output.trimEnd().split('\n').slice(-10).join('\n');
          throw new Error(`pre_start hook (${pre.type}, BLOCK) failed with exit code ${result.exitCode}${tail ? `; last output:\n${tail}` : ''}`);
        }
      }

      const generation = registry.nextGeneration++;
      const startedAt = clock.now();
      const readyAt = opts.neverReady ? Infinity : startedAt + (opts.readyAfterMs ?? 0);
      let run: FakeRun | undefined;
      const server = await startFakeServer({
        basePath: spec.basePath,
        token: spec.jupyterToken,
        isReady: () => clock.now() >= (run?.readyAt ?? readyAt),
        get kernels() {
          return run?.kernels ?? [];
        },
        get terminals() {
          return run?.terminals ?? [];
        },
        files: instance.files,
        startedAt: new Date(startedAt).toISOString(),
        lastActivityAt: new Date(startedAt).toISOString(),
      });
      run = {
        generation,
        instanceId: spec.instanceId,
        spec,
        server,
        port: server.port,
        state: 'running',
        exitCode: null,
        reason: '',
        readyAt,
        kernels: [],
        terminals: [],
        cpuSeconds: 0,
        memoryBytes: 64 << 20,
        startedAt,
        ended: new AbortController(),
      };
      registry.runs.set(generation, run);
      instance.currentRun = generation;
      instance.startCount += 1;

      const launched = run;
      if (opts.portTakenRuns && portTakenRuns < opts.portTakenRuns) {
        portTakenRuns += 1;
        launched.retryable = `port ${server.port} was taken before the server could listen on it`;
        await end(launched, 1, `fake jupyter exited with code 1: The port ${server.port} is already in use.`);
      }
      if (opts.crashAfterMs !== undefined) {
        const code = opts.crashExitCode ?? 1;
        void clock.sleep(opts.crashAfterMs, launched.ended.signal).then(() =>
          end(launched, code, `fake jupyter exited with code ${code} (crashAfterMs)`),
        );
      }
      const post = spec.hooks?.postStart;
      if (post) void Promise.resolve().then(() => runHook(instance, 'post_start', post)).catch(() => {});

      const handle: FakeHandle = { kind: 'fake', instanceId: spec.instanceId, generation, port: server.port };
      return {
        handle: { ...handle },
        target: { origin: `http://127.0.0.1:${server.port}`, basePath: spec.basePath, jupyterToken: spec.jupyterToken },
      };
    },

    stop,

    async poll(handle): Promise<PollResult> {
      record('poll', parseHandle(handle)?.instanceId ?? null);
      const run = runOf(handle);
      if (!run) return { state: 'lost', reason: 'fake: no such process (unknown or recycled handle)' };
      if (run.state === 'running') return { state: 'running' };
      return { state: 'exited', exitCode: run.exitCode, reason: run.reason, ...(run.retryable && { retryable: run.retryable }) };
    },

    async destroy(instanceId) {
      record('destroy', instanceId);
      const run = current(instanceId);
      if (run) await end(run, 137, 'fake jupyter was killed (instance destroyed)');
      registry.instances.delete(instanceId);
      await execs.cleanup(instanceId);
    },

    // fake-exec.ts: real processes in a temporary directory, for the SSH gateway's tests.
    async exec(handle, req) {
      const run = runOf(handle);
      if (!run || run.state !== 'running') throw new Error('fake: cannot exec in an instance that is not running');
      return execs.exec(run.instanceId, req);
    },
    async listeningPorts(handle) {
      const run = runOf(handle);
      if (!run || run.state !== 'running') return [];
      return [run.port, ...(await execs.ports(run.instanceId))];
    },

    async sample(handle) {
      const run = runOf(handle);
      return run && run.state === 'running' ? { cpuSeconds: run.cpuSeconds, memoryBytes: run.memoryBytes, processes: 1 + run.kernels.length } : null;
    },

    async resizeVolume(instanceId, capacityGb) {
      record('resizeVolume', instanceId);
      const instance = registry.instances.get(instanceId);
      if (!instance) throw new Error(`the volume of ${instanceId} does not exist`);
      if (capacityGb < instance.capacityGb) throw new Error(`the volume cannot shrink from ${instance.capacityGb} GB to ${capacityGb} GB`);
      instance.capacityGb = capacityGb;
    },

    async close() {},

    currentRun: current,
    instance: (instanceId) => registry.instances.get(instanceId) ?? null,

    async crash(instanceId, exitCode = 1) {
      const run = current(instanceId);
      if (!run || run.state !== 'running') throw new Error(`fake: ${instanceId} is not running`);
      await end(run, exitCode, `fake jupyter exited with code ${exitCode}`);
    },

    setReady(instanceId, ready) {
      const run = current(instanceId);
      if (!run) throw new Error(`fake: ${instanceId} has never started`);
      run.readyAt = ready ? -Infinity : Infinity;
    },

    setKernels(instanceId, kernels) {
      const run = current(instanceId);
      if (!run) throw new Error(`fake: ${instanceId} has never started`);
      run.kernels = kernels;
    },

    setTerminals(instanceId, terminals) {
      const run = current(instanceId);
      if (!run) throw new Error(`fake: ${instanceId} has never started`);
      run.terminals = terminals;
    },

    burnCpu(instanceId, seconds) {
      const run = current(instanceId);
      if (!run) throw new Error(`fake: ${instanceId} has never started`);
      run.cpuSeconds += seconds;
    },

    writeFile(instanceId, path, content) {
      const instance = registry.instances.get(instanceId);
      if (!instance) throw new Error(`the volume of ${instanceId} does not exist`);
      instance.files.set(path.replace(/^\/+/, ''), content);
    },

    readFile: (instanceId, path) => registry.instances.get(instanceId)?.files.get(path.replace(/^\/+/, '')),
    volumeExists: (instanceId) => registry.instances.has(instanceId),

    async releaseStops() {
      for (const release of [...hangingStops]) release();
      await new Promise<void>((resolve) => setImmediate(resolve));
    },

    async killAll() {
      for (const run of registry.runs.values()) await end(run, 137, 'fake jupyter was killed (killAll)');
      await execs.cleanup();
    },
  };

  return runtime;
}
