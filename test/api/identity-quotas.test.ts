// Quotas over real HTTP: per project and per user (instances, running instances, vCPUs, GPUs,
// storage), the flavors a project may use, one DEFAULT instance per user, who may set what, and
// that an over-quota request is a clear 400 that changes nothing, also under concurrency.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBody, PROJECT, startTestService, type TestService } from '../support/service.ts';
import { startPostgres } from '../support/postgres.ts';
import { assertError, createProject, createUser, waitForInstance, type TestUser } from './identity-helpers.ts';

let svc: TestService;

before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

/** A fresh project with a member, so each test starts from zero usage. */
async function freshProject(name: string): Promise<{ projectId: string; member: TestUser; lead: TestUser }> {
  const projectId = await createProject(svc, name);
  const lead = await createUser(svc, `${name}-lead`, { projectId, role: 'admin' });
  const member = await createUser(svc, `${name}-member`, { projectId });
  return { projectId, member, lead };
}

const setProjectQuota = (projectId: string, body: unknown) => svc.api.put(`/v1/${projectId}/quotas`, body);
const create = (user: TestUser, overrides: Record<string, unknown> = {}) => user.api.post(`/v1/${user.projectId}/notebooks`, createBody(overrides));
const countOf = async (user: TestUser) => (await user.api.get(`/v1/${user.projectId}/notebooks?limit=50`)).body.total as number;

