// The TypeScript SDK against a real notebookd, with token and AK/SK credentials.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, NotebookdError } from '../../src/sdk/index.ts';
import { AK, createBody, PROJECT, SK, startTestService, TOKEN, type TestService } from '../support/service.ts';

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

const HOUR = 3_600_000;
const quick = { intervalMs: 20, timeoutMs: 20_000 };

describe('SDK', () => {
  for (const [label, credentials] of [
    ['X-Auth-Token', { token: TOKEN }],
    ['AK/SK signature', { accessKey: AK, secretKey: SK }],
  ] as const) {
    it(`drives a notebook through its life with ${label}`, async () => {
      const client = createClient({ endpoint: svc.url, projectId: PROJECT, credentials });
      const created = await client.notebooks.create(createBody({ name: `sdk_${label.length}` }) as never);
      const seen: string[] = [];
      const running = await client.notebooks.waitFor(created.id, ['RUNNING'], { ...quick, onPoll: (n) => seen.push(n.status) });
      assert.equal(running?.status, 'RUNNING');
      assert.equal(seen.at(-1), 'RUNNING');
      const lease = await client.notebooks.renewLease(created.id, { duration: 2 * HOUR, type: 'TIMING' });
      assert.equal(lease.stop_at! - lease.update_at, 2 * HOUR);
      await client.notebooks.stop(created.id);
      await client.notebooks.waitFor(created.id, ['STOPPED'], quick);
      const updated = await client.notebooks.update(created.id, { flavor: 'modelarts.vm.cpu.8u', storage_new_size: 8 });
      assert.equal(updated.flavor, 'modelarts.vm.cpu.8u');
      await client.notebooks.delete(created.id);
      assert.equal(await client.notebooks.waitFor(created.id, ['DELETED'], quick), null);
    });
  }

  it('raises typed errors carrying error_code, HTTP status and request id', async () => {
    const client = createClient({ endpoint: svc.url, projectId: PROJECT, credentials: { token: TOKEN } });
    await assert.rejects(client.notebooks.show('00000000-0000-4000-8000-000000000000'), (e: unknown) => {
      assert.ok(e instanceof NotebookdError);
      assert.equal(e.errorCode, 'ModelArts.6404');
      assert.equal(e.httpStatus, 404);
      assert.ok(e.requestId);
      return true;
    });
    const wrong = createClient({ endpoint: svc.url, projectId: PROJECT, credentials: { accessKey: AK, secretKey: 'not-the-secret' } });
    await assert.rejects(wrong.flavors.list(), (e: unknown) => e instanceof NotebookdError && e.errorCode === 'APIGW.0301' && e.httpStatus === 401);
  });

  it('iterates over every page', async () => {
    const client = createClient({ endpoint: svc.url, projectId: PROJECT, credentials: { token: TOKEN } });
    const prefix = `iter${Date.now() % 10000}`;
    for (let i = 0; i < 12; i++) await client.notebooks.create(createBody({ name: `${prefix}_${i}` }) as never);
    const names: string[] = [];
    for await (const n of client.notebooks.iterate({ name: prefix, limit: 10, sort_key: 'name', sort_dir: 'ASC' })) names.push(n.name);
    assert.equal(names.length, 12);
    assert.deepEqual(names, [...names].sort());
  });

  it('waitFor stops early when the instance fails instead of reaching the wanted status', async () => {
    const client = createClient({ endpoint: svc.url, projectId: PROJECT, credentials: { token: TOKEN } });
    const created = await client.notebooks.create(createBody() as never);
    await client.notebooks.waitFor(created.id, ['RUNNING'], quick);
    await assert.rejects(client.notebooks.waitFor(created.id, ['STOPPED'], { intervalMs: 10, timeoutMs: 200 }), (e: unknown) => e instanceof NotebookdError && e.errorCode === 'NOTEBOOKD.WAIT_TIMEOUT');
  });
});
