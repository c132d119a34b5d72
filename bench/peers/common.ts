// Shared by the three systems of bench/peers: polling with a deadline, ports, medians, and the
// processes this bench started (stopped by pid, never by name, also when the run fails).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { readProcStat } from '../../src/runtime/local/process-identity.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How often a client asks "ready yet?": the same for every system, so it costs each the same. */
export const POLL_MS = { single: 20, concurrent: 50 };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Thrown by a probe to end the wait at once (a failure, not "not yet"). */
export class Fatal extends Error {}

/** Polls `probe` every `everyMs` until it yields a value; throws after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch((e: unknown) => {
      if (e instanceof Fatal) throw e;
      return null;
    });
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** GET url with headers; true on 200 (redirects are answers, not followed). */
export async function answers200(url: string, headers: Record<string, string>): Promise<boolean> {
  const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  await res.arrayBuffer();
  return res.status === 200;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

// ---- processes this bench started ----

interface Started {
  child: ChildProcess;
  /** Detached children lead a process group: the whole group is signalled. */
  group: boolean;
  name: string;
}

const started = new Set<Started>();
const cleanups: (() => Promise<void>)[] = [];

export function track(name: string, command: string, args: string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(command, args, opts);
  const entry = { child, group: opts.detached === true, name };
  started.add(entry);
  child.once('exit', () => started.delete(entry));
  return child;
}

/** Sends `signal` to a tracked child (its group if detached); resolves when it has exited or after `waitMs`. */
export async function signalChild(child: ChildProcess, signal: NodeJS.Signals, waitMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const entry = [...started].find((s) => s.child === child);
  try {
    if (entry?.group && child.pid) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    /* gone meanwhile */
  }
  return Promise.race([exited.then(() => true), sleep(waitMs).then(() => false)]);
}

/** Registers work for the end of the run (and for an interrupted one), run last-registered first. */
export function atExit(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

let cleaning: Promise<void> | null = null;
export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: Error) => console.error(`cleanup: ${e.message}`));
    for (const s of started) {
      if (!(await signalChild(s.child, 'SIGTERM', 5_000))) await signalChild(s.child, 'SIGKILL', 2_000);
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping what the bench started`);
    void cleanUp().finally(() => process.exit(130));
  });
}
