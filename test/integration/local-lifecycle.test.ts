// The user story end to end with the real local runtime and real Jupyter (Debian's notebook and
// jupyter_server): create, run, lease, rename, stop, reconfigure while stopped, start again,
// delete; a TIMING lease that runs out; and a host that lacks the Jupyter program.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Notebook } from '../../src/domain/notebook.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import { isAlive, killLeftoverServers, localHandleOf, processArgv } from '../support/notebookd-process.ts';
import { createBody, NOTEBOOK_IMAGE, PROJECT, SERVER_IMAGE, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const HOUR = 3_600_000;
const JUPYTER_READY_MS = 30_000;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error_code, code, JSON.stringify(res.body));
}

/** A request straight to the instance's Jupyter server (not through notebookd's proxy). */
async function jupyter(target: NonNullable<Notebook['runtimeTarget']>, path: string, init: { method?: string; token?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `token ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${target.origin}${target.basePath}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body };
}

describe('local runtime with real Jupyter: the user story', () => {
  let svc: TestService;
  let dataDir: string;

  before(async () => {
    svc = await startTestService({
      overrides: {
        runtime: 'local',
        // Short leases are allowed here so that expiry can be watched in seconds.
        lease: { minMs: 1000, maxMs: 259_200_000, defaultMs: HOUR, allowDisable: true, warningLeadMs: 0 },
      },
    });
    dataDir = svc.dataDir;
    assert.equal(svc.service.runtime.kind, 'local', 'the overrides select the local runtime');
  });

  after(async () => {
    // Whatever a failed test left running goes first: close() removes the data directory.
    if (svc) {
      await killLeftoverServers(dataDir, await storedHandles());
      await svc.close();
    }
  });

  async function storedHandles() {
    const all = await svc.service.store.notebooks.listActive().catch(() => [] as Notebook[]);
    return all.map((nb) => localHandleOf(nb)).filter((h) => h !== null);
  }

  const stored = async (id: string): Promise<Notebook> => {
    const nb = await svc.service.store.notebooks.get(id);
    assert.ok(nb, `notebook ${id} is in the store`);
    return nb;
  };

  /** Polls until `done`, recording every status seen (consecutive repeats collapsed). */
  async function watchStatuses(id: string, first: string, done: (nb: any) => boolean, timeoutMs = JUPYTER_READY_MS) {
    const seen = [first];
    const last = await waitForNotebook(
      svc.api,
      id,
      (nb) => {
        if (!nb) return false;
        if (nb.status !== seen.at(-1)) seen.push(nb.status);
        return done(nb);
      },
      timeoutMs,
    );
    return { seen, last };
  }

  const events = async (id: string): Promise<any[]> => (await svc.api.get(`${NB}/${id}/events?limit=1000`)).body.events;

  // State carried from one step of the story to the next (the steps run in order).
  let id = '';
  let firstToken = '';
  let firstPid = 0;
  let firstTarget: NonNullable<Notebook['runtimeTarget']>;

  it('creates a notebook that goes CREATING → STARTING → RUNNING with a real Jupyter Notebook process', async () => {
    const res = await svc.api.post(NB, createBody({ name: 'story', image_id: NOTEBOOK_IMAGE }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    id = res.body.id;
    firstToken = res.body.token;
    const { seen, last } = await watchStatuses(id, res.body.status, (nb) => nb.status !== 'CREATING' && nb.status !== 'STARTING');
    assert.deepEqual(seen, ['CREATING', 'STARTING', 'RUNNING'], `statuses seen: ${seen.join(' → ')}; fail_reason: ${last.fail_reason}`);
    assert.ok(last.action_progress.every((p: any) => p.status === 'COMPLETED'), JSON.stringify(last.action_progress));
    const types = (await events(id)).map((e) => e.type);
    const order = ['notebook.created', 'notebook.starting', 'runtime.launched', 'notebook.running'].map((t) => types.indexOf(t));
    assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1]!)), `event order: ${types.join(', ')}`);

    const nb = await stored(id);
    const handle = localHandleOf(nb);
    assert.ok(handle, 'a RUNNING instance has a runtime handle');
    assert.ok(nb.runtimeTarget, 'and a runtime target');
    firstPid = handle.pid;
    firstTarget = nb.runtimeTarget;
    assert.ok(await isAlive(firstPid), `jupyter pid ${firstPid} is alive`);
    const argv = await processArgv(firstPid);
    assert.ok(argv.includes('notebook'), `the classic notebook server runs: ${argv.join(' ')}`);
    assert.ok(!argv.includes('jupyter_server'), argv.join(' '));
    assert.ok(!argv.join(' ').includes(firstTarget.jupyterToken), 'the internal token is not on the command line');
  });

  it('serves Jupyter on the runtime target only with the internal token', async () => {
    const withToken = await jupyter(firstTarget, 'api/status', { token: firstTarget.jupyterToken });
    assert.equal(withToken.status, 200, JSON.stringify(withToken.body));
    assert.equal((await jupyter(firstTarget, 'api/status')).status, 403);
    assert.equal((await jupyter(firstTarget, 'api/status', { token: 'not-the-token' })).status, 403);
    // A file written now must survive a stop and a start.
    const put = await jupyter(firstTarget, 'api/contents/notes.txt', {
      method: 'PUT',
      token: firstTarget.jupyterToken,
      body: { type: 'file', format: 'text', content: 'written before the stop\n' },
    });
    assert.ok(put.status === 200 || put.status === 201, `contents PUT: ${put.status} ${JSON.stringify(put.body)}`);
    assert.equal(await readFile(join(dataDir, 'volumes', id, 'notes.txt'), 'utf8'), 'written before the stop\n');
  });

  it('reads and prolongs the lease of the running instance', async () => {
    const shown = await svc.api.get(`${NB}/${id}/lease`);
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.type, 'TIMING');
    assert.equal(shown.body.enable, true);
    assert.equal(shown.body.create_at + shown.body.duration, shown.body.stop_at);
    const t0 = Date.now();
    const renewed = await svc.api.patch(`${NB}/${id}/lease`, { duration: 2 * HOUR, type: 'timing' });
    const t1 = Date.now();
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.create_at, shown.body.create_at, 'create_at stays fixed');
    assert.ok(renewed.body.stop_at >= t0 + 2 * HOUR && renewed.body.stop_at <= t1 + 2 * HOUR, 'deadline = now + 2 h');
    assert.equal((await svc.api.get(`${NB}/${id}/lease`)).body.stop_at, renewed.body.stop_at);
  });

  it('renames the running instance without touching its server', async () => {
    const res = await svc.api.put(`${NB}/${id}`, { name: 'story-renamed', description: 'renamed while running' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, 'story-renamed');
    assert.equal(res.body.status, 'RUNNING');
    assert.equal(localHandleOf(await stored(id))?.pid, firstPid);
    assert.ok(await isAlive(firstPid));
  });

  it('stops: the process is gone, status STOPPED, stop_reason user', async () => {
    const res = await svc.api.post(`${NB}/${id}/stop`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'STOPPING');
    const stopped = await waitForNotebook(svc.api, id, (nb) => nb.status === 'STOPPED', JUPYTER_READY_MS);
    assert.equal(stopped.stop_reason, 'user');
    await waitFor(`jupyter pid ${firstPid} to exit`, 5_000, async () => !(await isAlive(firstPid)));
    const nb = await stored(id);
    assert.equal(nb.runtimeHandle, null);
    assert.equal(nb.runtimeTarget, null);
    assert.ok(await exists(join(dataDir, 'volumes', id, 'notes.txt')), 'the volume stays');
  });

  it('changes flavor, image, endpoints, hooks and disk size while stopped', async () => {
    const script = 'echo "hook ran in $(pwd)" > hook-ran.txt';
    const res = await svc.api.put(`${NB}/${id}`, {
      flavor: 'modelarts.vm.cpu.4u',
      image_id: SERVER_IMAGE,
      endpoints: [{ service: 'NOTEBOOK', allowed_access_ips: ['127.0.0.1'] }],
      hooks: { container_hooks: { pre_start: { script: Buffer.from(script).toString('base64'), type: 'COMMAND', mode: 'BLOCK' } } },
      storage_new_size: 10,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'STOPPED');
    assert.equal(res.body.flavor, 'modelarts.vm.cpu.4u');
    assert.equal(res.body.image.id, SERVER_IMAGE);
    assert.deepEqual(res.body.endpoints.find((e: any) => e.service === 'NOTEBOOK')?.allowed_access_ips, ['127.0.0.1']);
    assert.equal(res.body.hooks.container_hooks.pre_start.type, 'COMMAND');
    assert.equal(res.body.hooks.container_hooks.pre_start.mode, 'BLOCK');
    assert.equal(res.body.volume.capacity, 10);
    assert.ok(!(await exists(join(dataDir, 'volumes', id, 'hook-ran.txt'))), 'the hook has not run yet');
  });

  it('starts again: new token, the pre_start hook ran in the volume, jupyter_server serves the old files', async () => {
    const res = await svc.api.post(`${NB}/${id}/start`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'STARTING');
    assert.notEqual(res.body.token, firstToken, 'a new user-facing token on every start');
    const { seen, last } = await watchStatuses(id, 'STARTING', (nb) => nb.status !== 'STARTING');
    assert.deepEqual(seen, ['STARTING', 'RUNNING'], `statuses seen: ${seen.join(' → ')}; fail_reason: ${last.fail_reason}`);

    const volumeDir = join(dataDir, 'volumes', id);
    // Inside the sandbox (where bubblewrap is installed) the volume is at its mount_path.
    const sandboxed = localHandleOf(await stored(id))?.sandboxed === true;
    const hookCwd = sandboxed ? '/home/ma-user/work' : volumeDir;
    assert.equal(await readFile(join(volumeDir, 'hook-ran.txt'), 'utf8'), `hook ran in ${hookCwd}\n`, 'the hook ran with the volume as cwd');
    const recorded = JSON.parse(await readFile(join(dataDir, 'instances', id, 'volume.json'), 'utf8'));
    assert.equal(recorded.capacityGb, 10, 'the runtime saw the new disk size');

    const nb = await stored(id);
    const handle = localHandleOf(nb);
    assert.ok(handle && nb.runtimeTarget);
    assert.notEqual(handle.pid, firstPid);
    assert.ok(await isAlive(handle.pid));
    const argv = await processArgv(handle.pid);
    assert.ok(argv.includes('jupyter_server'), `the new image's program runs: ${argv.join(' ')}`);
    assert.notEqual(nb.runtimeTarget.jupyterToken, firstTarget.jupyterToken, 'a new internal token too');
    assert.equal((await jupyter(nb.runtimeTarget, 'api/status', { token: firstTarget.jupyterToken })).status, 403, 'the old token is dead');
    const file = await jupyter(nb.runtimeTarget, 'api/contents/notes.txt', { token: nb.runtimeTarget.jupyterToken });
    assert.equal(file.status, 200, JSON.stringify(file.body));
    assert.equal(file.body.content, 'written before the stop\n');
  });

  it('deletes: the process and the volume are gone, then 404 ModelArts.6404', async () => {
    const pid = localHandleOf(await stored(id))!.pid;
    const res = await svc.api.delete(`${NB}/${id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'DELETING');
    await waitForNotebook(svc.api, id, (nb) => nb === undefined, JUPYTER_READY_MS);
    await waitFor(`jupyter pid ${pid} to exit`, 5_000, async () => !(await isAlive(pid)));
    assert.ok(!(await exists(join(dataDir, 'volumes', id))), 'the volume directory is removed');
    assert.ok(!(await exists(join(dataDir, 'instances', id))), 'the instance directory is removed');
    assertError(await svc.api.get(`${NB}/${id}`), 404, 'ModelArts.6404');
  });

  it('stops an instance whose TIMING lease runs out, by itself, with stop_reason lease_expired', async () => {
    const res = await svc.api.post(NB, createBody({ name: 'short-lease', duration: 3000 }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const leaseId = res.body.id;
    const running = await waitForNotebook(svc.api, leaseId, (nb) => nb.status !== 'CREATING' && nb.status !== 'STARTING', JUPYTER_READY_MS);
    assert.equal(running.status, 'RUNNING', running.fail_reason);
    const pid = localHandleOf(await stored(leaseId))!.pid;
    const stopAt = running.lease.stop_at as number;
    assert.equal(running.lease.type, 'TIMING');
    assert.ok(stopAt > Date.now(), 'the deadline is still ahead when RUNNING (re-anchored then)');

    // Allowed lag: 10 s past the deadline (the executor sleeps until the earliest deadline).
    let last: any;
    const stopped = await waitFor('STOPPED', stopAt - Date.now() + 10_000, async () => {
      last = (await svc.api.get(`${NB}/${leaseId}`)).body;
      return last.status === 'STOPPED' && last;
    }).catch(() => {
      assert.fail(`still ${last?.status} ${Date.now() - stopAt} ms after the lease's stop_at (${new Date(stopAt).toISOString()}); stop_reason ${last?.stop_reason}`);
    });
    const lagMs = Date.now() - stopAt;
    assert.equal(stopped.stop_reason, 'lease_expired');
    assert.ok(lagMs < 10_000, `stopped ${lagMs} ms after the deadline`);
    await waitFor(`jupyter pid ${pid} to exit`, 5_000, async () => !(await isAlive(pid)));
    const stopping = (await events(leaseId)).find((e) => e.type === 'notebook.stopping');
    assert.ok(stopping, 'a notebook.stopping event');
    assert.equal(stopping.data.reason, 'lease_expired');
    assert.ok(stopping.at >= stopAt, 'not before the deadline');
    const stoppedEvent = (await events(leaseId)).find((e) => e.type === 'notebook.stopped');
    assert.equal(stoppedEvent?.data.reason, 'lease_expired');
    assert.equal((await svc.api.delete(`${NB}/${leaseId}`)).status, 200);
    await waitForNotebook(svc.api, leaseId, (nb) => nb === undefined, JUPYTER_READY_MS);
  });
});

