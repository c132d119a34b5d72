// IAM-style tokens over real HTTP: POST /v3/auth/tokens (password and token methods, project
// scope), use, expiry on a clock the test moves, revocation, validation, password changes and
// login lockout; plus the credential errors of the issue and that no secret reaches the logs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { LOG_REDACTION } from '../../src/auth/log-redaction.ts';
import { createBody, PROJECT, startTestService, TOKEN, type TestService } from '../support/service.ts';
import { assertError, createProject, createUser, login, passwordBody, SignedClient, SkewedClock, tokenFor, type TestUser } from './identity-helpers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let svc: TestService;
let clock: SkewedClock;
let adminPassword: string;
let logLines: string[];
let alice: TestUser;

before(async () => {
  clock = new SkewedClock();
  logLines = [];
  // Everything notebookd logs, at the most verbose level, with the production redaction.
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  svc = await startTestService({ clock, log: pino({ level: 'trace', redact: LOG_REDACTION }, sink), overrides: { logLevel: 'trace' } });
  adminPassword = JSON.parse(await readFile(join(svc.dataDir, 'bootstrap-credentials.json'), 'utf8')).password;
  alice = await createUser(svc, 'alice');
});
after(async () => {
  await svc.close();
});

const withToken = (token: string) => svc.api.withHeaders({ 'X-Auth-Token': token });
/** The tests move the clock by days: a token of alice's that is valid now. */
const freshAlice = async () => withToken(await tokenFor(svc, 'alice', alice.password));
const notebooksOf = (token: string) => withToken(token).get(`/v1/${PROJECT}/notebooks`);

