// Running an instance inside a bubblewrap sandbox (command lines in sandbox-argv.ts): detecting
// whether the host can, giving each instance a host uid of its own, and spawning the sandbox
// with its init's identity read from bwrap's --info-fd.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chown, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { readJson, writeJson } from './json-file.ts';
import { descendants, readProcStat } from './process-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';
import { terminateSandbox } from './terminate.ts';
import { SANDBOX, sandboxGroup, sandboxHosts, sandboxLaunch, sandboxPasswd } from './sandbox-argv.ts';
import type { LaunchChainInput, RootEntry, SandboxFds } from './sandbox-argv.ts';

export type SandboxMode = 'auto' | 'on' | 'off';

export interface SandboxSupport {
  available: boolean;
  /** How instances are isolated here, or why they are not. */
  message: string;
}

/** The fds a sandbox launch uses (sh handles 3..9; the staging script takes 9 for itself). */
export const SANDBOX_FDS: SandboxFds = { info: 3, gate: 4, token: 5, passwd: 6, group: 7, hosts: 8 };

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isRoot = () => process.getuid?.() === 0;

/** The host uid and gid an instance's sandbox user maps to. */
export interface HostIds {
  uid: number;
  gid: number;
}

export interface SandboxFiles {
  token: string;
  hostname: string;
}

