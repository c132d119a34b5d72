// Administration over real HTTP: Keystone-shaped projects, users and role assignments, who may do
// what, the audit trail of every mutating call, and the `notebookd admin` CLI (the real binary)
// working on the same store as a running server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createBody, PROJECT, startTestService, type TestService } from '../support/service.ts';
import { assertError, createProject, createUser, login, passwordBody, tokenFor, type TestUser } from './identity-helpers.ts';

let svc: TestService;
let lead: TestUser;
let mia: TestUser;
let sysadminId: string;

before(async () => {
  svc = await startTestService();
  lead = await createUser(svc, 'lead', { role: 'admin' });
  mia = await createUser(svc, 'mia');
  sysadminId = (await svc.api.get('/v3/users?name=admin')).body.users[0].id;
});
after(async () => {
  await svc.close();
});

describe('projects (/v3/projects)', () => {
  it('a system administrator creates, lists, shows, renames and deletes projects in the Keystone shape', async () => {
    const created = await svc.api.post('/v3/projects', { project: { name: 'research', description: 'ignored', domain_id: 'default', enabled: true } });
    assert.equal(created.status, 201);
    const p = created.body.project;
    assert.match(p.id, /^[0-9a-f]{32}$/);
    assert.equal(p.name, 'research');
    assert.equal(p.enabled, true);
    assert.match(p.links.self, new RegExp(`/v3/projects/${p.id}$`));

    const listed = await svc.api.get('/v3/projects');
    assert.ok(listed.body.projects.some((x: any) => x.id === p.id) && listed.body.projects.some((x: any) => x.id === PROJECT), 'both projects listed');
    assert.deepEqual((await svc.api.get('/v3/projects?name=research')).body.projects.map((x: any) => x.id), [p.id]);
    assert.equal((await svc.api.get(`/v3/projects/${p.id}`)).body.project.name, 'research');

    const renamed = await svc.api.patch(`/v3/projects/${p.id}`, { project: { name: 'research-2' } });
    assert.equal(renamed.body.project.name, 'research-2');

    assert.equal((await svc.api.delete(`/v3/projects/${p.id}`)).status, 204);
    assertError(await svc.api.get(`/v3/projects/${p.id}`), 404, 'ModelArts.6404');
  });

  it('a chosen id, duplicate names and ids, bad names and enabled=false are refused clearly', async () => {
    const id = 'fedcba9876543210fedcba9876543210';
    assert.equal((await svc.api.post('/v3/projects', { project: { name: 'chosen', id } })).body.project.id, id);
    assertError(await svc.api.post('/v3/projects', { project: { name: 'chosen' } }), 409, 'ModelArts.6301');
    assertError(await svc.api.post('/v3/projects', { project: { name: 'other-name', id } }), 409, 'ModelArts.6301');
    assertError(await svc.api.post('/v3/projects', { project: { name: 'bad name!' } }), 400, 'ModelArts.6336');
    assertError(await svc.api.post('/v3/projects', { project: { name: 'off', enabled: false } }), 400, 'ModelArts.6336');
    assertError(await svc.api.post('/v3/projects', { project: {} }), 400, 'ModelArts.6335');
  });

  it('others see only their own project and manage none', async () => {
    assert.deepEqual((await mia.api.get('/v3/projects')).body.projects.map((p: any) => p.id), [PROJECT]);
    assert.deepEqual((await mia.api.get('/v3/auth/projects')).body.projects.map((p: any) => p.id), [PROJECT]);
    assertError(await lead.api.post('/v3/projects', { project: { name: 'nope' } }), 403, 'ModelArts.0108');
    assertError(await lead.api.patch(`/v3/projects/${PROJECT}`, { project: { name: 'nope' } }), 403, 'ModelArts.0108');
    assertError(await lead.api.delete(`/v3/projects/${PROJECT}`), 403, 'ModelArts.0108');
  });

  it('a project with instances or a system administrator is not deleted', async () => {
    const busy = await createProject(svc, 'busy');
    const owner = await createUser(svc, 'busy-owner', { projectId: busy });
    const nb = await owner.api.post(`/v1/${busy}/notebooks`, createBody());
    assert.equal(nb.status, 200);
    assertError(await svc.api.delete(`/v3/projects/${busy}`), 409, 'ModelArts.6357');
    assertError(await svc.api.delete(`/v3/projects/${PROJECT}`), 409, 'ModelArts.6357');
    assert.equal((await svc.api.get(`/v3/projects/${busy}`)).status, 200);
  });

  it('a system administrator may name any project in a path, but one that does not exist is 404 and nothing is created there', async () => {
    assertError(await svc.api.get('/v1/0000000000000000000000000000dead/notebooks'), 404, 'ModelArts.6404');
    assertError(await svc.api.post('/v1/0000000000000000000000000000dead/notebooks', createBody()), 404, 'ModelArts.6404');
    assertError(await svc.api.get('/v1/%3C%20%3E%2F../notebooks'), 404, 'ModelArts.6404');
    assertError(await mia.api.get('/v1/0000000000000000000000000000dead/notebooks'), 403, 'ModelArts.0210', 'others learn nothing about which projects exist');
    const count = await svc.service.store.notebooks.list({ projectId: '0000000000000000000000000000dead', sortKey: 'create_at', sortDir: 'DESC', offset: 0, limit: 10 });
    assert.equal(count.total, 0);
  });

  it('deleting a project deletes its users, and their tokens stop working', async () => {
    const gone = await createProject(svc, 'short-lived');
    const user = await createUser(svc, 'short-lived-user', { projectId: gone });
    assert.equal((await svc.api.delete(`/v3/projects/${gone}`)).status, 204);
    assertError(await user.api.get(`/v1/${gone}/notebooks`), 401, 'ModelArts.0203');
    assertError(await svc.api.get(`/v3/users/${user.id}`), 404, 'ModelArts.6404');
  });
});

