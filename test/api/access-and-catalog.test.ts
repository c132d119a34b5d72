// Credentials, the error envelope, health and OpenAPI, flavors and images, over real HTTP.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '../../src/auth/request-signer.ts';
import { hashToken } from '../../src/auth/secrets.ts';
import { AK, createBody, NOTEBOOK_IMAGE, PROJECT, SK, startTestService, TOKEN, type TestService } from '../support/service.ts';

let svc: TestService;
before(async () => {
  svc = await startTestService();
});
after(async () => {
  await svc.close();
});

const anonymous = () => svc.api.withHeaders({});

describe('credentials', () => {
  it('serves health, readiness and OpenAPI without credentials', async () => {
    assert.equal((await anonymous().get('/healthz')).status, 200);
    const ready = await anonymous().get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.checks.store, 'ok');
    const spec = await anonymous().get('/openapi.json');
    assert.equal(spec.status, 200);
    assert.equal(spec.body.openapi, '3.0.3');
    const paths = Object.keys(spec.body.paths);
    for (const p of ['/v1/{project_id}/notebooks', '/v1/{project_id}/notebooks/{id}/lease', '/v1/{project_id}/images/{id}', '/v1/{project_id}/notebooks/flavors']) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    }
  });

  it('answers 401 ModelArts.0205 without credentials and 401 for a wrong token, with X-Request-Id', async () => {
    const none = await anonymous().get(`/v1/${PROJECT}/notebooks`);
    assert.equal(none.status, 401);
    assert.equal(none.body.error_code, 'ModelArts.0205');
    assert.ok(none.headers.get('x-request-id'));
    const wrong = await svc.api.withHeaders({ 'X-Auth-Token': 'nbd_wrong' }).get(`/v1/${PROJECT}/notebooks`);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error_code, 'ModelArts.0203');
    const imagesNone = await anonymous().get(`/v1/${PROJECT}/images`);
    assert.equal(imagesNone.status, 401);
  });

  it('answers 403 ModelArts.0210 for another project in the path or X-Project-Id, 0108 for another user\'s instance', async () => {
    const { identity } = svc.service.store;
    const now = Date.now();
    const other = 'ffffffffffffffffffffffffffffff01';
    await identity.insertProject({ id: other, name: 'other', createAt: now });
    await identity.insertUser({ id: 'member0000000000000000000000001', projectId: PROJECT, name: 'mia', domainId: PROJECT, domainName: 'default', role: 'member', systemAdmin: false, passwordHash: null, createAt: now });
    await identity.insertToken({ tokenHash: hashToken('nbd_member'), userId: 'member0000000000000000000000001', projectId: PROJECT, expiresAt: now + 3_600_000, revoked: false, createAt: now });
    const member = svc.api.withHeaders({ 'X-Auth-Token': 'nbd_member' });
    const wrongPath = await member.get(`/v1/${other}/notebooks`);
    assert.equal(wrongPath.status, 403);
    assert.equal(wrongPath.body.error_code, 'ModelArts.0210');
    const wrongHeader = await member.request('GET', `/v1/${PROJECT}/notebooks`, undefined, { 'X-Project-Id': other });
    assert.equal(wrongHeader.body.error_code, 'ModelArts.0210');
    const admins = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ name: 'admins_own' }));
    const foreign = await member.get(`/v1/${PROJECT}/notebooks/${admins.body.id}`);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error_code, 'ModelArts.0108');
    const stop = await member.post(`/v1/${PROJECT}/notebooks/${admins.body.id}/stop`);
    assert.equal(stop.body.error_code, 'ModelArts.0108');
    const own = await member.get(`/v1/${PROJECT}/notebooks?limit=50`);
    assert.equal(own.status, 200);
    assert.equal(own.body.total, 0, 'ListNotebooks shows only the caller\'s own instances');
    assert.equal((await member.get(`/v1/${PROJECT}/notebooks/all`)).body.error_code, 'ModelArts.0108');
    const expired = await svc.api.withHeaders({ 'X-Auth-Token': 'nbd_expired' }).get(`/v1/${PROJECT}/notebooks`);
    assert.equal(expired.status, 401);
  });

  it('accepts an AK/SK-signed request and rejects a wrong signature with APIGW.0301 and request_id', async () => {
    const url = new URL(`/v1/${PROJECT}/notebooks?limit=10`, svc.url);
    const signed = signRequest({ method: 'GET', url, headers: { 'content-type': 'application/json', 'X-Project-Id': PROJECT }, accessKey: AK, secretKey: SK, now: Date.now() });
    const ok = await fetch(url, { headers: signed });
    assert.equal(ok.status, 200, await ok.clone().text());
    const bad = signRequest({ method: 'GET', url, headers: { 'content-type': 'application/json' }, accessKey: AK, secretKey: SK.replace('t', 'x'), now: Date.now() });
    const res = await fetch(url, { headers: bad });
    const body = (await res.json()) as any;
    assert.equal(res.status, 401);
    assert.equal(body.error_code, 'APIGW.0301');
    assert.equal(body.request_id, res.headers.get('x-request-id'));
  });

  it('signs a body: a tampered body is rejected, the signed one creates', async () => {
    const url = new URL(`/v1/${PROJECT}/notebooks`, svc.url);
    const body = JSON.stringify(createBody({ name: 'signed_create' }));
    const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body, accessKey: AK, secretKey: SK, now: Date.now() });
    const tampered = await fetch(url, { method: 'POST', headers, body: body.replace('signed_create', 'evil_create') });
    assert.equal(tampered.status, 401);
    const created = await fetch(url, { method: 'POST', headers, body });
    assert.equal(created.status, 200, await created.clone().text());
    assert.equal(((await created.json()) as any).name, 'signed_create');
  });

  it('answers an unknown route with 404 APIGW.0101', async () => {
    const res = await svc.api.get(`/v1/${PROJECT}/nothing-here`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error_code, 'APIGW.0101');
  });

  it('wrote the bootstrap credentials with mode 0600', async () => {
    const file = join(svc.dataDir, 'bootstrap-credentials.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const creds = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(creds.project_id, PROJECT);
    assert.equal(creds.token, TOKEN);
    assert.equal(creds.access_key, AK);
  });
});

