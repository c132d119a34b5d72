// IDLE leases with a real Jupyter server (the local runtime, Debian's classic notebook): a kernel
// busy with a long cell keeps the instance alive with no browser open and no traffic, and once the
// cell ends the instance stops for idleness; terminal input/output and process CPU (a silent
// computation started in a terminal, read from /proc) count too. Nothing here goes through the
// proxy: the kernel and terminal are driven straight on the server, so only the samplers can see them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { Notebook } from '../../src/domain/notebook.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { createBody, NOTEBOOK_IMAGE, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const IDLE_TIMEOUT_MS = 4_000;
const CELL_SECONDS = 14;
const SETUP_LEASE_MS = 120_000;
const JUPYTER_READY_MS = 30_000;

type Target = NonNullable<Notebook['runtimeTarget']>;

async function jupyter(target: Target, path: string, init: { method?: string; body?: unknown } = {}): Promise<any> {
  const res = await fetch(`${target.origin}${target.basePath}${path}`, {
    method: init.method ?? 'GET',
    headers: { Authorization: `token ${target.jupyterToken}`, ...(init.body !== undefined && { 'content-type': 'application/json' }) },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  assert.ok(res.status < 300, `${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function openSocket(target: Target, path: string): Promise<WebSocket> {
  const url = `${target.origin.replace(/^http/, 'ws')}${target.basePath}${path}`;
  const ws = new WebSocket(url, { headers: { Authorization: `token ${target.jupyterToken}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const closeSocket = (ws: WebSocket) =>
  new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
  });

/** Sends an execute_request (Jupyter messaging 5.3) on the kernel's shell channel. */
function execute(ws: WebSocket, code: string): void {
  const session = randomUUID();
  ws.send(
    JSON.stringify({
      header: { msg_id: randomUUID(), username: 'test', session, msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
      parent_header: {},
      metadata: {},
      content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      channel: 'shell',
      buffers: [],
    }),
  );
}

describe('IDLE leases with a real Jupyter server', () => {
  let svc: TestService;
  let id = '';

  before(async () => {
    svc = await startTestService({
      overrides: {
        runtime: 'local',
        lease: { minMs: 1_000, warningLeadMs: 0 },
        activity: { flushIntervalMs: 200, pollIntervalMs: 300, cpuBusyCores: 0.2, probeTimeoutMs: 2_000 },
      },
    });
  });

  after(async () => {
    if (!svc) return;
    const handles = (await svc.service.store.notebooks.listActive().catch(() => [] as Notebook[])).map(localHandleOf).filter((h) => h !== null);
    await killLeftoverServers(svc.dataDir, handles);
    await svc.close();
  });

  const target = async (): Promise<Target> => (await svc.service.store.notebooks.get(id))!.runtimeTarget!;
  const lease = async () => (await svc.api.get(`${NB}/${id}`)).body.lease;

  /** Watches the instance for `ms`: it must stay RUNNING; returns the activity sources seen on its lease. */
  async function staysRunning(ms: number): Promise<Set<string>> {
    const sources = new Set<string>();
    const endAt = Date.now() + ms;
    while (Date.now() < endAt) {
      const nb = (await svc.api.get(`${NB}/${id}`)).body;
      assert.equal(nb.status, 'RUNNING', `still running ${Math.round((endAt - Date.now()) / 1000)} s before the end of the watch; stop_reason ${nb.stop_reason}`);
      if (nb.lease.last_activity_source) sources.add(nb.lease.last_activity_source);
      await sleep(100);
    }
    return sources;
  }

  it('a kernel busy with a long cell keeps it alive with no browser open; afterwards it stops idle', async () => {
    // Given a real Jupyter Notebook server (a TIMING lease while the test sets the kernel up)
    const res = await svc.api.post(NB, createBody({ name: 'busy_kernel', image_id: NOTEBOOK_IMAGE, lease: { duration: SETUP_LEASE_MS, type: 'timing' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    id = res.body.id;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', JUPYTER_READY_MS);
    const t = await target();

    // When a kernel runs `time.sleep(12)` and the only client disconnects
    const kernel = await jupyter(t, 'api/kernels', { method: 'POST', body: { name: 'python3', path: '' } });
    const ws = await openSocket(t, `api/kernels/${kernel.id}/channels?session_id=${randomUUID()}`);
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(String(m).slice(0, 300)));
    try {
      // Run trivial cells, one at a time, until one finishes and the server reports the kernel
      // idle. Waiting for the kernel to speak first does not work: its start-up status may be
      // published before this socket subscribed, and then nothing comes until a request is sent.
      // Classic notebook's own api/kernels state comes from a separate watcher that joins late on
      // a loaded machine (ZeroMQ's slow joiner) and misses what was published before it. Cells
      // sent faster than a loaded kernel runs them would keep it busy for good.
      await waitFor('a trivial cell to run and the server to track the kernel state', 90_000, async () => {
        const seen = messages.length;
        execute(ws, 'pass');
        const replied = await waitFor('a trivial cell to finish', 15_000, async () => messages.slice(seen).some((m) => m.includes('"execute_reply"'))).catch(() => false);
        return replied && (await jupyter(t, `api/kernels/${kernel.id}`)).execution_state === 'idle';
      }, 200);
      execute(ws, `import time; time.sleep(${CELL_SECONDS})`);
      await waitFor('the server to report the kernel busy', 20_000, async () => (await jupyter(t, `api/kernels/${kernel.id}`)).execution_state === 'busy');
    } catch (e) {
      // Say what the server and the kernel channel showed: a kernel that never answers is not our bug to hide.
      const log = await readFile(`${svc.dataDir}/instances/${id}/jupyter.log`, 'utf8').catch((x) => String(x));
      throw new Error(`${(e as Error).message}\nkernel: ${JSON.stringify(await jupyter(t, `api/kernels/${kernel.id}`))}\nchannel messages: ${messages.join('\n')}\njupyter.log:\n${log.slice(-3000)}`);
    }
    const cellStartedAt = Date.now();
    await closeSocket(ws);
    // And the lease becomes IDLE with a 4 s idle timeout
    const renewed = await svc.api.patch(`${NB}/${id}/lease`, { duration: IDLE_TIMEOUT_MS, type: 'idle' });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));

    // Then it stays RUNNING for three idle timeouts, kept by the busy kernel
    const sources = await staysRunning(3 * IDLE_TIMEOUT_MS);
    assert.ok(sources.has('kernel'), `the busy kernel was the activity (sources seen: ${[...sources].join(', ')})`);
    assert.equal((await jupyter(t, `api/kernels/${kernel.id}`)).execution_state, 'busy', 'the cell is still running');

    // And once the cell is done it stops for idleness, no earlier than one idle timeout after
    const stopped = await waitForNotebook(svc.api, id, (nb) => nb.status === 'STOPPED', 30_000);
    assert.equal(stopped.stop_reason, 'idle');
    const stopping = (await svc.api.get(`${NB}/${id}/events`)).body.events.find((e: any) => e.type === 'notebook.stopping');
    assert.ok(stopping.at >= cellStartedAt + CELL_SECONDS * 1000, `stopped ${stopping.at - cellStartedAt} ms after the cell started, before it ended`);
  });

  it('terminal input/output, then a silent computation started in a terminal (process CPU), keep it alive', async () => {
    // Given another instance (TIMING while the terminal is set up)
    const res = await svc.api.post(NB, createBody({ name: 'terminal_cpu', image_id: NOTEBOOK_IMAGE, lease: { duration: SETUP_LEASE_MS, type: 'timing' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    id = res.body.id;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', JUPYTER_READY_MS);
    const t = await target();
    const terminal = await jupyter(t, 'api/terminals', { method: 'POST' });
    const ws = await openSocket(t, `terminals/websocket/${terminal.name}`);
    // And an IDLE lease with a 4 s idle timeout from now on
    assert.equal((await svc.api.patch(`${NB}/${id}/lease`, { duration: IDLE_TIMEOUT_MS, type: 'idle' })).status, 200);

    // When someone types in the terminal every 700 ms for three idle timeouts
    const typing = setInterval(() => ws.send(JSON.stringify(['stdin', 'echo tick\r'])), 700);
    let sources: Set<string>;
    try {
      sources = await staysRunning(3 * IDLE_TIMEOUT_MS);
    } finally {
      clearInterval(typing);
    }
    assert.ok(sources.has('terminal'), `terminal I/O was the activity (sources seen: ${[...sources].join(', ')})`);

    // When a computation that prints nothing runs for 10 s and the terminal is closed
    ws.send(JSON.stringify(['stdin', "timeout 10 /usr/bin/python3 -c 'while True: pass'\r"]));
    await sleep(200);
    await closeSocket(ws);
    const burnStartedAt = Date.now();
    const cpuSources = await staysRunning(2 * IDLE_TIMEOUT_MS);
    assert.ok(cpuSources.has('cpu'), `process CPU was the activity (sources seen: ${[...cpuSources].join(', ')})`);
    assert.equal((await lease()).last_activity_source, 'cpu');

    // Then after it ends the instance stops idle
    const stopped = await waitForNotebook(svc.api, id, (nb) => nb.status === 'STOPPED', 30_000);
    assert.equal(stopped.stop_reason, 'idle');
    const stopping = (await svc.api.get(`${NB}/${id}/events`)).body.events.filter((e: any) => e.type === 'notebook.stopping').at(-1);
    assert.ok(stopping.at >= burnStartedAt + 10_000, `stopped ${stopping.at - burnStartedAt} ms into a 10 s computation`);
  });
});
