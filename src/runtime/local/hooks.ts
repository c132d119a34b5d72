// Start hooks: COMMAND (base64 of a shell script, run by /bin/sh -c) or SCRIPT (an absolute path).
// BLOCK hooks are waited for and fail the start; background ones (ASYNC, and every post_start)
// run detached with their output in hooks.log, so they survive a notebookd restart like the server.
import { spawn } from 'node:child_process';
import { access, appendFile, constants, open, stat } from 'node:fs/promises';
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
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Decodes a COMMAND hook's script. Pure. */
export function decodeCommandScript(script: string): string {
  const compact = script.replace(/\s+/g, '');
  const decoded = BASE64.test(compact) && compact.length % 4 !== 1 ? Buffer.from(compact, 'base64').toString('utf8') : '';
  if (!decoded.trim()) throw new Error('hook COMMAND script must be a non-empty base64-encoded shell script');
  return decoded;
}

/** The argv of a hook; a SCRIPT that is not executable is handed to /bin/sh. */
export async function hookCommand(hook: HookSpec): Promise<{ command: string; args: string[] }> {
  if (hook.type === 'COMMAND') return { command: '/bin/sh', args: ['-c', decodeCommandScript(hook.script)] };
  if (!isAbsolute(hook.script)) throw new Error(`hook SCRIPT path must be absolute: ${JSON.stringify(hook.script)}`);
  const info = await stat(hook.script).catch(() => null);
  if (!info?.isFile()) throw new Error(`hook script ${hook.script} does not exist`);
  const executable = await access(hook.script, constants.X_OK).then(
    () => true,
    () => false,
  );
  return executable ? { command: hook.script, args: [] } : { command: '/bin/sh', args: [hook.script] };
}

function describe(run: HookRun): string {
  return `${run.phase} hook (${run.hook.type}, ${run.hook.mode})`;
}

function outcome(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
}

async function spawnHook(run: HookRun, detachedForever: boolean) {
  const { command, args } = await hookCommand(run.hook);
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
