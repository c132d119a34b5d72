// The notebook operations over real HTTP against a real notebookd (SQLite store, fake runtime
// that serves a real Jupyter-like HTTP endpoint). Each error code of the contract is exercised.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFakeRuntime, fakeVariants } from '../../src/runtime/fake/fake-runtime.ts';
import { createBody, NOTEBOOK_IMAGE, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const HOUR = 3_600_000;

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

async function createRunning(overrides: Record<string, unknown> = {}) {
  const res = await svc.api.post(NB, createBody(overrides));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return waitForNotebook(svc.api, res.body.id, (nb) => nb.status === 'RUNNING');
}

async function createStopped(overrides: Record<string, unknown> = {}) {
  const nb = await createRunning(overrides);
  assert.equal((await svc.api.post(`${NB}/${nb.id}/stop`)).status, 200);
  return waitForNotebook(svc.api, nb.id, (n) => n.status === 'STOPPED');
}

function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error_code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error_msg, 'string');
  assert.ok(res.body.error_msg.length > 0);
}

describe('CreateNotebook', () => {
  it('returns the full NotebookResp at once and then goes CREATING → STARTING → RUNNING', async () => {
    const res = await svc.api.post(NB, createBody({ name: 'first_nb', description: 'api-test', lease: { duration: 2 * HOUR, type: 'timing' } }));
    assert.equal(res.status, 200);
    const nb = res.body;
    assert.match(nb.id, /^[0-9a-f-]{36}$/);
    assert.equal(nb.status, 'CREATING');
    assert.equal(nb.name, 'first_nb');
    assert.equal(nb.description, 'api-test');
    assert.equal(nb.flavor, 'modelarts.vm.cpu.2u');
    assert.equal(nb.feature, 'NOTEBOOK');
    assert.equal(nb.image.id, NOTEBOOK_IMAGE);
    assert.deepEqual(nb.volume.category, 'EVS'); // lower-case in, upper-case out
    assert.equal(nb.volume.ownership, 'MANAGED');
    assert.equal(nb.volume.capacity, 5);
    assert.equal(nb.volume.mount_path, '/home/ma-user/work/');
    assert.deepEqual(nb.action_progress.map((p: any) => p.step), [1, 2, 3, 4]);
    assert.equal(nb.lease.type, 'TIMING');
    assert.equal(nb.lease.duration, 2 * HOUR);
    assert.equal(nb.lease.enable, true);
    assert.equal(nb.workspace_id, '0');
    assert.equal(nb.user.name, 'admin');
    assert.equal(nb.user_id, nb.user.id);
    assert.ok(nb.url.includes(`/nb/${nb.id}/`));
    assert.equal(typeof nb.token, 'string');
    assert.equal(typeof nb.create_at, 'number');
    assert.equal(typeof nb.update_at, 'number');
    assert.ok(res.headers.get('x-request-id'));

    const running = await waitForNotebook(svc.api, nb.id, (n) => n.status === 'RUNNING');
    assert.ok(running.action_progress.every((p: any) => p.status === 'COMPLETED'), JSON.stringify(running.action_progress));
    // Re-anchored when RUNNING: the deadline is counted from then, create_at + duration = deadline.
    assert.equal(running.lease.create_at, nb.lease.create_at);
    assert.ok(running.lease.create_at + running.lease.duration >= nb.lease.create_at + 2 * HOUR);
    const events = await svc.api.get(`${NB}/${nb.id}/events`);
    const types = events.body.events.map((e: any) => e.type);
    assert.deepEqual(types.slice(0, 1), ['notebook.created']);
    assert.ok(types.includes('notebook.running'), types.join(','));
  });

  it('top-level duration wins over lease and forces TIMING; -1 disables auto-stop', async () => {
    const a = await svc.api.post(NB, createBody({ duration: 3 * HOUR, lease: { duration: 5 * HOUR, type: 'IDLE' } }));
    assert.equal(a.body.lease.type, 'TIMING');
    assert.equal(a.body.lease.duration, 3 * HOUR);
    const b = await svc.api.post(NB, createBody({ duration: -1 }));
    assert.equal(b.status, 200);
    assert.equal(b.body.lease.enable, false);
    assert.equal(b.body.lease.stop_at, null);
  });

  const invalid: [string, Record<string, unknown> | string, number, string][] = [
    ['missing name', (() => { const b: any = createBody(); delete b.name; return b; })(), 400, 'ModelArts.6335'],
    ['name with a space', createBody({ name: 'bad name' }), 400, 'ModelArts.6334'],
    ['name too long', createBody({ name: 'x'.repeat(129) }), 400, 'ModelArts.6336'],
    ['name of the wrong type', createBody({ name: 42 }), 400, 'ModelArts.6332'],
    ['description with <', createBody({ description: 'a<b' }), 400, 'ModelArts.6334'],
    ['description with /', createBody({ description: 'a/b' }), 400, 'ModelArts.6334'],
    ['unknown flavor', createBody({ flavor: 'modelarts.vm.nope' }), 400, 'ModelArts.6323'],
    ['sold-out flavor', createBody({ flavor: 'modelarts.vm.gpu.t4' }), 400, 'ModelArts.6716'],
    ['free flavor for a NOTEBOOK', createBody({ flavor: 'modelarts.vm.cpu.free' }), 400, 'ModelArts.6870'],
    ['unknown image', createBody({ image_id: '00000000-0000-0000-0000-000000000000' }), 400, 'ModelArts.6797'],
    ['volume too large', createBody({ volume: { category: 'EVS', ownership: 'MANAGED', capacity: 4097 } }), 400, 'ModelArts.6331'],
    ['volume too small', createBody({ volume: { category: 'EVS', ownership: 'MANAGED', capacity: 1 } }), 400, 'ModelArts.6331'],
    ['missing volume', (() => { const b: any = createBody(); delete b.volume; return b; })(), 400, 'ModelArts.6335'],
    ['duration below range', createBody({ duration: 60_000 }), 400, 'ModelArts.6349'],
    ['duration above range', createBody({ lease: { duration: 73 * HOUR } }), 400, 'ModelArts.6349'],
    ['unknown lease type', createBody({ lease: { duration: HOUR, type: 'SOMETIMES' } }), 400, 'ModelArts.6336'],
    ['six allowed IPs', createBody({ endpoints: [{ service: 'SSH', key_pair_names: ['k'], allowed_access_ips: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'] }] }), 400, 'ModelArts.6336'],
    ['an invalid IP', createBody({ endpoints: [{ service: 'NOTEBOOK', allowed_access_ips: ['300.1.1.1'] }] }), 400, 'ModelArts.6336'],
    ['unknown service', createBody({ endpoints: [{ service: 'FTP' }] }), 400, 'ModelArts.6336'],
    ['COMMAND hook not base64', createBody({ hooks: { container_hooks: { pre_start: { script: 'echo hi!', type: 'COMMAND' } } } }), 400, 'ModelArts.6336'],
    ['SCRIPT hook not absolute', createBody({ hooks: { container_hooks: { post_start: { script: 'run.sh', type: 'SCRIPT' } } } }), 400, 'ModelArts.6336'],
    ['malformed JSON', '{"name": ', 400, 'ModelArts.6400'],
    ['a JSON array', '[1,2]', 400, 'ModelArts.6332'],
  ];
  for (const [what, body, status, code] of invalid) {
    it(`rejects ${what} with ${code} and creates nothing`, async () => {
      const before = await svc.api.get(`${NB}?limit=50`);
      const res = await svc.api.post(NB, body);
      assertError(res, status, code);
      const afterList = await svc.api.get(`${NB}?limit=50`);
      assert.equal(afterList.body.total, before.body.total);
    });
  }
});

describe('ListNotebooks and ShowNotebook', () => {
  it('pages with the ModelArts envelope and filters', async () => {
    const tag = `pg${Date.now() % 100000}`;
    for (let i = 0; i < 3; i++) assert.equal((await svc.api.post(NB, createBody({ name: `${tag}_${i}` }))).status, 200);
    const first = await svc.api.get(`${NB}?name=${tag}&limit=10&sort_key=name&sort_dir=asc`);
    assert.equal(first.status, 200);
    assert.deepEqual(
      { current: first.body.current, size: first.body.size, total: first.body.total, pages: first.body.pages },
      { current: 0, size: 10, total: 3, pages: 1 },
    );
    assert.deepEqual(first.body.data.map((n: any) => n.name), [`${tag}_0`, `${tag}_1`, `${tag}_2`]);
    const all = await svc.api.get(`${NB}/all?name=${tag}&limit=20&offset=20`);
    assert.equal(all.status, 200);
    assert.equal(all.body.current, 1);
    assert.equal(all.body.data.length, 0);
  });

  it('rejects a limit other than 10, 20 or 50, an unknown sort key and an unknown status', async () => {
    assertError(await svc.api.get(`${NB}?limit=7`), 400, 'ModelArts.6336');
    assertError(await svc.api.get(`${NB}?sort_key=password`), 400, 'ModelArts.6303');
    assertError(await svc.api.get(`${NB}?status=SLEEPING`), 400, 'ModelArts.6336');
    assertError(await svc.api.get(`${NB}?offset=abc`), 400, 'ModelArts.6332');
  });

  it('answers 404 ModelArts.6404 for an instance that does not exist', async () => {
    assertError(await svc.api.get(`${NB}/6b4c2f4e-0000-4000-8000-000000000000`), 404, 'ModelArts.6404');
  });
});

describe('RenewLease and ShowLease (seed: prolong a lease)', () => {
  it('resets the deadline to now + duration with create_at + duration = deadline', async () => {
    const nb = await createRunning();
    const shown = await svc.api.get(`${NB}/${nb.id}/lease`);
    assert.equal(shown.status, 200);
    assert.deepEqual(Object.keys(shown.body).sort(), ['create_at', 'duration', 'enable', 'last_activity_at', 'last_activity_source', 'stop_at', 'type', 'update_at']);
    const t0 = Date.now();
    const renewed = await svc.api.patch(`${NB}/${nb.id}/lease`, { duration: 2 * HOUR, type: 'timing' });
    const t1 = Date.now();
    assert.equal(renewed.status, 200);
    const lease = renewed.body;
    assert.equal(lease.type, 'TIMING');
    assert.equal(lease.create_at, nb.lease.create_at, 'create_at stays fixed');
    assert.equal(lease.create_at + lease.duration, lease.stop_at);
    assert.ok(lease.stop_at >= t0 + 2 * HOUR && lease.stop_at <= t1 + 2 * HOUR, 'deadline = now + duration');
    assert.equal(lease.update_at + 2 * HOUR, lease.stop_at);
  });

  it('takes the query duration over the body and forces TIMING; an empty body means the default hour', async () => {
    const nb = await createRunning();
    const q = await svc.api.patch(`${NB}/${nb.id}/lease?duration=${5 * HOUR}`, { duration: 2 * HOUR, type: 'IDLE' });
    assert.equal(q.status, 200);
    assert.equal(q.body.type, 'TIMING');
    assert.equal(q.body.stop_at - q.body.update_at, 5 * HOUR);
    const d = await svc.api.patch(`${NB}/${nb.id}/lease`, {});
    assert.equal(d.body.stop_at - d.body.update_at, HOUR);
    const idle = await svc.api.patch(`${NB}/${nb.id}/lease`, { duration: 2 * HOUR, type: 'idle' });
    assert.equal(idle.body.type, 'IDLE');
    const noBody = await svc.api.request('PATCH', `${NB}/${nb.id}/lease?duration=${HOUR}`);
    assert.equal(noBody.status, 200);
  });

  it('refuses durations out of range (6349) and non-running instances (6327), changing nothing', async () => {
    const nb = await createRunning();
    const before = (await svc.api.get(`${NB}/${nb.id}/lease`)).body;
    assertError(await svc.api.patch(`${NB}/${nb.id}/lease`, { duration: 3_599_999 }), 400, 'ModelArts.6349');
    assertError(await svc.api.patch(`${NB}/${nb.id}/lease?duration=259200001`), 400, 'ModelArts.6349');
    assertError(await svc.api.patch(`${NB}/${nb.id}/lease`, { duration: -1 }), 400, 'ModelArts.6349');
    assertError(await svc.api.patch(`${NB}/${nb.id}/lease`, { duration: '7200000' }), 400, 'ModelArts.6332');
    assert.deepEqual((await svc.api.get(`${NB}/${nb.id}/lease`)).body, before);
    await svc.api.post(`${NB}/${nb.id}/stop`);
    await waitForNotebook(svc.api, nb.id, (n) => n.status === 'STOPPED');
    assertError(await svc.api.patch(`${NB}/${nb.id}/lease`, { duration: HOUR }), 400, 'ModelArts.6327');
    assertError(await svc.api.get(`${NB}/${nb.id}/lease`), 400, 'ModelArts.6327');
  });

  it('never loses one of many concurrent renewals', async () => {
    const nb = await createRunning();
    const durations = Array.from({ length: 12 }, (_, i) => HOUR + i * 60_000);
    const results = await Promise.all(durations.map((d) => svc.api.patch(`${NB}/${nb.id}/lease`, { duration: d })));
    for (const r of results) assert.ok(r.status === 200 || r.body.error_code === 'ModelArts.6357', JSON.stringify(r.body));
    const events = (await svc.api.get(`${NB}/${nb.id}/events?limit=1000`)).body.events.filter((e: any) => e.type === 'lease.renewed');
    assert.equal(events.length, results.filter((r) => r.status === 200).length, 'every accepted renewal is recorded once');
    const final = (await svc.api.get(`${NB}/${nb.id}/lease`)).body;
    const lastAccepted = events.at(-1);
    assert.equal(final.stop_at, lastAccepted.data.stopAt, 'the stored lease is the last accepted write');
  });
});

describe('UpdateNotebook (seed: update an instance)', () => {
  it('renames and re-describes a RUNNING instance, and grows its disk while running', async () => {
    const nb = await createRunning();
    const res = await svc.api.put(`${NB}/${nb.id}`, { name: 'renamed-live', description: 'still running' });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'renamed-live');
    assert.equal(res.body.description, 'still running');
    assert.equal(res.body.status, 'RUNNING');
    const grown = await svc.api.put(`${NB}/${nb.id}`, { storage_new_size: 10 });
    assert.equal(grown.status, 200);
    const settled = await waitForNotebook(svc.api, nb.id, (n) => n.volume.capacity === 10 && n.volume.status !== 'RESIZING');
    assert.equal(settled.volume.capacity, 10);
  });

  it('refuses flavor, image, endpoints and hooks while RUNNING with 6347', async () => {
    const nb = await createRunning();
    assertError(await svc.api.put(`${NB}/${nb.id}`, { flavor: 'modelarts.vm.cpu.4u' }), 400, 'ModelArts.6347');
    assertError(await svc.api.put(`${NB}/${nb.id}`, { endpoints: [{ service: 'NOTEBOOK', allowed_access_ips: ['127.0.0.1'] }] }), 400, 'ModelArts.6347');
    assertError(await svc.api.put(`${NB}/${nb.id}`, { hooks: { container_hooks: { pre_start: { script: 'ZWNobyBoaQ==', type: 'COMMAND' } } } }), 400, 'ModelArts.6347');
  });

  it('changes flavor, image, endpoints, hooks and disk size of a STOPPED instance', async () => {
    const nb = await createStopped();
    const hooks = { container_hooks: { pre_start: { script: Buffer.from('echo pre > pre.txt').toString('base64'), type: 'command', mode: 'block' } } };
    const res = await svc.api.put(`${NB}/${nb.id}`, {
      flavor: 'modelarts.vm.cpu.4u',
      image_id: NOTEBOOK_IMAGE,
      endpoints: [{ service: 'NOTEBOOK', allowed_access_ips: ['127.0.0.1', '10.0.0.0/8'] }],
      hooks,
      storage_new_size: 20,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.flavor, 'modelarts.vm.cpu.4u');
    assert.equal(res.body.volume.capacity, 20);
    assert.deepEqual(res.body.endpoints.find((e: any) => e.service === 'NOTEBOOK').allowed_access_ips, ['127.0.0.1', '10.0.0.0/8']);
    assert.equal(res.body.hooks.container_hooks.pre_start.type, 'COMMAND');
    assert.equal(res.body.hooks.container_hooks.pre_start.mode, 'BLOCK');
    const shown = await svc.api.get(`${NB}/${nb.id}`);
    assert.deepEqual(shown.body.flavor, 'modelarts.vm.cpu.4u');
  });

  it('rejects bad values with their codes and a rejected request changes nothing', async () => {
    const nb = await createStopped();
    const cases: [Record<string, unknown>, string][] = [
      [{ flavor: 'modelarts.vm.cpu.free' }, 'ModelArts.6792'],
      [{ flavor: 'modelarts.vm.gpu.t4' }, 'ModelArts.6792'],
      [{ image_id: '00000000-0000-0000-0000-000000000009' }, 'ModelArts.6797'],
      [{ storage_new_size: 4 }, 'ModelArts.6331'],
      [{ storage_new_size: 5 }, 'ModelArts.6331'],
      [{ storage_new_size: 4097 }, 'ModelArts.6331'],
      [{ name: 'ok-name', description: 'has "quotes"' }, 'ModelArts.6334'],
      [{ name: 'bad/name' }, 'ModelArts.6334'],
      [{ description: 'x'.repeat(513) }, 'ModelArts.6336'],
      [{ endpoints: [{ service: 'SSH', allowed_access_ips: ['a.b.c.d'] }] }, 'ModelArts.6336'],
      [{ storage_new_size: '10' }, 'ModelArts.6332'],
    ];
    for (const [body, code] of cases) {
      assertError(await svc.api.put(`${NB}/${nb.id}`, body), 400, code);
    }
    const after = await svc.api.get(`${NB}/${nb.id}`);
    assert.equal(after.body.name, nb.name);
    assert.equal(after.body.description, nb.description);
    assert.equal(after.body.flavor, nb.flavor);
    assert.equal(after.body.volume.capacity, nb.volume.capacity);
  });

  it('lists switchable flavors: same category and feature, not sold out, not the current one', async () => {
    const nb = await createRunning();
    const res = await svc.api.get(`${NB}/${nb.id}/flavors`);
    assert.equal(res.status, 200);
    const ids = res.body.flavors.map((f: any) => f.id).sort();
    assert.deepEqual(ids, ['modelarts.vm.cpu.4u', 'modelarts.vm.cpu.8u']);
    assert.deepEqual(res.body.data, res.body.flavors);
  });
});

describe('StartNotebook, StopNotebook, DeleteNotebook', () => {
  it('stops, refuses a second stop, starts with a new token, refuses a second start', async () => {
    const nb = await createRunning();
    const stopping = await svc.api.post(`${NB}/${nb.id}/stop`);
    assert.equal(stopping.body.status, 'STOPPING');
    const stopped = await waitForNotebook(svc.api, nb.id, (n) => n.status === 'STOPPED');
    assert.equal(stopped.stop_reason, 'user');
    assertError(await svc.api.post(`${NB}/${nb.id}/stop`), 400, 'ModelArts.6307');
    const starting = await svc.api.post(`${NB}/${nb.id}/start?duration=${2 * HOUR}&type=timing`);
    assert.equal(starting.status, 200);
    assert.equal(starting.body.status, 'STARTING');
    assert.notEqual(starting.body.token, nb.token, 'a new token on every start');
    assertError(await svc.api.post(`${NB}/${nb.id}/start`), 400, 'ModelArts.6306');
    const running = await waitForNotebook(svc.api, nb.id, (n) => n.status === 'RUNNING');
    assert.equal(running.lease.stop_at - running.lease.update_at, 2 * HOUR);
    assertError(await svc.api.post(`${NB}/${nb.id}/start`), 400, 'ModelArts.6305');
  });

  it('deletes a running instance; afterwards it is 404 ModelArts.6404', async () => {
    const nb = await createRunning();
    const res = await svc.api.delete(`${NB}/${nb.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'DELETING');
    await waitForNotebook(svc.api, nb.id, (n) => n === undefined);
    assertError(await svc.api.get(`${NB}/${nb.id}`), 404, 'ModelArts.6404');
    assertError(await svc.api.post(`${NB}/${nb.id}/start`), 404, 'ModelArts.6404');
    assertError(await svc.api.delete(`${NB}/${nb.id}`), 404, 'ModelArts.6404');
  });

  it('rejects start duration out of range before changing anything', async () => {
    const nb = await createStopped();
    assertError(await svc.api.post(`${NB}/${nb.id}/start?duration=5`), 400, 'ModelArts.6349');
    assertError(await svc.api.post(`${NB}/${nb.id}/start?type=forever`), 400, 'ModelArts.6336');
    assert.equal((await svc.api.get(`${NB}/${nb.id}`)).body.status, 'STOPPED');
  });
});

describe('Tags', () => {
  it('creates (overwriting a key), summarises and deletes tags; deleting a missing tag is a no-op', async () => {
    const nb = await createRunning();
    assert.equal((await svc.api.post(`${NB}/${nb.id}/tags/create`, { tags: [{ key: 'team', value: 'ml' }, { key: 'env', value: 'dev' }] })).status, 200);
    assert.equal((await svc.api.post(`${NB}/${nb.id}/tags/create`, { tags: [{ key: 'env', value: 'prod' }] })).status, 200);
    const shown = await svc.api.get(`${NB}/${nb.id}`);
    assert.deepEqual(shown.body.tags.sort((a: any, b: any) => a.key.localeCompare(b.key)), [{ key: 'env', value: 'prod' }, { key: 'team', value: 'ml' }]);
    const summary = await svc.api.get(`${NB}/tags`);
    assert.ok(summary.body.tags.some((t: any) => t.key === 'env' && t.values.includes('prod')));
    const filtered = await svc.api.get(`${NB}?tags=env=prod&limit=50`);
    assert.ok(filtered.body.data.some((n: any) => n.id === nb.id));
    assert.equal((await svc.api.delete(`${NB}/${nb.id}/tags/delete`, { tags: [{ key: 'env' }, { key: 'absent' }] })).status, 200);
    assert.deepEqual((await svc.api.get(`${NB}/${nb.id}`)).body.tags, [{ key: 'team', value: 'ml' }]);
    assertError(await svc.api.post(`${NB}/${nb.id}/tags/create`, { tags: [{ key: '_sys_x', value: 'v' }] }), 400, 'ModelArts.6336');
  });
});

describe('a server whose port another process took first', () => {
  // The runtime says such an exit is retryable: notebookd launches again (within the same start
  // timeout) instead of failing the creation, and says so in the events; it gives up after three.
  for (const [takenRuns, outcome] of [
    [2, 'RUNNING'],
    [10, 'CREATE_FAILED'],
  ] as const) {
    it(`${takenRuns} taken ports in a row: ${outcome}`, async () => {
      const runtime = createFakeRuntime(fakeVariants.portTaken(takenRuns));
      const own = await startTestService({ runtime });
      try {
        const res = await own.api.post(NB, createBody({ name: 'port_race' }));
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const nb = await waitForNotebook(own.api, res.body.id, (n) => n.status === outcome);
        const events = (await own.api.get(`${NB}/${nb.id}/events`)).body.events;
        const relaunches = events.filter((e: any) => e.type === 'notebook.relaunching');
        assert.equal(relaunches.length, Math.min(takenRuns, 3), events.map((e: any) => e.type).join(','));
        assert.match(relaunches[0].message, /was taken before the server could listen on it\); starting it again/);
        if (outcome === 'CREATE_FAILED') assert.match(nb.fail_reason, /is already in use/);
      } finally {
        await own.close();
        await runtime.killAll(); // a runtime passed in is the caller's to end
      }
    });
  }
});
