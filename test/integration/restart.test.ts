// notebookd dies (SIGKILL) while instances run; the real binary is started again on the same data
// directory. Jupyter servers outlive it and are adopted by pid + start time; a server that died
// meanwhile is reported lost; a TIMING lease that ran out meanwhile is honoured at once.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { readProcStat } from '../../src/runtime/local/process-identity.ts';
import {
  isAlive,
  killLeftoverServers,
  localHandleOf,
  processArgv,
  startNotebookd,
  storedNotebook,
  type NotebookdProcess,
  type NotebookdProcessOptions,
} from '../support/notebookd-process.ts';
import { createBody, PROJECT, waitForNotebook, type ApiClient } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const JUPYTER_READY_MS = 30_000;

// Frequent health passes, so that "still RUNNING a second later" means it was checked several times.
const CONFIG = { reconcile: { healthIntervalMs: 200, readinessPollMs: 50, concurrency: 8 } };

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Asserts the instance stays RUNNING for `ms` (several health passes at CONFIG's interval). */
async function staysRunning(api: ApiClient, id: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const res = await api.get(`${NB}/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'RUNNING', `fail_reason: ${res.body.fail_reason}`);
    await delay(50);
  }
}

async function apiStatus(h: LocalHandle, basePath: string, token: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${h.port}${basePath}api/status`, { headers: { Authorization: `token ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('notebookd restart with the local runtime (real binary, real Jupyter)', () => {
  let dataDir: string;
  let nbd: NotebookdProcess | null = null;
  /** Every server handle a test saw, so that cleanup finds them even if the store lost track. */
  let seenHandles: LocalHandle[] = [];
  /** Output of the notebookd processes of this test that have exited. */
  let pastOutput = '';

  /** Runs a test body; a failure carries what notebookd printed (warnings and errors). */
  const withOutput = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (e) {
      const out = (pastOutput + (nbd?.output() ?? '')).trim();
      if (e instanceof Error && out) e.message += `\n--- notebookd output ---\n${out.slice(-8_000)}`;
      throw e;
    }
  };

  async function start(opts: Partial<NotebookdProcessOptions> = {}): Promise<NotebookdProcess> {
    nbd = await startNotebookd({ dataDir, config: CONFIG, ...opts });
    return nbd;
  }

  async function sigkill(): Promise<void> {
    assert.ok(nbd);
    const exit = await nbd.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    pastOutput += nbd.output();
    nbd = null;
  }

  async function createRunning(api: ApiClient, overrides: Record<string, unknown> = {}) {
    const res = await api.post(NB, createBody(overrides));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const nb = await waitForNotebook(api, res.body.id, (n) => n && n.status !== 'CREATING' && n.status !== 'STARTING', JUPYTER_READY_MS);
    assert.equal(nb.status, 'RUNNING', `fail_reason: ${nb.fail_reason}`);
    const handle = localHandleOf(storedNotebook(dataDir, nb.id));
    assert.ok(handle, 'a RUNNING instance has its handle in the store');
    seenHandles.push(handle);
    return { nb, handle };
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-restart-'));
    seenHandles = [];
    pastOutput = '';
  });

  afterEach(async () => {
    if (nbd) await nbd.kill('SIGTERM');
    nbd = null;
    await killLeftoverServers(dataDir, seenHandles);
    for (const h of seenHandles) {
      assert.ok(!(await isAlive(h.pid)) || (await readProcStat(h.pid))?.startTime !== h.startTime, `jupyter pid ${h.pid} was cleaned up`);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('adopts a Jupyter server that outlived a SIGKILLed notebookd; stop and delete still work', withOutput(async () => {
    const first = await start();
    const { nb, handle } = await createRunning(first.api);
    const token = storedNotebook(dataDir, nb.id).runtimeTarget!.jupyterToken;
    const basePath = `/nb/${nb.id}/`;

    await sigkill();
    assert.ok(await isAlive(handle.pid), `jupyter pid ${handle.pid} survives notebookd`);
    assert.equal(await apiStatus(handle, basePath, token), 200, 'and still serves');

    const second = await start();
    const shown = await second.api.get(`${NB}/${nb.id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.status, 'RUNNING', `fail_reason: ${shown.body.fail_reason}`);
    await staysRunning(second.api, nb.id, 1_000);

    const adopted = localHandleOf(storedNotebook(dataDir, nb.id));
    assert.deepEqual(adopted, handle, 'the same server, by the same handle');
    const proc = await readProcStat(handle.pid);
    assert.ok(proc && proc.state !== 'Z', `pid ${handle.pid} is alive`);
    assert.equal(proc.startTime, handle.startTime, 'the pid is the same process (start time matches /proc)');
    assert.ok((await processArgv(handle.pid)).includes('notebook'));

    const stopping = await second.api.post(`${NB}/${nb.id}/stop`);
    assert.equal(stopping.status, 200, JSON.stringify(stopping.body));
    const stopped = await waitForNotebook(second.api, nb.id, (n) => n.status === 'STOPPED', JUPYTER_READY_MS);
    assert.equal(stopped.stop_reason, 'user');
    await waitFor(`adopted jupyter pid ${handle.pid} to exit`, 5_000, async () => !(await isAlive(handle.pid)));

    // Started again by the second notebookd, then deleted while running.
    assert.equal((await second.api.post(`${NB}/${nb.id}/start`)).status, 200);
    const again = await waitForNotebook(second.api, nb.id, (n) => n.status !== 'STARTING', JUPYTER_READY_MS);
    assert.equal(again.status, 'RUNNING', `fail_reason: ${again.fail_reason}`);
    const restarted = localHandleOf(storedNotebook(dataDir, nb.id))!;
    seenHandles.push(restarted);
    assert.equal((await second.api.delete(`${NB}/${nb.id}`)).status, 200);
    await waitForNotebook(second.api, nb.id, (n) => n === undefined, JUPYTER_READY_MS);
    await waitFor(`jupyter pid ${restarted.pid} to exit`, 5_000, async () => !(await isAlive(restarted.pid)));
    assert.ok(!(await exists(join(dataDir, 'volumes', nb.id))), 'the volume is removed');
    const gone = await second.api.get(`${NB}/${nb.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error_code, 'ModelArts.6404');
  }));

  it('marks a server that died while notebookd was down as ERROR (runtime_lost); the other stays RUNNING', withOutput(async () => {
    const first = await start();
    const [a, b] = await Promise.all([createRunning(first.api, { name: 'survivor' }), createRunning(first.api, { name: 'victim' })]);
    await sigkill();

    process.kill(b.handle.pid, 'SIGKILL');
    await waitFor(`jupyter pid ${b.handle.pid} to die`, 5_000, async () => !(await isAlive(b.handle.pid)));
    assert.ok(await isAlive(a.handle.pid));

    const second = await start();
    const lost = await waitForNotebook(second.api, b.nb.id, (n) => n.status !== 'RUNNING', 10_000);
    assert.equal(lost.status, 'ERROR');
    assert.ok(lost.fail_reason.length > 0, 'fail_reason says what happened');
    assert.match(lost.fail_reason, new RegExp(String(b.handle.pid)));
    assert.equal(lost.stop_reason, 'runtime_lost');
    const events = (await second.api.get(`${NB}/${b.nb.id}/events?limit=1000`)).body.events;
    const lostEvent = events.find((e: any) => e.type === 'notebook.lost');
    assert.ok(lostEvent, `a notebook.lost event among ${events.map((e: any) => e.type).join(', ')}`);
    assert.equal(lostEvent.data.reason, 'runtime_lost');
    assert.equal(storedNotebook(dataDir, b.nb.id).runtimeHandle, null);

    await staysRunning(second.api, a.nb.id, 1_000);
    assert.deepEqual(localHandleOf(storedNotebook(dataDir, a.nb.id)), a.handle);
    assert.ok(await isAlive(a.handle.pid));

    // An instance in ERROR can still be deleted.
    assert.equal((await second.api.delete(`${NB}/${b.nb.id}`)).status, 200);
    await waitForNotebook(second.api, b.nb.id, (n) => n === undefined, JUPYTER_READY_MS);
  }));

  it('stops at once an instance whose TIMING lease ran out while notebookd was down', withOutput(async () => {
    const config = { ...CONFIG, lease: { minMs: 1000, warningLeadMs: 0 } };
    const first = await start({ config });
    const { nb, handle } = await createRunning(first.api, { duration: 4000 });
    await sigkill();
    const stored = storedNotebook(dataDir, nb.id);
    assert.equal(stored.status, 'RUNNING', 'still RUNNING when notebookd died');
    const deadline = stored.lease.createAt + stored.lease.durationMs;
    assert.ok(deadline > Date.now(), 'the deadline had not passed yet');

    await waitFor('the lease deadline to pass', 10_000, async () => Date.now() > deadline + 500);
    assert.ok(await isAlive(handle.pid), 'nobody stopped the server while notebookd was down');

    const second = await start({ config });
    const stopped = await waitForNotebook(second.api, nb.id, (n) => n.status === 'STOPPED', 10_000);
    const afterReadyMs = Date.now() - second.readyAt;
    assert.ok(afterReadyMs < 10_000, `STOPPED ${afterReadyMs} ms after readiness`);
    assert.equal(stopped.stop_reason, 'lease_expired');
    await waitFor(`jupyter pid ${handle.pid} to exit`, 5_000, async () => !(await isAlive(handle.pid)));
    const events = (await second.api.get(`${NB}/${nb.id}/events?limit=1000`)).body.events;
    const stopping = events.find((e: any) => e.type === 'notebook.stopping');
    assert.equal(stopping?.data.reason, 'lease_expired', JSON.stringify(events.map((e: any) => [e.type, e.data])));
  }));
});