describe('local runtime on a host without the Jupyter program', () => {
  let svc: TestService;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-nojupyter-'));
    svc = await startTestService({
      dataDir,
      runtime: createLocalRuntime({ dataDir, pythonPath: '/nonexistent/python3' }),
      overrides: { runtime: 'local' },
    });
  });

  after(async () => {
    await svc?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to create with ModelArts.6797 and says what to install', async () => {
    const res = await svc.api.post(NB, createBody({ image_id: NOTEBOOK_IMAGE }));
    assertError(res, 400, 'ModelArts.6797');
    assert.match(res.body.error_msg, /not installed/);
    assert.match(res.body.error_msg, /apt-get install jupyter-notebook/);
    const list = await svc.api.get(`${NB}?limit=50`);
    assert.equal(list.body.total, 0, 'nothing was created');
  });

  it('lists the built-in images with a status_message that explains the problem', async () => {
    const res = await svc.api.get(`/v1/${PROJECT}/images`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const builtIn = res.body.data.filter((i: any) => i.type === 'BUILD_IN');
    assert.deepEqual(builtIn.map((i: any) => i.id).sort(), [NOTEBOOK_IMAGE, SERVER_IMAGE]);
    for (const image of builtIn) {
      assert.ok(image.status_message.length > 0, `${image.name}: ${JSON.stringify(image)}`);
      assert.match(image.status_message, /apt-get install/);
    }
    assert.match(builtIn.find((i: any) => i.id === SERVER_IMAGE).status_message, /python3-jupyter-server/);
  });
});