describe('POST /v3/auth/tokens', () => {
  it('given a user\'s password and project scope, issues a token in X-Subject-Token with a 24 h expiry and a Keystone body', async () => {
    const res = await login(svc, passwordBody('alice', alice.password, { id: PROJECT }));

    assert.equal(res.status, 201);
    const token = res.headers.get('x-subject-token')!;
    assert.match(token, /^nbd_[A-Za-z0-9_-]{43}$/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const t = res.body.token;
    assert.deepEqual(t.methods, ['password']);
    assert.equal(Date.parse(t.expires_at) - Date.parse(t.issued_at), DAY);
    assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(t.user.id, alice.id);
    assert.equal(t.user.name, 'alice');
    assert.deepEqual(t.user.domain, { id: PROJECT, name: 'default' });
    assert.equal(t.project.id, PROJECT);
    assert.deepEqual(t.roles, [{ id: 'member', name: 'member' }]);
    assert.equal(t.catalog.find((c: any) => c.type === 'modelarts').endpoints[0].url.endsWith(`/v1/${PROJECT}`), true);
    assert.equal(JSON.stringify(res.body).includes(token), false, 'the token is only in the header');
    assert.equal((await notebooksOf(token)).status, 200);
  });

  it('scopes by project name, by domain or not at all (the user\'s own project); ?nocatalog=true leaves the catalog out', async () => {
    for (const body of [
      passwordBody('alice', alice.password, { name: 'default' }),
      passwordBody('alice', alice.password),
      { auth: { identity: { methods: ['password'], password: { user: { name: 'alice', password: alice.password, domain: { name: 'default' } } } }, scope: { domain: { name: 'default' } } } },
    ]) {
      const res = await login(svc, body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.token.project.id, PROJECT);
    }
    const bare = await svc.api.withHeaders({}).post('/v3/auth/tokens?nocatalog=true', passwordBody('alice', alice.password));
    assert.equal(bare.body.token.catalog, undefined);
  });

  it('answers a wrong password, an unknown user and a user without a password alike: 401 ModelArts.0201', async () => {
    await svc.api.post('/v3/users', { user: { name: 'keyonly' } });
    for (const body of [passwordBody('alice', 'not-her-password'), passwordBody('nobody', 'whatever-it-is'), passwordBody('keyonly', 'whatever-it-is')]) {
      const res = await login(svc, body);
      assertError(res, 401, 'ModelArts.0201', JSON.stringify(body.auth.identity.password.user.name));
      assert.equal(res.headers.get('x-subject-token'), null);
    }
  });

  it('refuses a project scope the user has no role in (401) but lets a system administrator scope to any project', async () => {
    const other = await createProject(svc, 'scope-other');
    assertError(await login(svc, passwordBody('alice', alice.password, { id: other })), 401, 'ModelArts.0201');
    assertError(await login(svc, passwordBody('alice', alice.password, { id: 'no-such-project' })), 401, 'ModelArts.0201');

    const res = await login(svc, passwordBody('admin', adminPassword, { id: other }));
    assert.equal(res.status, 201);
    assert.equal(res.body.token.project.id, other);
    assert.deepEqual(res.body.token.roles.map((r: any) => r.name), ['admin', 'system_admin']);
    const token = res.headers.get('x-subject-token')!;
    assert.equal((await withToken(token).get(`/v1/${other}/notebooks`)).status, 200);
  });

  it('rejects malformed requests with the validation codes and issues nothing', async () => {
    assertError(await login(svc, {}), 400, 'ModelArts.6335');
    assertError(await login(svc, { auth: { identity: { methods: ['totp'] } } }), 400, 'ModelArts.6336');
    assertError(await login(svc, { auth: { identity: { methods: 'password' } } }), 400, 'ModelArts.6332');
    assertError(await login(svc, { auth: { identity: { methods: ['password'], password: { user: { name: 'alice' } } } } }), 400, 'ModelArts.6335');
  });

  it('re-issues from a valid token with the token method, never outliving it', async () => {
    const first = await login(svc, passwordBody('alice', alice.password));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    clock.advance(HOUR);
    const res = await login(svc, { auth: { identity: { methods: ['token'], token: { id: first.headers.get('x-subject-token') } } } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.token.methods, ['token']);
    assert.equal(res.body.token.expires_at, first.body.token.expires_at, 'capped at the expiry of the token it came from');
    assertError(await login(svc, { auth: { identity: { methods: ['token'], token: { id: 'nbd_forged' } } } }), 401, 'ModelArts.0203');
  });
});

describe('token lifecycle', () => {
  it('given a token, it works until its expiry and answers 401 ModelArts.0203 from then on', async () => {
    const token = await tokenFor(svc, 'alice', alice.password);
    clock.advance(DAY - 60_000);
    assert.equal((await notebooksOf(token)).status, 200, 'one minute before expiry');

    clock.advance(60_000);

    assertError(await notebooksOf(token), 401, 'ModelArts.0203', 'at expiry');
    assertError(await withToken(token).request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token }), 401, 'ModelArts.0203', 'an expired token cannot even revoke itself');
  });

  it('given a token, DELETE /v3/auth/tokens with X-Subject-Token revokes it at once; again is a no-op', async () => {
    const token = await tokenFor(svc, 'alice', alice.password);
    const keep = await tokenFor(svc, 'alice', alice.password);

    const res = await withToken(keep).request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token });

    assert.equal(res.status, 204);
    assertError(await notebooksOf(token), 401, 'ModelArts.0203', 'revoked');
    assert.equal((await notebooksOf(keep)).status, 200, 'other tokens stay valid');
    assert.equal((await withToken(keep).request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token })).status, 204);
    assertError(await withToken(keep).request('GET', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token }), 404, 'ModelArts.6404');
  });

  it('signs out with the caller\'s own token in X-Subject-Token; without the header nothing is revoked', async () => {
    const token = await tokenFor(svc, 'alice', alice.password);
    assertError(await withToken(token).delete('/v3/auth/tokens'), 400, 'ModelArts.6335');
    assertError(await withToken(token).get('/v3/auth/tokens'), 400, 'ModelArts.6335');
    assert.equal((await notebooksOf(token)).status, 200, 'a DELETE without X-Subject-Token revoked nothing');

    assert.equal((await withToken(token).request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token })).status, 204);

    assertError(await notebooksOf(token), 401, 'ModelArts.0203');
  });

  it('GET /v3/auth/tokens validates a token for its owner and administrators, not for other members', async () => {
    const token = await tokenFor(svc, 'alice', alice.password);
    const bob = await createUser(svc, 'bob-validate');

    const own = await withToken(token).request('GET', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token });
    assert.equal(own.status, 200);
    assert.equal(own.body.token.user.id, alice.id);
    assert.equal(own.headers.get('x-subject-token'), token);
    assert.equal((await svc.api.request('GET', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token })).status, 200);

    assertError(await bob.api.request('GET', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token }), 404, 'ModelArts.6404');
    assertError(await bob.api.request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': token }), 404, 'ModelArts.6404');
    assert.equal((await notebooksOf(token)).status, 200, 'a refused revocation changed nothing');
  });

  it('a project admin revokes a member\'s tokens one by one or all at once', async () => {
    const lead = await createUser(svc, 'lead', { role: 'admin' });
    const carl = await createUser(svc, 'carl');
    const second = await tokenFor(svc, 'carl', carl.password);

    assert.equal((await lead.api.request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': carl.token })).status, 204);
    assertError(await notebooksOf(carl.token), 401, 'ModelArts.0203');
    const all = await lead.api.delete(`/v3/users/${carl.id}/tokens`);
    assert.equal(all.status, 200);
    assert.equal(all.body.revoked, 1);
    assertError(await notebooksOf(second), 401, 'ModelArts.0203');
    assertError(await lead.api.delete(`/v3/users/${(await svc.api.get('/v3/users?name=admin')).body.users[0].id}/tokens`), 403, 'ModelArts.0108', 'not a system administrator\'s');
  });

  it('a password change needs the old password and revokes every token of the user', async () => {
    const dora = await createUser(svc, 'dora');
    assertError(
      await dora.api.post(`/v3/users/${dora.id}/password`, { user: { original_password: 'wrong-old-password', password: 'dora-new-password' } }),
      401,
      'ModelArts.0201',
    );
    assertError(await dora.api.post(`/v3/users/${alice.id}/password`, { user: { original_password: dora.password, password: 'dora-new-password' } }), 403, 'ModelArts.0108');
    assertError(await dora.api.post(`/v3/users/${dora.id}/password`, { user: { original_password: dora.password, password: 'short' } }), 400, 'ModelArts.6336');

    const res = await dora.api.post(`/v3/users/${dora.id}/password`, { user: { original_password: dora.password, password: 'dora-new-password' } });

    assert.equal(res.status, 204);
    assertError(await notebooksOf(dora.token), 401, 'ModelArts.0203');
    assertError(await login(svc, passwordBody('dora', dora.password)), 401, 'ModelArts.0201');
    assert.equal((await login(svc, passwordBody('dora', 'dora-new-password'))).status, 201);
  });

  it('an administrator\'s password reset revokes the user\'s tokens too', async () => {
    const erin = await createUser(svc, 'erin');
    const res = await svc.api.patch(`/v3/users/${erin.id}`, { user: { password: 'erin-reset-password' } });
    assert.equal(res.status, 200);
    assertError(await notebooksOf(erin.token), 401, 'ModelArts.0203');
    assert.equal((await login(svc, passwordBody('erin', 'erin-reset-password'))).status, 201);
  });

  it('a system administrator issues a token for a user (support); a member cannot', async () => {
    const res = await svc.api.post(`/v3/users/${alice.id}/tokens`, { lifetime_ms: HOUR });
    assert.equal(res.status, 201);
    const token = res.headers.get('x-subject-token')!;
    assert.equal(Date.parse(res.body.token.expires_at) - Date.parse(res.body.token.issued_at), HOUR);
    assert.equal((await notebooksOf(token)).status, 200);
    assertError(await (await freshAlice()).post(`/v3/users/${alice.id}/tokens`, {}), 403, 'ModelArts.0108', 'members cannot mint tokens');
  });
});

