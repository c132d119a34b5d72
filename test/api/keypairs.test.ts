// Key pairs in the KPS API shape: create (generated ed25519 or RSA, private key returned once),
// import, list, show, delete, the errors, who sees what, and the check that an instance's
// endpoints name key pairs that exist in its project (on create and on update).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { hashToken } from '../../src/auth/secrets.ts';
import type { Role } from '../../src/domain/identity.ts';
import { run } from '../integration/ssh-support.ts';
import { ApiClient, createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const KP = `/v3/${PROJECT}/keypairs`;
const NB = `/v1/${PROJECT}/notebooks`;

function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error_code, code, JSON.stringify(res.body));
}

/** The fingerprint ssh-keygen prints for a public key line. */
async function sshKeygenFingerprint(dir: string, publicKey: string): Promise<string> {
  const file = join(dir, `k${randomBytes(4).toString('hex')}.pub`);
  await import('node:fs/promises').then((fs) => fs.writeFile(file, publicKey + '\n'));
  const r = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split(' ')[1]!;
}

describe('key pairs (KPS API shape)', () => {
  let svc: TestService;
  let dir: string;
  const as: Record<string, ApiClient> = {};

  before(async () => {
    svc = await startTestService();
    dir = await mkdtemp(join(tmpdir(), 'notebookd-kp-'));
    for (const role of ['member', 'viewer'] as Role[]) {
      for (const n of [1, 2]) {
        const id = `kp${role}${n}${randomBytes(3).toString('hex')}`;
        const token = `nbd_${randomBytes(24).toString('base64url')}`;
        await svc.service.store.identity.insertUser({ id, projectId: PROJECT, name: id, domainId: PROJECT, domainName: 'default', role, systemAdmin: false, passwordHash: null, createAt: Date.now() });
        await svc.service.store.identity.insertToken({ tokenHash: hashToken(token), userId: id, projectId: PROJECT, expiresAt: Date.now() + 3_600_000, revoked: false, createAt: Date.now() });
        as[`${role}${n}`] = svc.api.withHeaders({ 'X-Auth-Token': token });
      }
    }
  });

  after(async () => {
    await svc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('generates an ed25519 pair by default: the private key once, an OpenSSH public key, its SHA256 fingerprint, the user', async () => {
    const res = await svc.api.post(KP, { keypair: { name: 'gen-ed', type: 'ssh' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const k = res.body.keypair;
    assert.deepEqual(Object.keys(k).sort(), ['create_time', 'fingerprint', 'name', 'private_key', 'public_key', 'scope', 'type', 'user_id'].sort());
    assert.equal(k.name, 'gen-ed');
    assert.equal(k.type, 'ssh');
    assert.match(k.public_key, /^ssh-ed25519 AAAA[0-9A-Za-z+/=]+ gen-ed$/);
    assert.match(k.private_key, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    assert.equal(k.fingerprint, await sshKeygenFingerprint(dir, k.public_key));
    assert.equal(k.user_id, svc.service.bootstrap!.userId);
    // The private key really belongs to the public key.
    const priv = ssh2.utils.parseKey(k.private_key) as ssh2.ParsedKey;
    assert.equal(priv.getPublicSSH().toString('base64'), k.public_key.split(' ')[1]);

    const shown = await svc.api.get(`${KP}/gen-ed`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.keypair.private_key, undefined, 'returned once, never stored');
    assert.equal(shown.body.keypair.public_key, k.public_key);
  });

  it('generates RSA on request (key_type, a notebookd extension)', async () => {
    const res = await svc.api.post(KP, { keypair: { name: 'gen-rsa', key_type: 'rsa' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(res.body.keypair.public_key, /^ssh-rsa AAAA/);
    assert.match(res.body.keypair.private_key, /PRIVATE KEY/);
  });

  it('imports a public key (no private key in the answer) and keeps its comment', async () => {
    const keyFile = join(dir, 'imported');
    assert.equal((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'me@laptop', '-f', keyFile])).code, 0);
    const publicKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim();
    const res = await svc.api.post(KP, { keypair: { name: 'imported', public_key: publicKey + '\n' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.keypair.public_key, publicKey);
    assert.equal(res.body.keypair.private_key, undefined);
    assert.equal(res.body.keypair.fingerprint, await sshKeygenFingerprint(dir, publicKey));
  });

  it('lists as {"keypairs":[{"keypair":{...}}]} without private keys', async () => {
    const res = await svc.api.get(KP);
    assert.equal(res.status, 200);
    const names = res.body.keypairs.map((e: any) => e.keypair.name);
    for (const n of ['gen-ed', 'gen-rsa', 'imported']) assert.ok(names.includes(n), names.join());
    assert.ok(res.body.keypairs.every((e: any) => e.keypair.private_key === undefined && e.keypair.fingerprint.startsWith('SHA256:')));
  });

  it('refuses bad input with the documented codes and creates nothing', async () => {
    const before = (await svc.api.get(KP)).body.keypairs.length;
    const cases: [string, unknown, number, string][] = [
      ['no keypair object', {}, 400, 'ModelArts.6335'],
      ['no name', { keypair: {} }, 400, 'ModelArts.6335'],
      ['a name with a space', { keypair: { name: 'my key' } }, 400, 'ModelArts.6336'],
      ['a name of 65 characters', { keypair: { name: 'k'.repeat(65) } }, 400, 'ModelArts.6336'],
      ['a name that is a number', { keypair: { name: 7 } }, 400, 'ModelArts.6332'],
      ['type x509', { keypair: { name: 'x', type: 'x509' } }, 400, 'ModelArts.6336'],
      ['an unknown type', { keypair: { name: 'x', type: 'pgp' } }, 400, 'ModelArts.6336'],
      ['an unknown key_type', { keypair: { name: 'x', key_type: 'dsa' } }, 400, 'ModelArts.6336'],
      ['an empty public key (an empty file imported)', { keypair: { name: 'x', public_key: '' } }, 400, 'ModelArts.6336'],
      ['garbage as public key', { keypair: { name: 'x', public_key: 'ssh-ed25519 AAAAnotbase64!!' } }, 400, 'ModelArts.6336'],
      ['two keys in public_key', { keypair: { name: 'x', public_key: 'ssh-ed25519 AAAA\nssh-ed25519 AAAA' } }, 400, 'ModelArts.6336'],
      ['a private key as public key', { keypair: { name: 'x', public_key: ssh2.utils.generateKeyPairSync('ed25519').private } }, 400, 'ModelArts.6336'],
      ['key_type with an imported key', { keypair: { name: 'x', key_type: 'rsa', public_key: ssh2.utils.generateKeyPairSync('ed25519').public } }, 400, 'ModelArts.6336'],
      ['an existing name', { keypair: { name: 'gen-ed' } }, 409, 'KPS.0409'],
    ];
    for (const [what, body, status, code] of cases) {
      const res = await svc.api.post(KP, body);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error_code, code, `${what}: ${JSON.stringify(res.body)}`);
    }
    assert.equal((await svc.api.get(KP)).body.keypairs.length, before);
  });

  it('show and delete answer 404 KPS.0404 for an unknown name; delete answers 204', async () => {
    assertError(await svc.api.get(`${KP}/nope`), 404, 'KPS.0404');
    assertError(await svc.api.delete(`${KP}/nope`), 404, 'KPS.0404');
    assert.equal((await svc.api.post(KP, { keypair: { name: 'short-lived' } })).status, 200);
    const del = await svc.api.delete(`${KP}/short-lived`);
    assert.equal(del.status, 204);
    assertError(await svc.api.get(`${KP}/short-lived`), 404, 'KPS.0404');
  });

  it('needs credentials and the caller’s own project', async () => {
    assert.equal((await svc.api.withHeaders({}).get(KP)).status, 401);
    assertError(await svc.api.withHeaders({ 'X-Auth-Token': 'nbd_nobody' }).get(KP), 401, 'ModelArts.0203');
    const other = await as.member1!.get(`/v3/00000000000000000000000000000000/keypairs`);
    assertError(other, 403, 'ModelArts.0210');
  });

  it("members see and delete only their own; viewers create nothing; names are unique in the project", async () => {
    assert.equal((await as.member1!.post(KP, { keypair: { name: 'm1-key' } })).status, 200);
    const m2 = await as.member2!.get(KP);
    assert.ok(!m2.body.keypairs.some((e: any) => e.keypair.name === 'm1-key'), 'not in another member’s list');
    assertError(await as.member2!.get(`${KP}/m1-key`), 404, 'KPS.0404');
    assertError(await as.member2!.delete(`${KP}/m1-key`), 404, 'KPS.0404');
    assertError(await as.member2!.post(KP, { keypair: { name: 'm1-key' } }), 409, 'KPS.0409');
    assertError(await as.viewer1!.post(KP, { keypair: { name: 'v-key' } }), 403, 'ModelArts.0108');
    assert.equal((await as.viewer1!.get(`${KP}/m1-key`)).status, 200, 'viewers read the project');
    assertError(await as.viewer1!.delete(`${KP}/m1-key`), 403, 'ModelArts.0108');
    const own = await as.member1!.get(KP);
    assert.deepEqual(own.body.keypairs.map((e: any) => e.keypair.name), ['m1-key']);
    assert.equal((await svc.api.get(`${KP}/m1-key`)).status, 200, 'the admin sees the project');
    assert.equal((await as.member1!.delete(`${KP}/m1-key`)).status, 204);
  });

  describe('endpoints name existing key pairs', () => {
    it('create refuses an SSH endpoint naming a key pair the project does not have, and creates nothing', async () => {
      const before = (await svc.api.get(`${NB}?limit=50`)).body.total;
      const res = await svc.api.post(NB, createBody({ name: 'kp-missing', endpoints: [{ service: 'SSH', key_pair_names: ['gen-ed', 'ghost-key'] }] }));
      assertError(res, 400, 'ModelArts.6336');
      assert.match(res.body.error_msg, /ghost-key/);
      assert.equal((await svc.api.get(`${NB}?limit=50`)).body.total, before);
      const ok = await svc.api.post(NB, createBody({ name: 'kp-present', endpoints: [{ service: 'SSH', key_pair_names: ['gen-ed'] }] }));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });

    it('update checks them too (the instance stopped, as endpoints require)', async () => {
      const created = await svc.api.post(NB, createBody({ name: 'kp-update' }));
      const nb = await waitForNotebook(svc.api, created.body.id, (n) => n.status === 'RUNNING');
      await svc.api.post(`${NB}/${nb.id}/stop`);
      await waitForNotebook(svc.api, nb.id, (n) => n.status === 'STOPPED');
      const bad = await svc.api.put(`${NB}/${nb.id}`, { endpoints: [{ service: 'SSH', key_pair_names: ['ghost-key'] }] });
      assertError(bad, 400, 'ModelArts.6336');
      assert.deepEqual((await svc.api.get(`${NB}/${nb.id}`)).body.endpoints.filter((e: any) => e.service === 'SSH'), []);
      const good = await svc.api.put(`${NB}/${nb.id}`, { endpoints: [{ service: 'SSH', key_pair_names: ['imported'] }] });
      assert.equal(good.status, 200, JSON.stringify(good.body));
      const sshEndpoint = good.body.endpoints.find((e: any) => e.service === 'SSH');
      assert.deepEqual(sshEndpoint.key_pair_names, ['imported']);
      assert.match(sshEndpoint.uri, new RegExp(`^ssh://${nb.id}@127\\.0\\.0\\.1:\\d+$`));
    });
  });
});
