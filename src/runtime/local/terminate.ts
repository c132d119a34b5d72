// Stopping a detached process tree: SIGTERM to its process group, a grace period, then SIGKILL.
// Every signal is preceded by an identity check, so a recycled pid is never signalled.
import { descendants, liveness } from './process-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';

const POLL_MS = 50;
/** After SIGKILL the kernel frees a process within milliseconds; past this something is badly wrong. */
const KILL_WAIT_MS = 5_000;

export interface TerminateResult {
  /** False when the process was already gone (or the pid belongs to someone else now). */
  signalled: boolean;
  /** True when the grace period ran out and SIGKILL was needed. */
  killed: boolean;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function isOurs(id: ProcessIdentity): Promise<boolean> {
  return (await liveness(id)).state === 'alive';
}

/** Signals the process group led by `id` (or, if it leads none, the process itself). */
export async function signalIdentity(id: ProcessIdentity, signal: NodeJS.Signals): Promise<boolean> {
  if (!(await isOurs(id))) return false;
  try {
    process.kill(-id.pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  // Not a group leader (should not happen for what we spawn detached): signal the process alone.
  try {
    process.kill(id.pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function waitGone(id: ProcessIdentity, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!(await isOurs(id))) return true;
    if (Date.now() >= deadline) return false;
    await delay(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

/** Resolves once the process is gone; idempotent for a dead or recycled pid. */
export async function terminate(id: ProcessIdentity, graceMs: number): Promise<TerminateResult> {
  if (!(await isOurs(id))) return { signalled: false, killed: false };
  const signalled = graceMs > 0 ? await signalIdentity(id, 'SIGTERM') : true;
  if (graceMs > 0 && (await waitGone(id, graceMs))) return { signalled, killed: false };
  // Collect the tree before the leader dies: once it does, its children are re-parented and
  // could no longer be told apart. Kernels run in sessions of their own, so the group kill
  // alone would miss them.
  const tree = await descendants(id.pid);
  await signalIdentity(id, 'SIGKILL');
  for (const child of tree) await signalIdentity(child, 'SIGKILL').catch(() => false);
  if (!(await waitGone(id, KILL_WAIT_MS))) throw new Error(`process ${id.pid} survived SIGKILL for ${KILL_WAIT_MS} ms`);
  return { signalled: true, killed: true };
}

/**
 * Stops a sandbox given its init (pid 1 of its PID namespace): SIGTERM to the init's children
 * (the Jupyter server, which shuts its kernels down), a grace period, then SIGKILL to the init,
 * upon which the kernel kills every process left in the namespace. The init itself ignores
 * SIGTERM (a namespace's init only gets the signals it handles).
 */
export async function terminateSandbox(init: ProcessIdentity, graceMs: number): Promise<TerminateResult> {
  if (!(await isOurs(init))) return { signalled: false, killed: false };
  if (graceMs > 0) {
    for (const child of await descendants(init.pid)) {
      const stat = await liveness(child);
      if (stat.state === 'alive' && stat.stat.ppid === init.pid) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          /* gone meanwhile */
        }
      }
    }
    if (await waitGone(init, graceMs)) return { signalled: true, killed: false };
  }
  if (!(await isOurs(init))) return { signalled: true, killed: false };
  try {
    process.kill(init.pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  if (!(await waitGone(init, KILL_WAIT_MS))) throw new Error(`sandbox init ${init.pid} survived SIGKILL for ${KILL_WAIT_MS} ms`);
  return { signalled: true, killed: true };
}