describe('users and roles (/v3/users, /v3/projects/{p}/users/{u}/roles)', () => {
  it('a project admin creates a user in its project; the user signs in and has the role', async () => {
    const res = await lead.api.post('/v3/users', { user: { name: 'nina', password: 'nina-password-1', role: 'viewer', enabled: true, domain_id: 'default' } });
    assert.equal(res.status, 201);
    const u = res.body.user;
    assert.deepEqual([u.name, u.default_project_id, u.role, u.system_admin, u.password_set, u.enabled], ['nina', PROJECT, 'viewer', false, true, true]);
    assert.equal('password' in u, false);
    const token = (await login(svc, passwordBody('nina', 'nina-password-1'))).body.token;
    assert.deepEqual(token.roles, [{ id: 'viewer', name: 'viewer' }]);
    assert.deepEqual((await lead.api.get(`/v3/projects/${PROJECT}/users/${u.id}/roles`)).body.roles, [{ id: 'viewer', name: 'viewer' }]);
  });

  it('assigning a role replaces the user\'s role and takes effect on the next request', async () => {
    const olaf = await createUser(svc, 'olaf');
    assertError(await olaf.api.get(`/v1/${PROJECT}/notebooks/all`), 403, 'ModelArts.0108');

    assert.equal((await lead.api.request('PUT', `/v3/projects/${PROJECT}/users/${olaf.id}/roles/admin`)).status, 204);

    assert.equal((await olaf.api.get(`/v1/${PROJECT}/notebooks/all`)).status, 200, 'the same token, now an admin');
    assert.equal((await svc.api.get(`/v3/users/${olaf.id}`)).body.user.role, 'admin');
    assertError(await lead.api.request('PUT', `/v3/projects/${PROJECT}/users/${olaf.id}/roles/owner`), 400, 'ModelArts.6336');
    assertError(await mia.api.request('PUT', `/v3/projects/${PROJECT}/users/${mia.id}/roles/admin`), 403, 'ModelArts.0108', 'no self-promotion');
    const other = await createProject(svc, 'roles-other');
    assertError(await svc.api.request('PUT', `/v3/projects/${other}/users/${olaf.id}/roles/member`), 400, 'ModelArts.6336', 'a role only in its own project');
    const roles = await svc.api.get('/v3/roles');
    assert.deepEqual(roles.body.roles.map((r: any) => r.id), ['admin', 'member', 'viewer']);
  });

  it('project admins list, rename, reset and delete their project\'s users, and see nobody else', async () => {
    const listed = await lead.api.get('/v3/users');
    assert.equal(listed.status, 200);
    assert.ok(listed.body.users.every((u: any) => u.default_project_id === PROJECT), 'only the project\'s users');
    assert.ok(listed.body.users.some((u: any) => u.id === mia.id), 'mia listed');
    assertError(await mia.api.get('/v3/users'), 403, 'ModelArts.0108');
    assert.equal((await mia.api.get(`/v3/users/${mia.id}`)).status, 200, 'a user sees itself');
    assertError(await mia.api.get(`/v3/users/${lead.id}`), 404, 'ModelArts.6404');

    const other = await createProject(svc, 'users-other');
    const stranger = await createUser(svc, 'stranger', { projectId: other });
    assertError(await lead.api.get(`/v3/users/${stranger.id}`), 404, 'ModelArts.6404');
    assertError(await lead.api.get(`/v3/users?project_id=${other}`), 403, 'ModelArts.0210');
    assertError(await lead.api.post('/v3/users', { user: { name: 'intruder', default_project_id: other } }), 403, 'ModelArts.0210');
    assertError(await lead.api.delete(`/v3/users/${stranger.id}`), 404, 'ModelArts.6404');

    const pia = await createUser(svc, 'pia');
    assert.equal((await lead.api.patch(`/v3/users/${pia.id}`, { user: { name: 'pia-renamed' } })).body.user.name, 'pia-renamed');
    assertError(await lead.api.patch(`/v3/users/${pia.id}`, { user: { name: 'mia' } }), 409, 'ModelArts.6301');
    assert.equal((await lead.api.delete(`/v3/users/${pia.id}`)).status, 204);
    assertError(await pia.api.get(`/v1/${PROJECT}/notebooks`), 401, 'ModelArts.0203', 'a deleted user\'s token');
  });

  it('only system administrators make, unmake or touch system administrators; the last one stays', async () => {
    assertError(await lead.api.post('/v3/users', { user: { name: 'wannabe', system_admin: true } }), 403, 'ModelArts.0108');
    assertError(await lead.api.patch(`/v3/users/${sysadminId}`, { user: { password: 'taken-over-123' } }), 403, 'ModelArts.0108');
    assertError(await lead.api.delete(`/v3/users/${sysadminId}`), 403, 'ModelArts.0108');
    assertError(await lead.api.patch(`/v3/users/${lead.id}`, { user: { system_admin: true } }), 403, 'ModelArts.0108');

    assertError(await svc.api.patch(`/v3/users/${sysadminId}`, { user: { system_admin: false } }), 409, 'ModelArts.6357');
    assertError(await svc.api.delete(`/v3/users/${sysadminId}`), 409, 'ModelArts.6357');

    const second = await createUser(svc, 'second-root', { systemAdmin: true });
    assert.equal((await second.api.get(`/v3/users/${second.id}`)).body.user.system_admin, true);
    assert.equal((await second.api.patch(`/v3/users/${second.id}`, { user: { system_admin: false } })).body.user.system_admin, false);
  });

  it('user fields are validated: name, password length, role, duplicates', async () => {
    assertError(await lead.api.post('/v3/users', { user: { name: ' spaced' } }), 400, 'ModelArts.6336');
    assertError(await lead.api.post('/v3/users', { user: { name: 'shorty', password: 'short' } }), 400, 'ModelArts.6336');
    assertError(await lead.api.post('/v3/users', { user: { name: 'samename', password: 'samename' } }), 400, 'ModelArts.6336');
    assertError(await lead.api.post('/v3/users', { user: { name: 'roleless', role: 'root' } }), 400, 'ModelArts.6336');
    assertError(await lead.api.post('/v3/users', { user: { name: 'mia' } }), 409, 'ModelArts.6301');
    assertError(await lead.api.post('/v3/users', { user: { name: 'typed', password: 12345678 } }), 400, 'ModelArts.6332');
  });

  it('a user who owns instances is not deleted', async () => {
    const owner = await createUser(svc, 'instance-owner');
    assert.equal((await owner.api.post(`/v1/${PROJECT}/notebooks`, createBody({ name: 'owned' }))).status, 200);
    assertError(await lead.api.delete(`/v3/users/${owner.id}`), 409, 'ModelArts.6357');
  });
});