describe('flavors', () => {
  it('lists flavors with both data and flavors, memory in KB, lower-case arch', async () => {
    const res = await svc.api.get(`/v1/${PROJECT}/notebooks/flavors`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data, res.body.flavors);
    const f = res.body.flavors.find((x: any) => x.id === 'modelarts.vm.cpu.2u');
    assert.equal(f.vcpus, 2);
    assert.equal(f.memory, 8 * 1024 * 1024);
    assert.equal(f.arch, 'x86_64');
    const gpu = await svc.api.get(`/v1/${PROJECT}/notebooks/flavors?category=gpu`);
    assert.deepEqual(gpu.body.flavors.map((x: any) => x.id), ['modelarts.vm.gpu.t4']);
    assert.equal(gpu.body.flavors[0].sold_out, true);
    const bad = await svc.api.get(`/v1/${PROJECT}/notebooks/flavors?category=QUANTUM`);
    assert.equal(bad.body.error_code, 'ModelArts.6336');
  });
});

describe('images', () => {
  it('lists the built-in images and shows one', async () => {
    const res = await svc.api.get(`/v1/${PROJECT}/images`);
    assert.equal(res.status, 200);
    assert.ok(res.body.data.some((i: any) => i.id === NOTEBOOK_IMAGE && i.type === 'BUILD_IN' && i.status === 'ACTIVE'));
    const one = await svc.api.get(`/v1/${PROJECT}/images/${NOTEBOOK_IMAGE}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.swr_path, 'notebookd/jupyter-notebook:6.4');
  });

  it('registers an image from its swr_path, shows it, refuses deleting it while used, deletes it with is_force', async () => {
    const reg = await svc.api.post(`/v1/${PROJECT}/images`, { swr_path: 'swr.local/team-a/my-notebook:v1', description: 'team image' });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.equal(reg.body.status, 'ACTIVE');
    assert.equal(reg.body.type, 'DEDICATED');
    assert.equal(reg.body.origin, 'CUSTOMIZE');
    assert.equal(reg.body.namespace, 'team-a');
    assert.equal(reg.body.name, 'my-notebook');
    assert.equal(reg.body.tag, 'v1');
    const id = reg.body.id;
    assert.equal((await svc.api.get(`/v1/${PROJECT}/images/${id}`)).body.id, id);
    const listed = await svc.api.get(`/v1/${PROJECT}/images?type=DEDICATED`);
    assert.ok(listed.body.data.some((i: any) => i.id === id));
    assert.ok(listed.body.data.every((i: any) => i.type === 'DEDICATED'));

    const nb = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ image_id: id }));
    assert.equal(nb.status, 200, JSON.stringify(nb.body));
    assert.equal(nb.body.image.swr_path, 'swr.local/team-a/my-notebook:v1');
    const refused = await svc.api.delete(`/v1/${PROJECT}/images/${id}`);
    assert.equal(refused.body.error_code, 'ModelArts.6357');
    const del = await svc.api.delete(`/v1/${PROJECT}/images/${id}`, { is_force: true });
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'DELETED');
    const gone = await svc.api.get(`/v1/${PROJECT}/images/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error_code, 'ModelArts.6404');
  });

  it('rejects a malformed swr_path and deleting a built-in image', async () => {
    const bad = await svc.api.post(`/v1/${PROJECT}/images`, { swr_path: 'not a path' });
    assert.equal(bad.body.error_code, 'ModelArts.6336');
    const missing = await svc.api.post(`/v1/${PROJECT}/images`, {});
    assert.equal(missing.body.error_code, 'ModelArts.6335');
    const builtIn = await svc.api.delete(`/v1/${PROJECT}/images/${NOTEBOOK_IMAGE}`);
    assert.equal(builtIn.status, 403);
    assert.equal(builtIn.body.error_code, 'ModelArts.0108');
  });
});