describe('quota limits', () => {
  it('project instances: the one past the limit is 400 ModelArts.0113 and nothing is created', async () => {
    const { projectId, member, lead } = await freshProject('q-instances');
    assert.equal((await setProjectQuota(projectId, { project: { instances: 2 } })).status, 200);
    assert.equal((await create(member, { name: 'one' })).status, 200);
    assert.equal((await create(lead, { name: 'two' })).status, 200);

    const third = await create(member, { name: 'three' });

    assertError(third, 400, 'ModelArts.0113');
    assert.equal(third.body.error_msg, 'Create Notebook failed. Quota: instances of the project is exhausted.');
    assert.equal(await countOf(member), 1);
    const q = await member.api.get(`/v1/${projectId}/quotas`);
    assert.equal(q.body.project.usage.instances, 2);
    assert.equal(q.body.project.limits.instances, 2);
  });

  it('per-user default and per-user override: running instances; a stop frees the slot, a start past it is refused', async () => {
    const { projectId, member, lead } = await freshProject('q-running');
    await setProjectQuota(projectId, { user_default: { running_instances: 1 } });
    const first = await create(member, { name: 'first' });
    assert.equal(first.status, 200);
    assert.equal((await create(lead, { name: 'leads' })).status, 200, 'another user has their own allowance');

    assertError(await create(member, { name: 'second' }), 400, 'ModelArts.0113', 'second running instance');

    await waitForInstance(svc.api, projectId, first.body.id, (nb) => nb.status === 'RUNNING');
    await member.api.post(`/v1/${projectId}/notebooks/${first.body.id}/stop`);
    await waitForInstance(svc.api, projectId, first.body.id, (nb) => nb.status === 'STOPPED');
    const second = await create(member, { name: 'second' });
    assert.equal(second.status, 200, 'the stopped instance no longer counts as running');

    const start = await member.api.post(`/v1/${projectId}/notebooks/${first.body.id}/start`);
    assertError(start, 400, 'ModelArts.0113');
    assert.equal(start.body.error_msg, 'Start Notebook failed. Quota: running_instances of the user is exhausted.');
    assert.equal((await svc.api.get(`/v1/${projectId}/notebooks/${first.body.id}`)).body.status, 'STOPPED', 'the refused start changed nothing');

    // A user's own limits win over the project's default for users.
    const own = await lead.api.put(`/v1/${projectId}/quotas/users/${member.id}`, { running_instances: 2 });
    assert.equal(own.status, 200);
    assert.equal(own.body.own_limits, true);
    assert.equal((await member.api.post(`/v1/${projectId}/notebooks/${first.body.id}/start`)).status, 200);

    // Dropping them brings the default back.
    assert.equal((await lead.api.delete(`/v1/${projectId}/quotas/users/${member.id}`)).status, 204);
    const back = await member.api.get(`/v1/${projectId}/quotas/users/${member.id}`);
    assert.equal(back.body.own_limits, false);
    assert.equal(back.body.limits.running_instances, 1);
    assert.equal(back.body.usage.running_instances, 2);
  });

  it('vCPUs and GPUs count running instances by flavor', async () => {
    const { projectId, member } = await freshProject('q-vcpus');
    await setProjectQuota(projectId, { project: { vcpus: 6, gpus: 0 } });
    assert.equal((await create(member, { name: 'four', flavor: 'modelarts.vm.cpu.4u' })).status, 200);
    assert.equal((await create(member, { name: 'two', flavor: 'modelarts.vm.cpu.2u' })).status, 200);

    const over = await create(member, { name: 'more', flavor: 'modelarts.vm.cpu.2u' });

    assertError(over, 400, 'ModelArts.0113');
    assert.match(over.body.error_msg, /Quota: vcpus of the project is exhausted/);
    const q = (await member.api.get(`/v1/${projectId}/quotas`)).body;
    assert.deepEqual([q.project.usage.vcpus, q.project.usage.running_instances, q.project.usage.gpus], [6, 2, 0]);
  });

  it('storage: creates and grows are checked against the user\'s total; null lifts the limit again', async () => {
    const { projectId, member, lead } = await freshProject('q-storage');
    await lead.api.put(`/v1/${projectId}/quotas/users/${member.id}`, { storage_gb: 12 });
    const five = await create(member, { name: 'five', volume: { category: 'EVS', ownership: 'MANAGED', capacity: 5 } });
    assert.equal(five.status, 200);
    assertError(await create(member, { name: 'eight', volume: { category: 'EVS', ownership: 'MANAGED', capacity: 8 } }), 400, 'ModelArts.0113');
    assert.equal((await create(member, { name: 'seven', volume: { category: 'EVS', ownership: 'MANAGED', capacity: 7 } })).status, 200);

    await waitForInstance(svc.api, projectId, five.body.id, (nb) => nb.status === 'RUNNING');
    const grow = await member.api.put(`/v1/${projectId}/notebooks/${five.body.id}`, { storage_new_size: 6 });
    assertError(grow, 400, 'ModelArts.0113');
    assert.match(grow.body.error_msg, /^Update Notebook failed\. Quota: storage_gb of the user is exhausted\.$/);

    assert.equal((await lead.api.put(`/v1/${projectId}/quotas/users/${member.id}`, { storage_gb: null })).status, 200);
    assert.equal((await member.api.put(`/v1/${projectId}/notebooks/${five.body.id}`, { storage_new_size: 6 })).status, 200);
  });

  it('flavors a project may use: others are 400 ModelArts.6328 on create and on update', async () => {
    const { projectId, member } = await freshProject('q-flavors');
    const set = await setProjectQuota(projectId, { project: { flavors: ['modelarts.vm.cpu.2u'] } });
    assert.deepEqual(set.body.project.limits.flavors, ['modelarts.vm.cpu.2u']);

    assertError(await create(member, { name: 'big', flavor: 'modelarts.vm.cpu.8u' }), 400, 'ModelArts.6328');
    const ok = await create(member, { name: 'small' });
    assert.equal(ok.status, 200);
    await waitForInstance(svc.api, projectId, ok.body.id, (nb) => nb.status === 'RUNNING');
    await member.api.post(`/v1/${projectId}/notebooks/${ok.body.id}/stop`);
    await waitForInstance(svc.api, projectId, ok.body.id, (nb) => nb.status === 'STOPPED');
    assertError(await member.api.put(`/v1/${projectId}/notebooks/${ok.body.id}`, { flavor: 'modelarts.vm.cpu.4u' }), 400, 'ModelArts.6328');
    assertError(await setProjectQuota(projectId, { project: { flavors: ['no.such.flavor'] } }), 400, 'ModelArts.6323');

    assert.equal((await setProjectQuota(projectId, { project: { flavors: null } })).status, 200);
    assert.equal((await member.api.put(`/v1/${projectId}/notebooks/${ok.body.id}`, { flavor: 'modelarts.vm.cpu.4u' })).status, 200);
  });

  it('at most one free (DEFAULT) instance per user: the second is 400 ModelArts.6302', async () => {
    const { member, lead } = await freshProject('q-default');
    const free = { name: 'free', flavor: 'modelarts.vm.cpu.free', feature: 'DEFAULT' };
    assert.equal((await create(member, free)).status, 200);
    assertError(await create(member, { ...free, name: 'free2' }), 400, 'ModelArts.6302');
    assert.equal((await create(lead, free)).status, 200, 'one per user, not per project');
  });
});