describe('audit trail (/v1/{project_id}/audit)', () => {
  it('records every mutating call with actor, source IP, operation, target and result; reads are not recorded', async () => {
    const quinn = await createUser(svc, 'quinn');
    const created = await quinn.api.post(`/v1/${PROJECT}/notebooks`, createBody({ name: 'audited' }));
    await quinn.api.get(`/v1/${PROJECT}/notebooks/${created.body.id}`);
    await quinn.api.post(`/v1/${PROJECT}/notebooks/${created.body.id}/stop`);
    await mia.api.request('DELETE', `/v1/${PROJECT}/notebooks/${created.body.id}`);

    const res = await lead.api.get(`/v1/${PROJECT}/audit?limit=50`);
    assert.equal(res.status, 200);
    const records = res.body.records as any[];
    const create = records.find((r) => r.operation === 'CreateNotebook' && r.target === created.body.id);
    assert.ok(create, JSON.stringify(records.slice(0, 5)));
    assert.deepEqual(
      { user: create.user, source_ip: create.source_ip, method: create.method, path: create.path, status_code: create.status_code, error_code: create.error_code },
      { user: { id: quinn.id, name: 'quinn' }, source_ip: '127.0.0.1', method: 'POST', path: '/v1/:project_id/notebooks', status_code: 200, error_code: null },
    );
    assert.match(create.request_id, /^[0-9a-f-]{36}$/);
    const refused = records.find((r) => r.operation === 'DeleteNotebook' && r.target === created.body.id);
    assert.deepEqual([refused.user.id, refused.status_code, refused.error_code], [mia.id, 403, 'ModelArts.0108'], 'refused calls are recorded too');
    assert.ok(records.some((r) => r.operation === 'StopNotebook' && r.target === created.body.id && r.status_code === 200), 'the stop is recorded');
    assert.equal(records.some((r) => r.method === 'GET'), false, 'reads are not recorded');
    assert.ok(records.some((r) => r.operation === 'CreateToken' && r.user?.id === quinn.id && r.status_code === 201), 'logins are recorded');
    assert.ok(records.some((r) => r.operation === 'CreateUser' && r.target === quinn.id), 'the user creation is recorded');
    // newest first
    assert.deepEqual(records.map((r) => r.id), [...records.map((r) => r.id)].sort((a, b) => b - a));
  });

  it('filters by operation, user and time, pages, and never contains a password, token or secret', async () => {
    const rita = await createUser(svc, 'rita');
    const key = await rita.api.post('/v3.0/OS-CREDENTIAL/credentials', { credential: {} });
    const byOp = await svc.api.get(`/v1/${PROJECT}/audit?operation=CreateCredential&user_id=${rita.id}`);
    assert.equal(byOp.body.total, 1);
    assert.equal(byOp.body.records[0].target, key.body.credential.access);
    const since = byOp.body.records[0].time;
    const window = await svc.api.get(`/v1/${PROJECT}/audit?since=${since}&until=${since}&operation=CreateCredential`);
    assert.ok(window.body.records.every((r: any) => r.time === since), 'inside the time window');
    const paged = await svc.api.get(`/v1/${PROJECT}/audit?limit=2&offset=1`);
    assert.equal(paged.body.records.length, 2);
    assert.equal(paged.body.offset, 1);

    const everything = JSON.stringify((await svc.api.get(`/v1/${PROJECT}/audit?limit=1000`)).body);
    for (const secret of [rita.password, rita.token, key.body.credential.secret]) assert.equal(everything.includes(secret), false);
    assertError(await svc.api.get(`/v1/${PROJECT}/audit?limit=0`), 400, 'ModelArts.6336');
    assertError(await svc.api.get(`/v1/${PROJECT}/audit?since=yesterday`), 400, 'ModelArts.6332');
  });

  it('is readable by project admins and system administrators only, each for their own reach', async () => {
    assertError(await mia.api.get(`/v1/${PROJECT}/audit`), 403, 'ModelArts.0108');
    const other = await createProject(svc, 'audit-other');
    assertError(await lead.api.get(`/v1/${other}/audit`), 403, 'ModelArts.0210');
    assert.equal((await svc.api.get(`/v1/${other}/audit`)).status, 200);
    const otherLead = await createUser(svc, 'audit-other-lead', { projectId: other, role: 'admin' });
    const theirs = (await otherLead.api.get(`/v1/${other}/audit?limit=1000`)).body.records as any[];
    assert.ok(theirs.every((r) => r.project_id === other), 'only the project\'s own records');
    assert.ok(theirs.some((r) => r.operation === 'CreateUser' && r.target === otherLead.id), 'a user created in the project by a system administrator');
  });
});

