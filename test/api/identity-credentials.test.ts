// AK/SK credentials over real HTTP: the IAM OS-CREDENTIAL API (create shows the secret once,
// list, show, update, delete), then requests signed by the official @huaweicloud/huaweicloud-sdk-core
// against the running server, hand-built Go- and Python-style signatures, stale dates and replays
// past the 15-minute window (on a clock the test moves), and the lockout after 5 failures.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { formatSdkDate } from '../../src/auth/aksk-signature.ts';
import { signRequest } from '../../src/auth/request-signer.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { assertError, createProject, createUser, officialCoreClient, SignedClient, silenceSdkCoreLogs, SkewedClock, type TestUser } from './identity-helpers.ts';

const MIN = 60_000;
const CRED = '/v3.0/OS-CREDENTIAL/credentials';

let svc: TestService;
let clock: SkewedClock;
let lead: TestUser;
let mia: TestUser;

before(async () => {
  silenceSdkCoreLogs();
  clock = new SkewedClock();
  svc = await startTestService({ clock });
  lead = await createUser(svc, 'lead', { role: 'admin' });
  mia = await createUser(svc, 'mia');
});
after(async () => {
  await svc.close();
});

async function newKey(owner: TestUser, description = ''): Promise<{ access: string; secret: string }> {
  const res = await owner.api.post(CRED, { credential: { description } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { access: res.body.credential.access, secret: res.body.credential.secret };
}

const signed = (key: { access: string; secret: string }) => new SignedClient(svc.url, key.access, key.secret, clock);

describe('POST/GET/PUT/DELETE /v3.0/OS-CREDENTIAL/credentials', () => {
  it('creates an access key for the caller and returns the secret only once', async () => {
    const res = await mia.api.post(CRED, { credential: { description: 'laptop' } });

    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const c = res.body.credential;
    assert.equal(c.user_id, mia.id);
    assert.match(c.access, /^[A-Z0-9]{20}$/);
    assert.match(c.secret, /^[A-Za-z0-9]{40}$/);
    assert.equal(c.status, 'active');
    assert.equal(c.description, 'laptop');
    assert.match(c.create_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const list = await mia.api.get(CRED);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.credentials.map((k: any) => k.access), [c.access]);
    assert.equal('secret' in list.body.credentials[0], false);
    const shown = await mia.api.get(`${CRED}/${c.access}`);
    assert.equal(shown.body.credential.access, c.access);
    assert.equal('secret' in shown.body.credential, false);

    const use = await signed(c).get(`/v1/${PROJECT}/notebooks`);
    assert.equal(use.status, 200, JSON.stringify(use.body));
  });

  it('allows two keys per user (as IAM does); the third is 400 ModelArts.0113 and not created', async () => {
    const user = await createUser(svc, 'two-keys');
    await newKey(user);
    await newKey(user);
    assertError(await user.api.post(CRED, { credential: {} }), 400, 'ModelArts.0113');
    assert.equal((await user.api.get(CRED)).body.credentials.length, 2);
  });

  it('deactivates, reactivates and deletes a key; signatures follow at once', async () => {
    const user = await createUser(svc, 'toggler');
    const key = await newKey(user);
    const path = `/v1/${PROJECT}/notebooks`;

    const off = await user.api.put(`${CRED}/${key.access}`, { credential: { status: 'inactive', description: 'parked' } });
    assert.equal(off.status, 200);
    assert.deepEqual([off.body.credential.status, off.body.credential.description], ['inactive', 'parked']);
    assertError(await signed(key).get(path), 401, 'APIGW.0301', 'inactive key');

    assert.equal((await user.api.put(`${CRED}/${key.access}`, { credential: { status: 'active' } })).status, 200);
    assert.equal((await signed(key).get(path)).status, 200);

    assert.equal((await user.api.delete(`${CRED}/${key.access}`)).status, 204);
    const gone = await signed(key).get(path);
    assertError(gone, 401, 'APIGW.0301', 'deleted key');
    assert.match(gone.body.error_msg, /ak not exist/);
    assertError(await user.api.get(`${CRED}/${key.access}`), 404, 'ModelArts.6404');
    assertError(await user.api.put(`${CRED}/${key.access}`, { credential: { status: 'bogus' } }), 404, 'ModelArts.6404');
  });

  it('lets a project admin manage a member\'s keys; a member sees only their own; nobody reaches across projects', async () => {
    const forMia = await lead.api.post(CRED, { credential: { user_id: mia.id, description: 'issued by lead' } });
    assert.equal(forMia.status, 201);
    const access = forMia.body.credential.access;
    assert.ok((await lead.api.get(`${CRED}?user_id=${mia.id}`)).body.credentials.some((k: any) => k.access === access), '(await lead.api.get(`${CRED}?user_id=${mia.id}`)).body.crede');

    const other = await createUser(svc, 'other-member');
    assertError(await other.api.get(`${CRED}?user_id=${mia.id}`), 404, 'ModelArts.6404');
    assertError(await other.api.get(`${CRED}/${access}`), 404, 'ModelArts.6404');
    assertError(await other.api.delete(`${CRED}/${access}`), 404, 'ModelArts.6404');
    assertError(await other.api.post(CRED, { credential: { user_id: mia.id } }), 404, 'ModelArts.6404');

    const sysadminId = (await svc.api.get('/v3/users?name=admin')).body.users[0].id;
    assertError(await lead.api.post(CRED, { credential: { user_id: sysadminId } }), 403, 'ModelArts.0108', 'not a system administrator\'s');

    const projectB = await createProject(svc, 'cred-b');
    const bob = await createUser(svc, 'bob-b', { projectId: projectB, role: 'admin' });
    assertError(await bob.api.get(`${CRED}?user_id=${mia.id}`), 404, 'ModelArts.6404');
    assertError(await bob.api.post(CRED, { credential: { user_id: mia.id } }), 404, 'ModelArts.6404');

    assert.equal((await lead.api.delete(`${CRED}/${access}`)).status, 204);
  });

  it('validates the body: a missing credential object 6335, a bad description 6336', async () => {
    assertError(await mia.api.post(CRED, {}), 400, 'ModelArts.6335');
    assertError(await mia.api.post(CRED, { credential: { description: '<script>' } }), 400, 'ModelArts.6336');
    assertError(await mia.api.post(CRED, { credential: { description: 7 } }), 400, 'ModelArts.6332');
  });
});

// ---- the official SDK core as the client --------------------------------------------------------

interface CoreError {
  httpStatusCode: number;
  errorCode: string;
  errorMsg: string;
  requestId: string;
}

describe('requests signed by the official @huaweicloud/huaweicloud-sdk-core', () => {
  let key: { access: string; secret: string };
  let signer: TestUser;
  before(async () => {
    signer = await createUser(svc, 'core-user');
    key = await newKey(signer);
  });

  /** One request the way the generated ModelArtsClient sends it; the date pinned to the server's (movable) clock. */
  function send(opts: { method: string; url: string; queryParams?: Record<string, unknown>; pathParams?: Record<string, string>; data?: unknown; sk?: string; dateMs?: number }) {
    const client = officialCoreClient(svc.url, key.access, opts.sk ?? key.secret, PROJECT);
    return client.sendRequest({
      method: opts.method,
      url: opts.url,
      contentType: 'application/json;charset=UTF-8',
      queryParams: opts.queryParams ?? {},
      pathParams: opts.pathParams ?? {},
      headers: { 'X-Sdk-Date': formatSdkDate(opts.dateMs ?? clock.now()) },
      ...(opts.data !== undefined && { data: opts.data }),
    } as never) as Promise<any>;
  }

  async function sendFailing(opts: Parameters<typeof send>[0]): Promise<CoreError> {
    try {
      await send(opts);
    } catch (e) {
      return e as CoreError;
    }
    throw new Error('expected the request to fail');
  }

  it('drives an instance through create, list (reserved characters in the query), update, lease, stop and delete', async () => {
    const created = await send({ method: 'POST', url: '/v1/{project_id}/notebooks', data: createBody({ name: 'core_signed', lease: { duration: 7_200_000, type: 'timing' } }) });
    assert.equal(created.httpStatusCode, 200);
    assert.equal(created.user.id, signer.id, 'the instance is the key owner\'s');
    const id = created.id as string;

    const listed = await send({ method: 'GET', url: '/v1/{project_id}/notebooks', queryParams: { name: 'core_signed', limit: 10, offset: 0, sort_dir: 'DESC', sort_key: 'create_at' } });
    assert.deepEqual(listed.data.map((n: any) => n.id), [id]);
    const reserved = await send({ method: 'GET', url: '/v1/{project_id}/notebooks', queryParams: { name: "a b!*'()~;:@&=+$,/?#[]", limit: 10 } });
    assert.equal(reserved.httpStatusCode, 200);
    assert.equal(reserved.total, 0);

    await waitForNotebook(svc.api, id, (nb) => nb?.status === 'RUNNING');
    const updated = await send({ method: 'PUT', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id }, data: { description: 'signed by the core ~ ünïcode' } });
    assert.equal(updated.description, 'signed by the core ~ ünïcode');
    const lease = await send({ method: 'PATCH', url: '/v1/{project_id}/notebooks/{id}/lease', pathParams: { id }, data: { duration: 10_800_000, type: 'TIMING' } });
    assert.equal(lease.httpStatusCode, 200);
    assert.equal(lease.type, 'TIMING');

    const stopped = await send({ method: 'POST', url: '/v1/{project_id}/notebooks/{id}/stop', pathParams: { id }, data: {} });
    assert.equal(stopped.status, 'STOPPING');
    await waitForNotebook(svc.api, id, (nb) => nb?.status === 'STOPPED');

    const deleted = await send({ method: 'DELETE', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id } });
    assert.equal(deleted.httpStatusCode, 200, 'DELETE without a body');
  });

  it('verifies paths with characters the core escapes: a strange id reaches the handler (404), not the auth check', async () => {
    for (const id of ["nb 1!*'()", 'nb-ä-名前', '%41b']) {
      const e = await sendFailing({ method: 'GET', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id } });
      assert.equal(e.httpStatusCode, 404, `${id}: ${e.errorCode} ${e.errorMsg}`);
      assert.equal(e.errorCode, 'ModelArts.6404');
    }
  });

  it('rejects a wrong secret with 401 APIGW.0301 and the request id', async () => {
    const e = await sendFailing({ method: 'GET', url: '/v1/{project_id}/notebooks', sk: key.secret.replace(/^./, (c) => (c === 'Z' ? 'Y' : 'Z')) });
    assert.equal(e.httpStatusCode, 401);
    assert.equal(e.errorCode, 'APIGW.0301');
    assert.match(e.errorMsg, /verify aksk signature fail/);
    assert.match(e.requestId, /^[0-9a-f-]{36}$/);
  });

  it('accepts a date 14 minutes off and rejects one 16 minutes off, in both directions', async () => {
    for (const offset of [-14 * MIN, 14 * MIN]) {
      assert.equal((await send({ method: 'GET', url: '/v1/{project_id}/notebooks', dateMs: clock.now() + offset })).httpStatusCode, 200);
    }
    for (const offset of [-16 * MIN, 16 * MIN]) {
      const e = await sendFailing({ method: 'GET', url: '/v1/{project_id}/notebooks', dateMs: clock.now() + offset });
      assert.equal(e.httpStatusCode, 401);
      assert.match(e.errorMsg, /more than 15 minutes/);
    }
  });

  it('a captured request can be replayed inside the 15-minute window (as on APIG) but not past it', async () => {
    const url = new URL(`/v1/${PROJECT}/notebooks?limit=10`, svc.url);
    const headers = signRequest({ method: 'GET', url, headers: { 'content-type': 'application/json', 'X-Project-Id': PROJECT }, accessKey: key.access, secretKey: key.secret, now: clock.now() });
    assert.equal((await fetch(url, { headers })).status, 200);
    clock.advance(14 * MIN);
    assert.equal((await fetch(url, { headers })).status, 200, 'replayed within the window');

    clock.advance(2 * MIN);

    const replay = await fetch(url, { headers });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as any).error_code, 'APIGW.0301');
  });
});

