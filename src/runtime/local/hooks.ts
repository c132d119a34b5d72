// Start hooks: COMMAND (base64 of a shell script, run by /bin/sh -c) or SCRIPT (an absolute path).
// BLOCK hooks are waited for and fail the start; background ones (ASYNC, and every post_start)
// run detached with their output in hooks.log, so they survive a notebookd restart like the server.
import { spawn } from 'node:child_process';
import { appendFile, open, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { HookSpec } from '../../domain/notebook.ts';
import { readTail } from './file-tail.ts';
import { readProcStat } from './process-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';
import { terminate } from './terminate.ts';

export type HookPhase = 'pre_start' | 'post_start';

export interface HookRun {
  phase: HookPhase;
  hook: HookSpec;
  cwd: string;
  env: Record<string, string>;
  logPath: string;
  /** Puts the hook where the instance runs (its cgroup, its sandbox); identity when absent. */
  wrap?: (argv: string[]) => { command: string; args: string[] };
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Decodes a COMMAND hook's script. Pure. */
export function decodeCommandScript(script: string): string {
  const compact = script.replace(/\s+/g, '');
  const decoded = BASE64.test(compact) && compact.length % 4 !== 1 ? Buffer.from(compact, 'base64').toString('utf8') : '';
  if (!decoded.trim()) throw new Error('hook COMMAND script must be a non-empty base64-encoded shell script');
  return decoded;
}

// A SCRIPT path is resolved where the hook runs (inside the sandbox: /home/ma-user/work/setup.sh),
// so the check is made by a shell there rather than by notebookd on the host.
const RUN_SCRIPT = [
  'p=$1',
  '[ -f "$p" ] || { echo "hook script $p does not exist" >&2; exit 127; }',
  '[ -x "$p" ] && exec "$p"',
  'exec /bin/sh "$p"',
].join('\n');

/** The argv of a hook; a SCRIPT that is not executable is handed to /bin/sh. Pure. */
export function hookArgv(hook: HookSpec): string[] {
  if (hook.type === 'COMMAND') return ['/bin/sh', '-c', decodeCommandScript(hook.script)];
  if (!isAbsolute(hook.script)) throw new Error(`hook SCRIPT path must be absolute: ${JSON.stringify(hook.script)}`);
  return ['/bin/sh', '-c', RUN_SCRIPT, 'notebookd-hook', hook.script];
}

function describe(run: HookRun): string {
  return `${run.phase} hook (${run.hook.type}, ${run.hook.mode})`;
}

function outcome(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
}

async function spawnHook(run: HookRun, detachedForever: boolean) {
  const argv = hookArgv(run.hook);
  const { command, args } = run.wrap ? run.wrap(argv) : { command: argv[0]!, args: argv.slice(1) };
  await appendFile(run.logPath, `--- ${new Date().toISOString()} ${describe(run)} ---\n`);
  const offset = (await stat(run.logPath)).size;
  const log = await open(run.logPath, 'a');
  try {
    // Own process group, so that a timeout or a stop can kill the hook with its children.
    const child = spawn(command, args, { cwd: run.cwd, env: run.env, detached: true, stdio: ['ignore', log.fd, log.fd] });
    if (detachedForever) child.unref();
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    await spawned;
    return { child, exited, offset };
  } finally {
    await log.close();
  }
}

/** Runs a BLOCK hook to completion; rejects naming the hook, its exit code and its last output lines. */
export async function runBlockingHook(run: HookRun, timeoutMs: number): Promise<void> {
  const { child, exited, offset } = await spawnHook(run, false);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const result = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') {
    const stat = child.pid ? await readProcStat(child.pid) : null;
    if (stat) await terminate({ pid: stat.pid, startTime: stat.startTime }, 1_000);
    await appendFile(run.logPath, `--- ${run.phase} hook timed out after ${timeoutMs} ms ---\n`);
    throw new Error(`${describe(run)} timed out after ${timeoutMs} ms`);
  }
  await appendFile(run.logPath, `--- ${run.phase} hook ended with ${outcome(result.code, result.signal)} ---\n`);
  if (result.code === 0) return;
  const tail = await readTail(run.logPath, { fromOffset: offset });
  throw new Error(`${describe(run)} failed with ${outcome(result.code, result.signal)}${tail ? `; last output:\n${tail}` : ''}`);
}

/**
 * Starts a hook in the background. Resolves with its identity once it runs; `onExit` is called if
 * this notebookd process is still alive when the hook ends.
 */
export async function launchBackgroundHook(
  run: HookRun,
  onExit?: (message: string, ok: boolean) => void,
): Promise<ProcessIdentity | null> {
  const { child, exited } = await spawnHook(run, true);
  void exited.then(async ({ code, signal }) => {
    const message = `${run.phase} hook ended with ${outcome(code, signal)}`;
    await appendFile(run.logPath, `--- ${message} ---\n`).catch(() => {});
    onExit?.(message, code === 0);
  });
  const stat = child.pid ? await readProcStat(child.pid) : null;
  return stat ? { pid: stat.pid, startTime: stat.startTime } : null;
}
