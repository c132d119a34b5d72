// The reconciler's create path: prepare once, hand over to STARTING, launch in the same worker
// without preparing again; progress is reported as it happens (without the runtime waiting for
// each write) and ends COMPLETED. A start of a stopped instance still prepares (it remounts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFakeRuntime, type FakeRuntime } from '../../src/runtime/fake/fake-runtime.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const lifecycleCalls = (runtime: FakeRuntime, id: string) =>
  runtime.calls.filter((c) => c.instanceId === id && (c.method === 'prepare' || c.method === 'start' || c.method === 'stop')).map((c) => c.method);

describe('create path', () => {
  let svc: TestService;
  let runtime: FakeRuntime;

  before(async () => {
    runtime = createFakeRuntime({ prepareDelayMs: 300 });
    svc = await startTestService({ runtime });
  });

  after(async () => {
    await runtime.killAll?.();
    await svc.close();
  });

  it('prepares once, then starts; storage progress is visible while it is prepared; all four steps end COMPLETED', async () => {
    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody());
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    const preparing = await waitForNotebook(svc.api, id, (nb) => nb.action_progress?.[0]?.status === 'PROCESSING', 10_000);
    assert.equal(preparing.status, 'CREATING');
    const running = await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', 10_000);
    assert.deepEqual(running.action_progress.map((p: any) => p.status), ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
    assert.deepEqual(lifecycleCalls(runtime, id), ['prepare', 'start']);
    const events = await svc.api.get(`/v1/${PROJECT}/notebooks/${id}/events`);
    assert.equal(events.status, 200);
    const text = JSON.stringify(events.body);
    assert.ok(text.includes('notebook.starting') && text.indexOf('notebook.starting') < text.indexOf('notebook.running'), `STARTING, then RUNNING: ${text.slice(0, 600)}`);
  });

  it('a start of a stopped instance prepares again before it starts', async () => {
    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ name: 'restarted' }));
    const id = created.body.id as string;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', 10_000);
    assert.equal((await svc.api.post(`/v1/${PROJECT}/notebooks/${id}/stop`)).status, 200);
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'STOPPED', 10_000);
    assert.equal((await svc.api.post(`/v1/${PROJECT}/notebooks/${id}/start`)).status, 200);
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', 10_000);
    assert.deepEqual(lifecycleCalls(runtime, id), ['prepare', 'start', 'stop', 'prepare', 'start']);
  });
});
