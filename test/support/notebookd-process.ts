// Runs the real `notebookd serve` binary as a child process, for tests that must kill it (SIGKILL)
// and start it again on the same data directory. It carries the same bootstrap credentials as the
// in-process harness (test/support/service.ts), so its ApiClient works unchanged.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import type { Notebook } from '../../src/domain/notebook.ts';
import { createLocalRuntime, parseLocalHandle, type LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { readProcStat } from '../../src/runtime/local/process-identity.ts';
import { terminate } from '../../src/runtime/local/terminate.ts';
import { AK, ApiClient, PROJECT, SK, TOKEN } from './service.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO_ROOT, 'bin', 'notebookd.js');

export interface NotebookdProcessOptions {
  dataDir: string;
  /** Written to <dataDir>/notebookd-test-config.json and passed as --config. */
  config?: Record<string, unknown>;
  /** Extra command-line arguments after `serve ...`. */
  args?: string[];
  /** Default local. */
  runtime?: 'local' | 'fake';
  readyTimeoutMs?: number;
}

export interface NotebookdProcess {
  url: string;
  pid: number;
  api: ApiClient;
  /** Resolves with the exit code or signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Epoch ms at which /readyz first answered 200. */
  readyAt: number;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the process wrote to stdout and stderr so far, for failure messages. */
  output(): string;
}

/** A port nothing listens on right now (the kernel picks it; a race with other programs is unlikely). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The environment without anything that would configure notebookd behind the test's back. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NOTEBOOKD_')) env[k] = v;
  return {
    ...env,
    NOTEBOOKD_BOOTSTRAP_PROJECT_ID: PROJECT,
    NOTEBOOKD_BOOTSTRAP_TOKEN: TOKEN,
    NOTEBOOKD_BOOTSTRAP_AK: AK,
    NOTEBOOKD_BOOTSTRAP_SK: SK,
    NOTEBOOKD_SSH_PORT: '0', // several notebookd processes run side by side
  };
}

export async function startNotebookd(opts: NotebookdProcessOptions): Promise<NotebookdProcess> {
  const port = await freePort();
  const args = [BIN, 'serve', '--port', String(port), '--data-dir', opts.dataDir, '--log-level', 'warn', '--runtime', opts.runtime ?? 'local'];
  if (opts.config) {
    const file = join(opts.dataDir, 'notebookd-test-config.json');
    await writeFile(file, JSON.stringify(opts.config, null, 2));
    args.push('--config', file);
  }
  args.push(...(opts.args ?? []));

  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 64_000) out = out.slice(-64_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
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
  const pid = child.pid!;
  const url = `http://127.0.0.1:${port}`;

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!exit) {
      try {
        process.kill(pid, signal);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    return exited;
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exit) throw new Error(`notebookd exited before it was ready (${JSON.stringify(exit)}); output:\n${out}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await kill('SIGKILL');
      throw new Error(`notebookd did not answer /readyz with 200 within ${opts.readyTimeoutMs ?? 30_000} ms; output:\n${out}`);
    }
    await delay(50);
  }

  return { url, pid, api: new ApiClient(url), exited, readyAt: Date.now(), kill, output: () => out };
}

// ---- Looking at what notebookd left behind: processes and the SQLite store ----

/** A live (not zombie) process with this pid; an orphaned server that was killed may stay a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** argv of a process, or [] when it is gone. */
export async function processArgv(pid: number): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter((a) => a.length > 0);
}

/** Every notebook record in <dataDir>/notebookd.db, read-only (notebookd may be running or dead). */
export function readStoredNotebooks(dataDir: string): Notebook[] {
  const file = join(dataDir, 'notebookd.db');
  if (!existsSync(file)) return [];
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT doc FROM notebooks').all() as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as Notebook);
  } finally {
    db.close();
  }
}

export function storedNotebook(dataDir: string, id: string): Notebook {
  const nb = readStoredNotebooks(dataDir).find((n) => n.id === id);
  if (!nb) throw new Error(`notebook ${id} is not in the store under ${dataDir}`);
  return nb;
}

/** The local runtime handle of a stored notebook, or null when it has none. */
export function localHandleOf(nb: Pick<Notebook, 'runtimeHandle'>): LocalHandle | null {
  if (!nb.runtimeHandle) return null;
  const h = parseLocalHandle(nb.runtimeHandle as Record<string, unknown>);
  if (typeof h === 'string') throw new Error(`not a local handle: ${h}`);
  return h;
}

/**
 * Stops every Jupyter server a test's notebookd left running: those whose handles the store
 * holds, then those the runtime recorded in instances/<id>/server.json. Each by pid and start
 * time (a recycled pid is never signalled), never by name.
 */
export async function killLeftoverServers(dataDir: string, extraHandles: LocalHandle[] = []): Promise<void> {
  const handles = [...extraHandles];
  try {
    for (const nb of readStoredNotebooks(dataDir)) {
      const h = nb.runtimeHandle ? parseLocalHandle(nb.runtimeHandle as Record<string, unknown>) : null;
      if (h && typeof h !== 'string') handles.push(h);
    }
  } catch {
    /* no readable store: the runtime's own records below still find the servers */
  }
  for (const h of handles) await terminate({ pid: h.pid, startTime: h.startTime }, 0).catch(() => {});
  const sweeper = createLocalRuntime({ dataDir });
  for (const id of await readdir(join(dataDir, 'instances')).catch(() => [] as string[])) {
    await sweeper.destroy(id).catch(() => {});
  }
}
