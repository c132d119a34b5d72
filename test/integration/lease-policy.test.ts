// The operator's lease policy through the API, per flavor: bounds per request, whether auto-stop
// may be turned off, a hard cap on one run; refusals are ModelArts.6349 naming the allowed range,
// and change nothing. Plus the configuration checks that keep a policy satisfiable.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const HOUR = 3_600_000;
const CAPPED_FLAVOR = 'modelarts.vm.cpu.4u';
const CAP_MS = 90 * 60_000;

function assertRange(res: { status: number; body: any }, min: number, max: number | RegExp, detail?: RegExp) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error_code, 'ModelArts.6349', JSON.stringify(res.body));
  const range = typeof max === 'number' ? String(max) : max.source;
  assert.match(res.body.error_msg, new RegExp(`The value ranges from ${min} to ${range}\\.`));
  if (detail) assert.match(res.body.error_msg, detail);
}

describe('lease policy per flavor, through the API', () => {
  let svc: TestService;

  before(async () => {
    svc = await startTestService({
      overrides: {
        lease: {
          warningLeadMs: 0,
          perFlavor: { [CAPPED_FLAVOR]: { maxMs: 2 * HOUR, maxRunningMs: CAP_MS, allowDisable: false } },
        },
      },
    });
  });
  after(async () => svc?.close());

  it('a flavor’s own bounds apply to it, the base policy to the others', async () => {
    assertRange(await svc.api.post(NB, createBody({ flavor: CAPPED_FLAVOR, lease: { duration: 2 * HOUR, type: 'timing' } })), HOUR, CAP_MS, /at most 90 min per start/);
    const other = await svc.api.post(NB, createBody({ lease: { duration: 2 * HOUR, type: 'timing' } }));
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal(other.body.lease.duration, 2 * HOUR);
  });

  it('auto-stop cannot be turned off where the flavor caps a run', async () => {
    assertRange(await svc.api.post(NB, createBody({ flavor: CAPPED_FLAVOR, duration: -1 })), HOUR, CAP_MS, /cannot be disabled/);
    const other = await svc.api.post(NB, createBody({ duration: -1 }));
    assert.equal(other.status, 200);
    assert.equal(other.body.lease.enable, false);
  });

  it('a capped run: renewals cannot pass the cap, and the refusal says what is left and changes nothing', async () => {
    const res = await svc.api.post(NB, createBody({ flavor: CAPPED_FLAVOR, lease: { duration: HOUR, type: 'timing' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const id = res.body.id;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING');
    const before = (await svc.api.get(`${NB}/${id}/lease`)).body;

    // A renewal for the whole cap a moment after the run began ends after the cap
    const refused = await svc.api.patch(`${NB}/${id}/lease`, { duration: CAP_MS, type: 'timing' });
    assertRange(refused, HOUR, /\d+/, /This run may last at most 90 min and ends at \d{4}-\d\d-\d\dT/);
    const left = Number(/ranges from \d+ to (\d+)\./.exec(refused.body.error_msg)![1]);
    assert.ok(left < CAP_MS && left > CAP_MS - 60_000, `what is left of the run: ${left}`);
    assert.deepEqual((await svc.api.get(`${NB}/${id}/lease`)).body, before, 'a refused renewal changes nothing');

    // What is left is accepted, and the stop time is exactly the cap
    const accepted = await svc.api.patch(`${NB}/${id}/lease`, { duration: left - 5_000, type: 'timing' });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    // An IDLE renewal longer than what is left is clamped to the cap instead
    const idle = await svc.api.patch(`${NB}/${id}/lease`, { duration: CAP_MS, type: 'idle' });
    assert.equal(idle.status, 200, JSON.stringify(idle.body));
    assert.ok(idle.body.stop_at <= accepted.body.stop_at + 5_000 + 1_000, 'never past the cap');
    assert.ok(idle.body.stop_at >= accepted.body.stop_at);
  });

  it('StartNotebook’s duration and type follow the flavor’s policy too', async () => {
    const res = await svc.api.post(NB, createBody({ flavor: CAPPED_FLAVOR }));
    const id = res.body.id;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING');
    await svc.api.post(`${NB}/${id}/stop`);
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'STOPPED');
    assertRange(await svc.api.post(`${NB}/${id}/start?duration=-1`), HOUR, CAP_MS, /cannot be disabled/);
    assertRange(await svc.api.post(`${NB}/${id}/start?duration=${2 * HOUR}`), HOUR, CAP_MS);
    assert.equal((await svc.api.get(`${NB}/${id}`)).body.status, 'STOPPED', 'a refused start changes nothing');
    const started = await svc.api.post(`${NB}/${id}/start?duration=${HOUR}&type=idle`);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const running = await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING');
    assert.equal(running.lease.type, 'IDLE');
  });
});

describe('lease policy configuration', () => {
  const load = (lease: Record<string, unknown>) => () => loadConfig({}, {}, { lease });
  const cases: { name: string; lease: Record<string, unknown>; error: RegExp | null }[] = [
    { name: 'per-flavor overrides of a known flavor load', lease: { perFlavor: { 'modelarts.vm.gpu.t4': { maxMs: 8 * HOUR, maxRunningMs: 12 * HOUR } } }, error: null },
    { name: 'an unknown flavor is refused', lease: { perFlavor: { 'no.such.flavor': { maxMs: HOUR } } }, error: /lease\.perFlavor\.no\.such\.flavor is not a flavor of the catalog/ },
    { name: 'an override that breaks min <= default <= max is refused', lease: { perFlavor: { 'modelarts.vm.cpu.2u': { maxMs: 30 * 60_000 } } }, error: /perFlavor\.modelarts\.vm\.cpu\.2u must satisfy minMs <= defaultMs <= maxMs/ },
    { name: 'a cap below the minimum is refused', lease: { maxRunningMs: 60_000 }, error: /maxRunningMs must be at least minMs/ },
    { name: 'an unknown policy key is refused', lease: { perFlavor: { 'modelarts.vm.cpu.2u': { hardCap: 1 } } }, error: /not a known setting/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error === null) assert.doesNotThrow(load(c.lease));
      else assert.throws(load(c.lease), (e: unknown) => e instanceof ConfigError && c.error!.test(e.message));
    });
  }

  it('webhook ids default to the URL and must be unique', () => {
    const hook = { url: 'http://127.0.0.1:9/h', types: ['*'], secret: '' };
    const config = loadConfig({}, {}, { events: { webhooks: [hook] } });
    assert.equal(config.events.webhooks[0]!.id, hook.url);
    assert.throws(() => loadConfig({}, {}, { events: { webhooks: [hook, hook] } }), /two hooks named/);
    assert.throws(() => loadConfig({}, {}, { events: { webhooks: [{ ...hook, url: 'ftp://x' }] } }), ConfigError);
  });
});