describe('login lockout', () => {
  it('after 5 wrong passwords the user is locked for 5 minutes, even with the right one; then it works again', async () => {
    const fred = await createUser(svc, 'fred');
    for (let i = 0; i < 5; i++) assertError(await login(svc, passwordBody('fred', 'wrong-password-xx')), 401, 'ModelArts.0201');

    const locked = await login(svc, passwordBody('fred', fred.password));
    assertError(locked, 401, 'ModelArts.0201');
    assert.match(locked.body.error_msg, /Too many failed logins/);
    assert.equal((await notebooksOf(fred.token)).status, 200, 'tokens issued before stay valid');

    clock.advance(5 * 60_000);
    assert.equal((await login(svc, passwordBody('fred', fred.password))).status, 201);
  });
});

describe('credential errors of the issue', () => {
  it('missing credentials: 401 ModelArts.0205 on every authenticated route, identity ones included', async () => {
    const anonymous = svc.api.withHeaders({});
    for (const [method, path] of [
      ['GET', `/v1/${PROJECT}/notebooks`],
      ['GET', '/v3/users'],
      ['GET', '/v3.0/OS-CREDENTIAL/credentials'],
      ['DELETE', '/v3/auth/tokens'],
      ['GET', `/v1/${PROJECT}/quotas`],
      ['GET', `/v1/${PROJECT}/audit`],
    ] as const) {
      assertError(await anonymous.request(method, path), 401, 'ModelArts.0205', `${method} ${path}`);
    }
  });

  it('a token with a mismatching X-Project-Id or another project in the path: 403 ModelArts.0210', async () => {
    const other = await createProject(svc, 'mismatch-other');
    const api = await freshAlice();
    assertError(await api.request('GET', `/v1/${PROJECT}/notebooks`, undefined, { 'X-Project-Id': other }), 403, 'ModelArts.0210');
    assertError(await api.get(`/v1/${other}/notebooks`), 403, 'ModelArts.0210');
    assertError(await api.get(`/v3/projects/${other}`), 403, 'ModelArts.0210');
  });

  it('a bad signature: 401 APIGW.0301 with the request_id of X-Request-Id', async () => {
    const res = await new SignedClient(svc.url, 'NOSUCHACCESSKEY00000', 'x'.repeat(40), clock).get(`/v1/${PROJECT}/notebooks`);
    assertError(res, 401, 'APIGW.0301');
    assert.equal(res.body.request_id, res.headers.get('x-request-id'));
  });
});

