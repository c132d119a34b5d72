// A real, throwaway PostgreSQL for tests. One server per test process (started lazily, stopped
// at exit), one fresh database per caller. NOTEBOOKD_TEST_DATABASE_URL points at an existing
// server instead. Failing to start is an error, never a skip: the PostgreSQL store must be tested.
import { execFileSync, spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  /** Connection URL of a new, empty database. */
  url: string;
  dropDatabase(): Promise<void>;
}

interface Server {
  /** URL of a maintenance database on the server, for CREATE/DROP DATABASE. */
  adminUrl: string;
}

let server: Promise<Server> | undefined;

/** A fresh database on the shared test server (started on first use). */
export async function startPostgres(): Promise<TestDatabase> {
  server ??= launch();
  const { adminUrl } = await server;
  const name = `nbtest_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dropDatabase: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  };
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function launch(): Promise<Server> {
  const external = process.env.NOTEBOOKD_TEST_DATABASE_URL;
  if (external) return { adminUrl: external };

  const bin = postgresBinDir();
  const root = makeScratchDir();
  const data = join(root, 'data');
  const log = join(root, 'server.log');
  // initdb refuses to run as root: run the server binaries as the postgres OS user then.
  const runAs: { uid?: number; gid?: number } = process.getuid?.() === 0 ? postgresUser() : {};
  if (runAs.uid !== undefined && runAs.gid !== undefined) chownSync(root, runAs.uid, runAs.gid);
  const opts: SpawnOptions = { ...runAs, cwd: root };

  const stop = once(() => {
    spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...opts, stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  });
  process.once('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }

  const init = await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], opts);
  if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}):\n${init.output}`);

  // The free port may be taken between probing and binding (other test processes do the same).
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    const serverOptions = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off`;
    const start = await run(join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', '-o', serverOptions, 'start'], opts);
    if (start.code === 0) return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres` };
    if (attempt === 3) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-20).join('\n') : '(no log)';
      throw new Error(`pg_ctl start failed (exit ${start.code}):\n${start.output}\n${tail}`);
    }
  }
}

/** On tmpfs when there is one: CREATE DATABASE creates a few hundred files, slow on a VM disk. */
function makeScratchDir(): string {
  try {
    return mkdtempSync('/dev/shm/notebookd-pg-');
  } catch {
    return mkdtempSync(join(tmpdir(), 'notebookd-pg-'));
  }
}

/** The bin directory of the newest PostgreSQL under /usr/lib/postgresql (Debian layout). */
function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) {
    throw new Error(`no PostgreSQL server binaries under ${base}; install postgresql or set NOTEBOOKD_TEST_DATABASE_URL`);
  }
  return join(base, versions[0], 'bin');
}

function postgresUser(): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new Error('running as root, but there is no postgres OS user to run initdb as', { cause: error });
  }
}

function run(command: string, args: string[], opts: SpawnOptions): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // pg_ctl leaves the server running with its output in the log file, so we wait for exit,
    // not for the pipes to close.
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
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

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
