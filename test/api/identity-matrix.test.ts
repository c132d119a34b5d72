// The authorisation matrix: every notebook operation × role × (own, another user's, another
// project's) instance, with the exact status and error code, over real HTTP. Roles: system
// administrator, project admin, member (token and AK/SK), viewer, and a member of another project.
// Each cell gets its own RUNNING instance, walks the operations in an order that keeps the allowed
// ones valid (stop before start, delete last) and checks that refused ones changed nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBody, PROJECT, startTestService, type ApiResponse, type TestService } from '../support/service.ts';
import { assertError, createProject, createUser, SignedClient, waitForInstance, type TestUser } from './identity-helpers.ts';

interface Client {
  request(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
  post(path: string, body?: unknown): Promise<ApiResponse>;
}

type Target = 'own' | 'other user\'s' | 'other project\'s';
/** all: every operation succeeds; read-only: reads succeed, writes 403 0108; none: everything 403 0108; wrong-project: 403 0210. */
type Outcome = 'all' | 'read-only' | 'none' | 'wrong-project';

const ACTORS = ['system admin', 'admin', 'member', 'member (AK/SK)', 'viewer', 'other project\'s member'] as const;
type Actor = (typeof ACTORS)[number];
const TARGETS: readonly Target[] = ['own', 'other user\'s', 'other project\'s'];

// The specification.
const EXPECTED: Record<Actor, Record<Target, Outcome>> = {
  'system admin': { own: 'all', 'other user\'s': 'all', 'other project\'s': 'all' },
  admin: { own: 'all', 'other user\'s': 'all', 'other project\'s': 'wrong-project' },
  member: { own: 'all', 'other user\'s': 'none', 'other project\'s': 'wrong-project' },
  'member (AK/SK)': { own: 'all', 'other user\'s': 'none', 'other project\'s': 'wrong-project' },
  viewer: { own: 'read-only', 'other user\'s': 'read-only', 'other project\'s': 'wrong-project' },
  'other project\'s member': { own: 'all', 'other user\'s': 'none', 'other project\'s': 'wrong-project' },
};

interface Op {
  name: string;
  access: 'read' | 'write';
  call(c: Client, base: string): Promise<ApiResponse>;
  /** After a successful call, what the next operation needs. */
  settle?: 'STOPPED';
}

const TAG = { tags: [{ key: 'matrix', value: 'yes' }] };
const OPS: Op[] = [
  { name: 'ShowNotebook', access: 'read', call: (c, b) => c.get(b) },
  { name: 'ShowLease', access: 'read', call: (c, b) => c.get(`${b}/lease`) },
  { name: 'ShowSwitchableFlavors', access: 'read', call: (c, b) => c.get(`${b}/flavors`) },
  { name: 'ListNotebookEvents', access: 'read', call: (c, b) => c.get(`${b}/events`) },
  { name: 'ShowNotebookLogs', access: 'read', call: (c, b) => c.get(`${b}/logs`) },
  { name: 'UpdateNotebook', access: 'write', call: (c, b) => c.request('PUT', b, { description: 'changed by the matrix' }) },
  { name: 'RenewLease', access: 'write', call: (c, b) => c.request('PATCH', `${b}/lease`, { duration: 7_200_000 }) },
  { name: 'CreateNotebookTags', access: 'write', call: (c, b) => c.post(`${b}/tags/create`, TAG) },
  { name: 'DeleteNotebookTags', access: 'write', call: (c, b) => c.request('DELETE', `${b}/tags/delete`, TAG) },
  { name: 'StopNotebook', access: 'write', call: (c, b) => c.post(`${b}/stop`), settle: 'STOPPED' },
  { name: 'StartNotebook', access: 'write', call: (c, b) => c.post(`${b}/start`) },
  { name: 'DeleteNotebook', access: 'write', call: (c, b) => c.request('DELETE', b) },
];

function expectedFor(outcome: Outcome, op: Op): { status: number; code?: string } {
  switch (outcome) {
    case 'all':
      return { status: 200 };
    case 'read-only':
      return op.access === 'read' ? { status: 200 } : { status: 403, code: 'ModelArts.0108' };
    case 'none':
      return { status: 403, code: 'ModelArts.0108' };
    case 'wrong-project':
      return { status: 403, code: 'ModelArts.0210' };
  }
}

let svc: TestService;
let projectB: string;
const clients = new Map<Actor, Client>();
/** Whose instance each cell uses, and where it lives. */
const cells = new Map<string, { id: string; projectId: string }>();
const homeOf = (actor: Actor) => (actor === 'other project\'s member' ? projectB : PROJECT);
let users: Record<'adminA' | 'memberA' | 'otherA' | 'viewerA' | 'memberB' | 'otherB', TestUser>;

async function instanceOf(owner: Client, projectId: string, name: string): Promise<string> {
  const res = await owner.post(`/v1/${projectId}/notebooks`, createBody({ name, lease: { duration: 7_200_000, type: 'timing' } }));
  assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
  return res.body.id;
}

before(async () => {
  svc = await startTestService();
  projectB = await createProject(svc, 'matrix-b');
  users = {
    adminA: await createUser(svc, 'admin-a', { role: 'admin' }),
    memberA: await createUser(svc, 'member-a'),
    otherA: await createUser(svc, 'other-a'),
    // A member while it creates its own instances, demoted to viewer below.
    viewerA: await createUser(svc, 'viewer-a'),
    memberB: await createUser(svc, 'member-b', { projectId: projectB }),
    otherB: await createUser(svc, 'other-b', { projectId: projectB }),
  };
  const key = await users.memberA.api.post('/v3.0/OS-CREDENTIAL/credentials', { credential: {} });
  clients.set('system admin', svc.api);
  clients.set('admin', users.adminA.api);
  clients.set('member', users.memberA.api);
  clients.set('member (AK/SK)', new SignedClient(svc.url, key.body.credential.access, key.body.credential.secret, undefined, { 'X-Project-Id': PROJECT }));
  clients.set('viewer', users.viewerA.api);
  clients.set('other project\'s member', users.memberB.api);

  for (const actor of ACTORS) {
    const home = homeOf(actor);
    const other = actor === 'other project\'s member' ? users.otherB : users.otherA;
    const foreign = actor === 'other project\'s member' ? { owner: users.otherA.api as Client, projectId: PROJECT } : { owner: users.otherB.api as Client, projectId: projectB };
    const slug = actor.replace(/[^a-z]+/g, '_');
    cells.set(`${actor}|own`, { id: await instanceOf(clients.get(actor)!, home, `own_${slug}`), projectId: home });
    cells.set(`${actor}|other user's`, { id: await instanceOf(other.api, home, `other_${slug}`), projectId: home });
    cells.set(`${actor}|other project's`, { id: await instanceOf(foreign.owner, foreign.projectId, `foreign_${slug}`), projectId: foreign.projectId });
  }
  for (const { id, projectId } of cells.values()) await waitForInstance(svc.api, projectId, id, (nb) => nb?.status === 'RUNNING');
  const demoted = await svc.api.request('PUT', `/v3/projects/${PROJECT}/users/${users.viewerA.id}/roles/viewer`);
  assert.equal(demoted.status, 204);
});
after(async () => {
  await svc.close();
});

describe('authorisation matrix: instance operations', () => {
  for (const actor of ACTORS) {
    for (const target of TARGETS) {
      const outcome = EXPECTED[actor][target];
      it(`${actor} × ${target} instance → ${outcome}`, async () => {
        const client = clients.get(actor)!;
        const { id, projectId } = cells.get(`${actor}|${target}`)!;
        const base = `/v1/${projectId}/notebooks/${id}`;
        const before = (await svc.api.get(base)).body;

        for (const op of OPS) {
          const res = await op.call(client, base);
          const want = expectedFor(outcome, op);
          if (want.code) assertError(res, want.status, want.code, `${actor} ${op.name} on ${target}`);
          else assert.equal(res.status, want.status, `${actor} ${op.name} on ${target} → ${res.status} ${JSON.stringify(res.body)}`);
          if (res.status === 200 && op.settle) await waitForInstance(svc.api, projectId, id, (nb) => nb?.status === op.settle);
        }

        const afterwards = await svc.api.get(base);
        if (outcome === 'all') {
          assert.ok(afterwards.status === 404 || ['DELETING', 'DELETED'].includes(afterwards.body.status), 'the walk ended with a delete');
        } else {
          // A refused write changes nothing.
          assert.equal(afterwards.body.status, 'RUNNING');
          assert.equal(afterwards.body.description, before.description);
          assert.deepEqual(afterwards.body.tags ?? [], before.tags ?? []);
          assert.equal(afterwards.body.lease.duration, before.lease.duration);
        }
        if (target === 'other project\'s') {
          // Through the caller's own project path, another project's instance does not exist.
          assertError(await client.get(`/v1/${homeOf(actor)}/notebooks/${id}`), 404, 'ModelArts.6404', `${actor} via own project path`);
        }
      });
    }
  }
});

describe('authorisation matrix: project operations', () => {
  const projectOps: { name: string; access: 'read' | 'write'; call: (c: Client, p: string) => Promise<ApiResponse> }[] = [
    { name: 'ListNotebooks', access: 'read', call: (c, p) => c.get(`/v1/${p}/notebooks?limit=50`) },
    { name: 'ShowNotebookTags', access: 'read', call: (c, p) => c.get(`/v1/${p}/notebooks/tags`) },
    { name: 'ListFlavors', access: 'read', call: (c, p) => c.get(`/v1/${p}/notebooks/flavors`) },
    { name: 'ListImage', access: 'read', call: (c, p) => c.get(`/v1/${p}/images`) },
    { name: 'ShowQuotas', access: 'read', call: (c, p) => c.get(`/v1/${p}/quotas`) },
    { name: 'CreateNotebook', access: 'write', call: (c, p) => c.post(`/v1/${p}/notebooks`, createBody({ name: 'project_op' })) },
    {
      name: 'RegisterImage',
      access: 'write',
      call: (c, p) => c.post(`/v1/${p}/images`, { swr_path: 'swr.local/team/matrix-image:v1', program: 'notebook' }),
    },
  ];
  const canWrite = (actor: Actor) => actor !== 'viewer';

  for (const actor of ACTORS) {
    it(`${actor}: own project reads 200, writes ${canWrite(actor) ? '200' : '403 0108'}; the other project ${actor === 'system admin' ? '200' : '403 0210'}`, async () => {
      const client = clients.get(actor)!;
      const home = homeOf(actor);
      const away = home === PROJECT ? projectB : PROJECT;
      for (const op of projectOps) {
        const res = await op.call(client, home);
        if (op.access === 'write' && !canWrite(actor)) assertError(res, 403, 'ModelArts.0108', `${actor} ${op.name}`);
        else assert.equal(res.status, 200, `${actor} ${op.name} → ${JSON.stringify(res.body).slice(0, 300)}`);
        if (res.status === 200 && op.name === 'CreateNotebook') await client.request('DELETE', `/v1/${home}/notebooks/${res.body.id}`);
        if (res.status === 200 && op.name === 'RegisterImage') await client.request('DELETE', `/v1/${home}/images/${res.body.id}`);

        const elsewhere = await op.call(client, away);
        if (actor === 'system admin') assert.equal(elsewhere.status, 200, `${actor} ${op.name} in the other project → ${JSON.stringify(elsewhere.body).slice(0, 300)}`);
        else assertError(elsewhere, 403, 'ModelArts.0210', `${actor} ${op.name} in the other project`);
        if (elsewhere.status === 200 && op.name === 'CreateNotebook') await client.request('DELETE', `/v1/${away}/notebooks/${elsewhere.body.id}`);
        if (elsewhere.status === 200 && op.name === 'RegisterImage') await client.request('DELETE', `/v1/${away}/images/${elsewhere.body.id}`);
      }
    });
  }

  it('ListNotebooks returns only the caller\'s own instances, for every role', async () => {
    for (const [actor, userId] of [['admin', users.adminA.id], ['member', users.memberA.id], ['member (AK/SK)', users.memberA.id], ['viewer', users.viewerA.id], ['other project\'s member', users.memberB.id]] as const) {
      const res = await clients.get(actor)!.get(`/v1/${homeOf(actor)}/notebooks?limit=50&status=RUNNING`);
      assert.equal(res.status, 200);
      assert.ok(res.body.data.every((nb: any) => nb.user.id === userId), `${actor} sees only its own`);
    }
  });

  it('ListAllNotebooks: the whole project for admins, viewers and system admins (with the owner filter), 403 0108 for members', async () => {
    const expectedOthers = (await svc.api.get(`/v1/${PROJECT}/notebooks/all?limit=50&owner=${users.otherA.id}`)).body;
    assert.ok(expectedOthers.total >= 1, 'other-a owns instances');
    for (const actor of ['system admin', 'admin', 'viewer'] as const) {
      const all = await clients.get(actor)!.get(`/v1/${PROJECT}/notebooks/all?limit=50`);
      assert.equal(all.status, 200, actor);
      assert.ok(new Set(all.body.data.map((nb: any) => nb.user.id)).size >= 2, `${actor} sees several owners`);
      const filtered = await clients.get(actor)!.get(`/v1/${PROJECT}/notebooks/all?limit=50&owner=${users.otherA.id}`);
      assert.equal(filtered.body.total, expectedOthers.total);
      assert.ok(filtered.body.data.every((nb: any) => nb.user.id === users.otherA.id && nb.user_id === users.otherA.id), `${actor} owner filter`);
    }
    assertError(await clients.get('member')!.get(`/v1/${PROJECT}/notebooks/all`), 403, 'ModelArts.0108');
    assertError(await clients.get('member (AK/SK)')!.get(`/v1/${PROJECT}/notebooks/all`), 403, 'ModelArts.0108');
    assertError(await clients.get('other project\'s member')!.get(`/v1/${projectB}/notebooks/all`), 403, 'ModelArts.0108');
    assertError(await clients.get('admin')!.get(`/v1/${projectB}/notebooks/all`), 403, 'ModelArts.0210');
  });

  it('every instance records its owner in user {id, name, domain}', async () => {
    const nb = (await svc.api.get(`/v1/${PROJECT}/notebooks/${cells.get('member|other user\'s')!.id}`)).body;
    assert.deepEqual(nb.user, { id: users.otherA.id, name: 'other-a', domain: { id: PROJECT, name: 'default' } });
    const nbB = (await svc.api.get(`/v1/${projectB}/notebooks/${cells.get('member|other project\'s')!.id}`)).body;
    assert.deepEqual(nbB.user, { id: users.otherB.id, name: 'other-b', domain: { id: projectB, name: 'matrix-b' } });
  });
});