// ---- other SDKs' signers, hand-built ------------------------------------------------------------

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
// encodeURIComponent plus the five characters it leaves alone: the SDKs' strict table.
const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function authorization(key: { access: string; secret: string }, date: string, canonical: string, signedHeaders: string[]): string {
  const signature = createHmac('sha256', key.secret).update(`SDK-HMAC-SHA256\n${date}\n${sha256(canonical)}`).digest('hex');
  return `SDK-HMAC-SHA256 Access=${key.access}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
}

function rawRequest(method: string, path: string, headers: http.OutgoingHttpHeaders, body = ''): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, svc.url), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Go- and Python-style signatures against the running server', () => {
  let key: { access: string; secret: string };
  let owner: TestUser;
  before(async () => {
    owner = await createUser(svc, 'polyglot');
    key = await newKey(owner);
  });

  it('Go: host and X-Project-Id unsigned, values trimmed, repeated headers one line each, + for space', async () => {
    const date = formatSdkDate(clock.now());
    const path = `/v1/${PROJECT}/notebooks`;
    const signedHeaders = ['accept', 'content-type', 'user-agent', 'x-custom', 'x-language', 'x-sdk-date'];
    const canonical = [
      'GET',
      `${path}/`,
      `feature=NOTEBOOK&limit=10&name=${strict('a b!')}`,
      `accept:application/json\ncontent-type:application/json\nuser-agent:huaweicloud-usdk-go/3.0\nx-custom:a\nx-custom:b\nx-language:en-us\nx-sdk-date:${date}\n`,
      signedHeaders.join(';'),
      sha256(''),
    ].join('\n');

    const res = await rawRequest('GET', `${path}?limit=10&name=a+b%21&feature=NOTEBOOK`, {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'User-Agent': 'huaweicloud-usdk-go/3.0 ',
      'X-Custom': ['b', 'a'],
      'X-Language': 'en-us',
      'X-Sdk-Date': date,
      Authorization: authorization(key, date, canonical, signedHeaders),
      'X-Project-Id': PROJECT,
    });

    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('Python: quote(safe="~") of path and query, host signed, a JSON body hashed', async () => {
    const created = await owner.api.post(`/v1/${PROJECT}/notebooks`, createBody({ name: 'py_signed' }));
    await waitForNotebook(svc.api, created.body.id, (nb) => nb?.status === 'RUNNING');
    const date = formatSdkDate(clock.now());
    const path = `/v1/${PROJECT}/notebooks/${created.body.id}`;
    const body = JSON.stringify({ description: 'ünïcode ~ from python' });
    const query = `flag=true&name=${strict("x y'~")}`;
    const signedHeaders = ['content-type', 'host', 'x-project-id', 'x-sdk-date'];
    const canonical = [
      'PUT',
      `${path}/`,
      query,
      `content-type:application/json\nhost:${new URL(svc.url).host}\nx-project-id:${PROJECT}\nx-sdk-date:${date}\n`,
      signedHeaders.join(';'),
      sha256(Buffer.from(body)),
    ].join('\n');

    const res = await rawRequest('PUT', `${path}?${query}`, { 'Content-Type': 'application/json', 'X-Project-Id': PROJECT, 'X-Sdk-Date': date, Authorization: authorization(key, date, canonical, signedHeaders) }, body);

    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.description, 'ünïcode ~ from python');
  });

  it('a Go-style request whose body was swapped after signing is refused', async () => {
    const date = formatSdkDate(clock.now());
    const path = `/v1/${PROJECT}/notebooks`;
    const signedBody = JSON.stringify(createBody({ name: 'go_signed' }));
    const signedHeaders = ['content-type', 'x-sdk-date'];
    const canonical = ['POST', `${path}/`, '', `content-type:application/json\nx-sdk-date:${date}\n`, signedHeaders.join(';'), sha256(signedBody)].join('\n');
    const headers = { 'Content-Type': 'application/json', 'X-Sdk-Date': date, Authorization: authorization(key, date, canonical, signedHeaders) };

    assertError((await rawRequest('POST', path, headers, signedBody.replace('go_signed', 'go_swapped'))) as never, 401, 'APIGW.0301');
    assert.equal((await rawRequest('POST', path, headers, signedBody)).status, 200);
  });
});

describe('lockout', () => {
  it('locks an AK for 5 minutes after 5 consecutive signature failures, even for a correct signature; other AKs are unaffected', async () => {
    const user = await createUser(svc, 'locked-out');
    const key = await newKey(user);
    const spare = await newKey(user);
    const path = `/v1/${PROJECT}/notebooks`;
    const wrong = { access: key.access, secret: key.secret.replace(/^./, (c) => (c === 'Z' ? 'Y' : 'Z')) };
    assert.equal((await signed(key).get(path)).status, 200);

    for (let i = 0; i < 5; i++) {
      const res = await signed(wrong).get(path);
      assertError(res, 401, 'APIGW.0301', `failure ${i + 1}`);
      assert.match(res.body.error_msg, /verify aksk signature fail/);
    }

    const locked = await signed(key).get(path);
    assertError(locked, 401, 'APIGW.0301', 'correct signature while locked');
    assert.match(locked.body.error_msg, /locked for 5 minutes/);
    assert.equal((await signed(spare).get(path)).status, 200, 'the user\'s other key still works');
    assert.equal((await user.api.get(path)).status, 200, 'so do tokens');

    clock.advance(4 * MIN + 59_000);
    assertError(await signed(key).get(path), 401, 'APIGW.0301', 'still locked at 4:59');
    clock.advance(1_000);
    assert.equal((await signed(key).get(path)).status, 200, 'unlocked after 5 minutes');
  });

  it('a success resets the count: four failures, a success, four failures leave the key usable', async () => {
    const user = await createUser(svc, 'reset-count');
    const key = await newKey(user);
    const wrong = { access: key.access, secret: 'w'.repeat(40) };
    const path = `/v1/${PROJECT}/notebooks`;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) assertError(await signed(wrong).get(path), 401, 'APIGW.0301');
      assert.equal((await signed(key).get(path)).status, 200, `round ${round}`);
    }
  });
});