// ---- the admin CLI ----------------------------------------------------------------------------

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'notebookd.js');

function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NOTEBOOKD_')));
    const child = spawn(process.execPath, [BIN, 'admin', '--data-dir', svc.dataDir, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function cliJson(args: string[], stdin = ''): Promise<any> {
  const res = await cli(['--json', ...args], stdin);
  assert.equal(res.code, 0, `notebookd admin ${args.join(' ')}: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

describe('notebookd admin (the real binary, on a running server\'s store)', () => {
  it('creates a project and a user with a password from stdin; the user signs in to the running server', async () => {
    const project = await cliJson(['project', 'create', 'cli-team']);
    assert.match(project.id, /^[0-9a-f]{32}$/);
    const user = await cliJson(['user', 'create', 'cli-alice', '--project', 'cli-team', '--role', 'admin', '--password-stdin'], 'cli-alice-password\n');
    assert.equal(user.role, 'admin');
    assert.equal(user.password, undefined, 'a given password is not echoed');

    const token = await tokenFor(svc, 'cli-alice', 'cli-alice-password', project.id);
    assert.equal((await svc.api.withHeaders({ 'X-Auth-Token': token }).get(`/v1/${project.id}/notebooks`)).status, 200);

    const listed = await cliJson(['user', 'list', '--project', 'cli-team']);
    assert.deepEqual(listed.map((u: any) => u.name), ['cli-alice']);
  });

  it('issues access keys and tokens, resets passwords (revoking tokens), assigns roles', async () => {
    const key = await cliJson(['credential', 'create', 'cli-team/cli-alice', '--description', 'ci']);
    assert.match(key.access, /^[A-Z0-9]{20}$/);
    assert.match(key.secret, /^[A-Za-z0-9]{40}$/);
    const keysOf = async () => (await svc.api.get(`/v3.0/OS-CREDENTIAL/credentials?user_id=${key.user_id}`)).body.credentials.map((k: any) => k.access);
    assert.deepEqual(await keysOf(), [key.access]);

    const issued = await cliJson(['token', 'issue', 'cli-team/cli-alice', '--lifetime-ms', '600000']);
    const api = svc.api.withHeaders({ 'X-Auth-Token': issued.token });
    assert.equal((await api.get(`/v1/${issued.project_id}/notebooks`)).status, 200);

    const reset = await cliJson(['user', 'reset-password', 'cli-team/cli-alice']);
    assert.match(reset.password, /^[A-Za-z0-9_-]{16}$/, 'a generated password is shown once');
    assertError(await api.get(`/v1/${issued.project_id}/notebooks`), 401, 'ModelArts.0203', 'tokens are revoked by the reset');
    assert.equal((await login(svc, passwordBody('cli-alice', reset.password, { name: 'cli-team' }))).status, 201);

    const demoted = await cliJson(['user', 'set-role', 'cli-team/cli-alice', 'viewer']);
    assert.equal(demoted.role, 'viewer');

    const again = await cliJson(['token', 'issue', 'cli-team/cli-alice']);
    assert.equal((await cli(['token', 'revoke'], `${again.token}\n`)).code, 0);
    assertError(await svc.api.withHeaders({ 'X-Auth-Token': again.token }).get(`/v1/${again.project_id}/notebooks`), 401, 'ModelArts.0203');

    assert.equal((await cli(['credential', 'delete', key.access])).code, 0);
    assert.deepEqual(await keysOf(), []);
  });

  it('sets quotas that the running server enforces, and shows them', async () => {
    const set = await cliJson(['quota', 'set', 'cli-team', '--instances', '0']);
    assert.equal(set.instances, 0);
    const bob = await cliJson(['user', 'create', 'cli-bob', '--project', 'cli-team', '--password-stdin'], 'cli-bob-password\n');
    const token = await tokenFor(svc, 'cli-bob', 'cli-bob-password', bob.project);
    assertError(await svc.api.withHeaders({ 'X-Auth-Token': token }).post(`/v1/${bob.project}/notebooks`, createBody()), 400, 'ModelArts.0113');

    await cliJson(['quota', 'set', 'cli-team', '--instances', 'none', '--flavors', 'modelarts.vm.cpu.2u']);
    await cliJson(['quota', 'set', 'cli-team', '--user-default', '--running-instances', '1']);
    const shown = await cliJson(['quota', 'show', 'cli-team']);
    assert.equal(shown.project.limits.instances, null);
    assert.deepEqual(shown.project.limits.flavors, ['modelarts.vm.cpu.2u']);
    assert.equal(shown.user_default.running_instances, 1);
  });

  it('answers mistakes with a message and a non-zero exit code, and records what it did in the audit trail', async () => {
    const missing = await cli(['user', 'set-role', 'cli-team/nobody', 'admin']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no user 'nobody' in project cli-team/);
    const badRole = await cli(['user', 'set-role', 'cli-team/cli-alice', 'root']);
    assert.equal(badRole.code, 1);
    assert.match(badRole.stderr, /ModelArts\.6336/);
    const usage = await cli(['quota', 'set', 'cli-team']);
    assert.equal(usage.code, 2);

    const trail = await cliJson(['audit', 'cli-team', '--limit', '100']);
    const ops = trail.map((r: any) => r.operation);
    for (const op of ['CreateProject', 'CreateUser', 'CreateCredential', 'IssueToken', 'ResetPassword', 'AssignRole', 'RevokeToken', 'DeleteCredential', 'UpdateProjectQuota']) {
      assert.ok(ops.includes(op), `${op} in ${ops.join(', ')}`);
    }
    assert.ok(trail.every((r: any) => r.sourceIp === 'local' || r.sourceIp === '127.0.0.1'), 'trail.every((r: any) => r.sourceIp === \'local\' || r.sourceIp');
    assert.ok(trail.some((r: any) => /^cli:/.test(r.actorName ?? '')), 'trail.some((r: any) => /^cli:/.test(r.actorName ?? \'\'))');
  });
});
