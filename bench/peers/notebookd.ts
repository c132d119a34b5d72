// notebookd as users run it: the real binary (`bin/notebookd.js serve --runtime local`) with its
// defaults (bubblewrap sandbox, cgroup limits, an XFS image volume per instance where the host
// allows them; the run prints what it got), driven over its ModelArts API with a token. Ready
// means GET /nb/{id}/api/status through notebookd's proxy answers 200 with the instance token,
// as a user's client sees it. Stopped means STOPPED and the server's process gone.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killLeftoverServers, localHandleOf, readStoredNotebooks } from '../../test/support/notebookd-process.ts';
import { answers200, Fatal, freePort, isAlive, sleep, track, until } from './common.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = 'bea0bea0bea0bea0bea0bea0bea0bea0';
const IMAGE = '5b1f7c1e-8a7d-4c1e-9d2a-000000000001'; // classic notebook: the program JupyterHub's singleuser runs

export interface Notebookd {
  /** What the local runtime has on this host (sandbox, limits, storage), from its start-up log. */
  isolation: string;
  /** CreateNotebook → ready through the proxy; resolves the id and ms. */
  create(name: string, pollMs: number): Promise<{ id: string; ms: number }>;
  /** StartNotebook of a STOPPED instance → ready through the proxy; ms. */
  start(id: string, pollMs: number): Promise<number>;
  /** StopNotebook → STOPPED and the server process gone; ms. */
  stop(id: string, pollMs: number): Promise<number>;
  close(): Promise<void>;
}

/** `volumePoolSize`: localRuntime.volumePool.size (images of 5 GB, the bench's capacity); default: notebookd's default. */
export async function startNotebookd(dataDir: string, opts: { volumePoolSize?: number } = {}): Promise<Notebookd> {
  const token = `nbd_${randomBytes(24).toString('base64url')}`;
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NOTEBOOKD_')) env[k] = v;
  Object.assign(env, { NOTEBOOKD_BOOTSTRAP_PROJECT_ID: PROJECT, NOTEBOOKD_BOOTSTRAP_TOKEN: token, NOTEBOOKD_SSH_PORT: '0' });
  const args = ['bin/notebookd.js', 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'info', '--runtime', 'local'];
  if (opts.volumePoolSize !== undefined) {
    await mkdir(dataDir, { recursive: true });
    const file = join(dataDir, 'bench-config.json');
    await writeFile(file, JSON.stringify({ localRuntime: { volumePool: { size: opts.volumePoolSize } } }));
    args.push('--config', file);
  }
  const nbd = track('notebookd', process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const isolation: string[] = [];
  for (const s of [nbd.stdout!, nbd.stderr!]) {
    s.on('data', (c: Buffer) => {
      const text = c.toString();
      output = (output + text).slice(-8_000);
      for (const line of text.split('\n')) {
        // Only warnings and the runtime's capability lines are worth keeping at info level.
        const m = /"msg":"([^"]*(?:sandbox|cgroup|volume|limits)[^"]*)"/.exec(line);
        if (m && !isolation.includes(m[1]!) && isolation.length < 3) isolation.push(m[1]!);
      }
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const headers = { 'X-Auth-Token': token, 'content-type': 'application/json' };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/v1/${PROJECT}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  await until('notebookd /readyz', 60_000, 50, async () => {
    if (nbd.exitCode !== null) throw new Fatal(`notebookd exited with ${nbd.exitCode}:\n${output}`);
    return answers200(`${url}/readyz`, {});
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n${output}`);
  });

  const ready = (id: string, instanceToken: string, pollMs: number) =>
    until(`notebook ${id} through the proxy`, 180_000, pollMs, async () => {
      if (await answers200(`${url}/nb/${id}/api/status`, { Authorization: `token ${instanceToken}` })) return true;
      // A failure is an answer too: never wait out the deadline on it.
      const nb = await api('GET', `/notebooks/${id}`);
      if (/FAILED|ERROR/.test(nb.body.status)) throw new Fatal(`notebook ${id}: ${nb.body.status} ${nb.body.fail_reason}`);
      return false;
    });

  return {
    isolation: isolation.join('; '),
    async create(name, pollMs) {
      const began = Date.now();
      const res = await api('POST', '/notebooks', {
        name,
        flavor: 'modelarts.vm.cpu.2u',
        image_id: IMAGE,
        volume: { category: 'evs', ownership: 'managed', capacity: 5 },
        lease: { duration: 4 * 3_600_000, type: 'timing' },
      });
      if (res.status !== 200) throw new Error(`CreateNotebook answered ${res.status} ${JSON.stringify(res.body)}`);
      await ready(res.body.id, res.body.token, pollMs);
      return { id: res.body.id as string, ms: Date.now() - began };
    },
    async start(id, pollMs) {
      const began = Date.now();
      const res = await api('POST', `/notebooks/${id}/start`);
      if (res.status !== 200) throw new Error(`StartNotebook answered ${res.status} ${JSON.stringify(res.body)}`);
      await ready(id, res.body.token, pollMs);
      return Date.now() - began;
    },
    async stop(id, pollMs) {
      // The server's pid, to see it gone (the API does not show pids; the store does).
      const handle = localHandleOf(readStoredNotebooks(dataDir).find((n) => n.id === id)!);
      if (!handle) throw new Error(`notebook ${id} has no runtime handle`);
      const began = Date.now();
      const res = await api('POST', `/notebooks/${id}/stop`);
      if (res.status !== 200) throw new Error(`StopNotebook answered ${res.status} ${JSON.stringify(res.body)}`);
      await until(`notebook ${id} STOPPED`, 120_000, pollMs, async () => {
        const nb = await api('GET', `/notebooks/${id}`);
        if (/FAILED|ERROR/.test(nb.body.status)) throw new Fatal(`notebook ${id}: ${nb.body.status} ${nb.body.fail_reason}`);
        return nb.body.status === 'STOPPED' && !(await isAlive(handle.pid));
      });
      return Date.now() - began;
    },
    async close() {
      nbd.kill('SIGTERM');
      const deadline = Date.now() + 15_000;
      while (nbd.exitCode === null && nbd.signalCode === null && Date.now() < deadline) await sleep(50);
      if (nbd.exitCode === null && nbd.signalCode === null) nbd.kill('SIGKILL');
      // Servers outlive notebookd by design: stop them by their recorded pids, unmount and remove the volumes.
      await killLeftoverServers(dataDir);
    },
  };
}