describe('concurrency', () => {
  // On SQLite every query is synchronous, so requests never interleave; PostgreSQL's real I/O lets
  // them, which is where an unguarded check-then-insert would overshoot.
  it('on PostgreSQL, concurrent creates cannot overshoot: with 3 left, 30 at once give exactly 3 instances', async () => {
    const database = await startPostgres();
    const pgsvc = await startTestService({ databaseUrl: database.url });
    try {
      const projectId = (await pgsvc.api.post('/v3/projects', { project: { name: 'q-race' } })).body.project.id;
      assert.equal((await pgsvc.api.put(`/v1/${projectId}/quotas`, { project: { instances: 3 } })).status, 200);

      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => pgsvc.api.post(`/v1/${projectId}/notebooks`, createBody({ name: `race${i}` }))),
      );

      assert.equal(results.filter((r) => r.status === 200).length, 3, results.map((r) => r.body.error_code ?? r.status).join(' '));
      assert.ok(results.filter((r) => r.status !== 200).every((r) => r.body.error_code === 'ModelArts.0113'), 'results.filter((r) => r.status !== 200).every((r) => r.body.');
      assert.equal((await pgsvc.api.get(`/v1/${projectId}/notebooks/all?limit=50`)).body.total, 3);
    } finally {
      await pgsvc.close();
      await database.dropDatabase();
    }
  });
});

describe('who sets quotas', () => {
  it('project limits: system administrators only; per-user limits: project admins too; members read their own', async () => {
    const { projectId, member, lead } = await freshProject('q-perms');
    assertError(await lead.api.put(`/v1/${projectId}/quotas`, { project: { instances: 100 } }), 403, 'ModelArts.0108');
    assertError(await member.api.put(`/v1/${projectId}/quotas/users/${member.id}`, { instances: 100 }), 403, 'ModelArts.0108');
    assertError(await lead.api.put(`/v1/${PROJECT}/quotas/users/${member.id}`, { instances: 1 }), 403, 'ModelArts.0210');
    assert.equal((await lead.api.put(`/v1/${projectId}/quotas/users/${member.id}`, { instances: 4 })).status, 200);

    const mine = await member.api.get(`/v1/${projectId}/quotas`);
    assert.equal(mine.status, 200);
    assert.equal(mine.body.user.user_id, member.id);
    assert.equal(mine.body.user.limits.instances, 4);
    assert.equal((await member.api.get(`/v1/${projectId}/quotas/users/${member.id}`)).status, 200);
    assertError(await member.api.get(`/v1/${projectId}/quotas/users/${lead.id}`), 404, 'ModelArts.6404', 'another user\'s quota');
  });

  it('rejects bad limits with the validation codes and changes nothing', async () => {
    const { projectId } = await freshProject('q-bad');
    const before = (await svc.api.get(`/v1/${projectId}/quotas`)).body;
    assertError(await setProjectQuota(projectId, { project: { instances: -1 } }), 400, 'ModelArts.6336');
    assertError(await setProjectQuota(projectId, { project: { instances: '3' } }), 400, 'ModelArts.6332');
    assertError(await setProjectQuota(projectId, { project: { cpus: 3 } }), 400, 'ModelArts.6336');
    assertError(await setProjectQuota('no-such-project', { project: { instances: 3 } }), 404, 'ModelArts.6404');
    assert.deepEqual((await svc.api.get(`/v1/${projectId}/quotas`)).body, before);
  });
});