export interface SpawnedSandbox {
  child: ChildProcess;
  /** The sandbox's init (pid 1 inside): the instance lives exactly as long as it does. */
  init: ProcessIdentity;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Lets the server start (after BLOCK pre_start hooks). */
  openGate(): void;
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** Top-level entries of / the sandbox re-creates: symlinks on merged-/usr hosts, read-only binds otherwise. */
export async function hostRootEntries(): Promise<RootEntry[]> {
  const out: RootEntry[] = [];
  for (const path of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    const info = await lstat(path).catch(() => null);
    if (!info) continue;
    if (info.isSymbolicLink()) out.push({ path, symlink: await readlink(path) });
    else if (info.isDirectory()) out.push({ path });
  }
  return out;
}

async function hostFile(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

function writeAndClose(stream: unknown, content: string): void {
  const w = stream as Writable | null;
  if (!w) return;
  w.on('error', () => {}); // bwrap died before reading: the exit is reported instead
  w.end(content);
}

/**
 * Spawns a sandbox (detached: its own session, outliving notebookd) whose server waits at the
 * gate. Resolves once bwrap reports the init's pid; rejects with bwrap's complaint if it fails.
 */
export async function spawnSandbox(opts: {
  chain: Omit<LaunchChainInput, 'bwrap'> & { bwrap: Omit<LaunchChainInput['bwrap'], 'fds'> };
  files: SandboxFiles;
  /** Where stdout and stderr go (the server's log). */
  outputFd: number | 'ignore';
  env: Record<string, string>;
  timeoutMs?: number;
  /**
   * Nothing needs to enter the sandbox before its command runs (no pre_start hook): the gate
   * opens at once and the spawn returns as soon as the init is known, without waiting for
   * the gate to run (a sandbox that fails later exits, and poll reports it with the log).
   */
  openAtOnce?: boolean;
}): Promise<SpawnedSandbox> {
  const launch = sandboxLaunch({ ...opts.chain, bwrap: { ...opts.chain.bwrap, fds: SANDBOX_FDS } });
  const [passwd, group, hosts] = await Promise.all([hostFile('/etc/passwd'), hostFile('/etc/group'), hostFile('/etc/hosts')]);
  const child = spawn(launch.command, launch.args, {
    cwd: '/',
    env: opts.env,
    detached: true,
    stdio: ['ignore', opts.outputFd, opts.outputFd, 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
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
  const stdio = child.stdio as unknown as (Writable & NodeJS.ReadableStream)[];
  writeAndClose(stdio[SANDBOX_FDS.token], opts.files.token);
  writeAndClose(stdio[SANDBOX_FDS.passwd], sandboxPasswd(passwd));
  writeAndClose(stdio[SANDBOX_FDS.group], sandboxGroup(group));
  writeAndClose(stdio[SANDBOX_FDS.hosts], sandboxHosts(hosts, opts.files.hostname));
  const gate = stdio[SANDBOX_FDS.gate]!;
  gate.on('error', () => {});
  if (opts.openAtOnce) gate.end('go\n');
  const info = stdio[SANDBOX_FDS.info]!;
  let infoText = '';
  info.on('data', (chunk: Buffer) => (infoText += chunk.toString('utf8')));
  // Unref'd handles: a notebookd that exits must not wait for a sandbox.
  for (const s of stdio) (s as unknown as { unref?: () => void } | null)?.unref?.();

  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let initPid: number | null = null;
  while (initPid === null) {
    const m = /"child-pid"\s*:\s*(\d+)/.exec(infoText);
    if (m) initPid = Number(m[1]);
    else if (exit) break;
    else if (Date.now() > deadline) break;
    else await delay(5);
  }
  const stat = initPid ? await readProcStat(initPid) : null;
  if (!initPid || !stat) {
    gate.destroy();
    if (!exit) child.kill('SIGKILL');
    const ended = await Promise.race([exited, delay(1_000).then(() => null)]);
    const how = ended ? (ended.code !== null ? `exit code ${ended.code}` : `signal ${ended.signal}`) : 'no answer';
    throw new Error(`the sandbox did not start (${how})`);
  }
  // bwrap reports the init's pid before it has written the user namespace's id maps and made
  // the mounts; the sandbox is ready to be entered once its command (the gate) runs.
  const init = { pid: stat.pid, startTime: stat.startTime };
  while (!opts.openAtOnce && !(await gateRunning(init.pid))) {
    if (exit || Date.now() > deadline) {
      gate.destroy();
      if (!exit) await terminateSandbox(init, 0).catch(() => {});
      throw new Error(`the sandbox did not start (${exit ? `exit code ${(exit as { code: number | null }).code}` : 'its command never ran'})`);
    }
    await delay(5);
  }
  return {
    child,
    init,
    exited,
    openGate() {
      if (!opts.openAtOnce) gate.end('go\n');
    },
  };
}

async function gateRunning(initPid: number): Promise<boolean> {
  for (const child of await descendants(initPid)) {
    const argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[3] === 'notebookd-gate') return true;
  }
  return false;
}

/**
 * Whether sandboxes work here: bwrap must exist and a real (tiny) sandbox must start and exit 0,
 * through the same launch chain instances use.
 */
export async function probeSandbox(opts: { mode: SandboxMode; bwrapPath: string; uidBase: number }): Promise<SandboxSupport> {
  if (opts.mode === 'off') {
    return { available: false, message: 'the sandbox is switched off (localRuntime.sandbox = off): instances run as notebookd\'s user, without isolation' };
  }
  const install = 'install it with: apt-get install bubblewrap';
  if (!(await executable(opts.bwrapPath))) {
    return { available: false, message: `bubblewrap is not installed (${opts.bwrapPath} not found): instances run WITHOUT a sandbox; ${install}` };
  }
  if (!isRoot()) {
    return {
      available: false,
      message: 'the sandbox needs notebookd to run as root (to give each instance a host uid of its own and enter its namespaces): instances run WITHOUT a sandbox',
    };
  }
  for (const tool of ['/usr/bin/nsenter', '/usr/bin/unshare', '/usr/bin/setpriv']) {
    if (!(await executable(tool))) return { available: false, message: `${tool} (util-linux) is missing: instances run WITHOUT a sandbox` };
  }
  const scratch = await mkdtemp(join(tmpdir(), 'notebookd-sandbox-probe-'));
  try {
    const hostIds = { uid: opts.uidBase, gid: opts.uidBase };
    await chown(scratch, hostIds.uid, hostIds.gid);
    const spawned = await spawnSandbox({
      chain: {
        cgroupProcs: [],
        volumeDir: scratch,
        hostIds,
        bwrap: {
          bwrapPath: opts.bwrapPath,
          hostname: 'notebook-probe',
          rootEntries: await hostRootEntries(),
          tmpfsBytes: 1 << 20,
          command: ['/bin/sh', '-c', `test "$(id -u)" = ${SANDBOX.uid} && test -w ${SANDBOX.work}`],
        },
      },
      files: { token: 'probe', hostname: 'notebook-probe' },
      outputFd: 'ignore',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    });
    spawned.openGate();
    const ended = await Promise.race([spawned.exited, delay(15_000).then(() => null)]);
    if (!ended) {
      spawned.child.kill('SIGKILL');
      return { available: false, message: `bubblewrap at ${opts.bwrapPath} hung in a test sandbox: instances run WITHOUT a sandbox` };
    }
    if (ended.code !== 0) {
      return { available: false, message: `bubblewrap at ${opts.bwrapPath} cannot create a sandbox here (test sandbox ended with ${ended.code ?? ended.signal}): instances run WITHOUT a sandbox` };
    }
    return {
      available: true,
      message: `instances run in bubblewrap sandboxes (own mount, PID, IPC and UTS namespaces; ${SANDBOX.user} mapped to an unprivileged host uid of its own; volume at ${SANDBOX.work})`,
    };
  } catch (e) {
    return { available: false, message: `bubblewrap at ${opts.bwrapPath} cannot create a sandbox here (${(e as Error).message}): instances run WITHOUT a sandbox` };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

// ---- host uids: one per instance, remembered in instances/<id>/sandbox.json ----

const UID_SPAN = 60_000;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Uids held in each instances directory: every record read once, then kept by this process as it
 * allocates (a freed uid stays held: harmless). Choosing from it is synchronous, so allocations
 * need no queue: 20 creations at once used to take turns, each reading every record (~0.5 s).
 */
const heldUids = new Map<string, Promise<Set<number>>>();
/** Allocations under way, by record path: two prepares of one instance must get the same uid. */
const allocating = new Map<string, Promise<HostIds>>();

function held(instancesDir: string): Promise<Set<number>> {
  let taken = heldUids.get(instancesDir);
  if (!taken) {
    taken = (async () => {
      const ids = await readdir(instancesDir).catch(() => [] as string[]);
      const records = await Promise.all(ids.map((id) => readJson<HostIds>(join(instancesDir, id, 'sandbox.json'))));
      return new Set(records.filter((r) => r !== null).map((r) => r.uid));
    })();
    heldUids.set(instancesDir, taken);
  }
  return taken;
}

/**
 * The host uid (and gid) of an instance's sandbox user: base + a hash of the id, probing past
 * uids other instances of this data directory hold. Different data directories (two notebookd
 * on one host) should use different bases.
 */
export async function sandboxHostIds(instancesDir: string, instanceId: string, uidBase: number): Promise<HostIds> {
  const own = join(instancesDir, instanceId, 'sandbox.json');
  const pending = allocating.get(own);
  if (pending) return pending;
  const run = async (): Promise<HostIds> => {
    const existing = await readJson<HostIds>(own);
    if (existing && Number.isInteger(existing.uid) && Number.isInteger(existing.gid)) return existing;
    const taken = await held(instancesDir);
    let slot = fnv1a(instanceId) % UID_SPAN;
    while (taken.has(uidBase + slot)) slot = (slot + 1) % UID_SPAN;
    const ids = { uid: uidBase + slot, gid: uidBase + slot };
    taken.add(ids.uid);
    await mkdir(join(instancesDir, instanceId), { recursive: true, mode: 0o700 });
    await writeJson(own, ids, 0o644);
    return ids;
  };
  const next = run().finally(() => allocating.delete(own));
  allocating.set(own, next);
  return next;
}