describe('secrets are never logged', () => {
  it('after logins, failures, credentials and revocations at log level trace, no password, token or SK appears in the log', async () => {
    const gina = await createUser(svc, 'gina');
    await login(svc, passwordBody('gina', 'gina-wrong-password'));
    const cred = await gina.api.post('/v3.0/OS-CREDENTIAL/credentials', { credential: {} });
    const sk = cred.body.credential.secret as string;
    await new SignedClient(svc.url, cred.body.credential.access, sk.replace(/^./, 'Z'), clock).get(`/v1/${PROJECT}/notebooks`);
    await new SignedClient(svc.url, cred.body.credential.access, sk, clock).post(`/v1/${PROJECT}/notebooks`, createBody({ name: 'logged' }));
    await gina.api.request('GET', `/v1/${PROJECT}/notebooks`, undefined, { Authorization: `Bearer ${gina.token}` });
    await gina.api.request('DELETE', '/v3/auth/tokens', undefined, { 'X-Subject-Token': gina.token });
    const log = logLines.join('');

    for (const secret of [gina.password, 'gina-wrong-password', gina.token, sk, TOKEN, adminPassword]) {
      assert.equal(log.includes(secret), false, `a secret leaked into the log: ${secret.slice(0, 6)}…`);
    }
    assert.ok(log.includes('AK/SK signature rejected'), 'the signature failure itself is logged (without the SK)');
  });

  it('pino redaction censors credential headers and secret fields wherever a log line carries them', () => {
    const lines: string[] = [];
    const log = pino({ redact: LOG_REDACTION }, new Writable({ write: (c, _e, d) => (lines.push(String(c)), d()) }));
    log.error({ req: { headers: { authorization: 'SDK-HMAC-SHA256 Access=AK, Signature=abc', 'x-auth-token': 'nbd_secret1', 'x-subject-token': 'nbd_secret2' } } }, 'x');
    log.info({ body: { auth: { identity: { password: { user: { password: 'hunter22' } } } } } }, 'y');
    log.info({ credential: { secret: 'SKSKSK' }, user: { password: 'pw1', passwordHash: 'scrypt$1' }, token: 'nbd_t' }, 'z');
    const out = lines.join('');
    for (const secret of ['Signature=abc', 'nbd_secret1', 'nbd_secret2', 'SKSKSK', 'pw1', 'scrypt$1', 'nbd_t', 'hunter22']) assert.equal(out.includes(secret), false, secret);
    assert.ok(out.includes('[redacted]'), 'out.includes(\'[redacted]\')');
  });
});
