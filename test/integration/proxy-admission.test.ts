// The proxy's admission matrix over a real notebookd (fake runtime: each instance serves a real
// HTTP server): instance token in the query, the header or the cookie it sets; wrong, foreign,
// expired, tampered and stale credentials; console users by role; allowed and refused client
// addresses (loopback aliases); and the answers for instances that are not running.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../src/auth/secrets.ts';
import type { ActivitySource } from '../../src/domain/activity.ts';
import type { Role } from '../../src/domain/identity.ts';
import { loadConfig } from '../../src/config/config.ts';
import { signCredential, tokenGeneration } from '../../src/proxy/credential.ts';
import { createFakeRuntime, fakeVariants } from '../../src/runtime/fake/fake-runtime.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** One HTTP request with node:http, so the client's source address can be chosen. */
function send(url: string, opts: { method?: string; headers?: Record<string, string>; localAddress?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.localAddress && { localAddress: opts.localAddress }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const cookieFrom = (r: Reply): string => {
  const set = r.headers['set-cookie'];
  const line = (Array.isArray(set) ? set : [set]).find((c) => c?.startsWith('nbd_access='));
  assert.ok(line, `expected an nbd_access cookie, got ${JSON.stringify(set)}`);
  return line!.split(';')[0]!;
};

function assertError(r: Reply, status: number, code: string) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.json?.error_code, code, r.text.slice(0, 300));
}

describe('proxy admission', () => {
  let svc: TestService;
  let a: any; // RUNNING, open to everyone
  let b: any; // RUNNING, another instance
  let fenced: any; // RUNNING, NOTEBOOK allow-list 127.0.0.2 only
  const reports: { id: string; source: ActivitySource }[] = [];
  const nbUrl = (nb: any, rest = 'api/status') => `${svc.url}/nb/${nb.id}/${rest}`;

  before(async () => {
    svc = await startTestService({ activity: { record: (id, source) => reports.push({ id, source }) } });
    const create = async (overrides: Record<string, unknown>) => {
      const res = await svc.api.post(NB, createBody(overrides));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return waitForNotebook(svc.api, res.body.id, (nb) => nb.status === 'RUNNING');
    };
    a = await create({ name: 'proxy-a' });
    b = await create({ name: 'proxy-b' });
    fenced = await create({ name: 'proxy-fenced', endpoints: [{ service: 'NOTEBOOK', allowed_access_ips: ['127.0.0.2'] }] });
  });

  after(async () => {
    await svc?.close();
  });

  describe('the instance token', () => {
    it('without any credential: 401 ModelArts.0205 for API clients, a page with a token form for browsers', async () => {
      assertError(await send(nbUrl(a)), 401, 'ModelArts.0205');
      const page = await send(nbUrl(a, 'tree'), { headers: { accept: 'text/html,application/xhtml+xml' } });
      assert.equal(page.status, 401);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.match(page.text, /<form method="get">[\s\S]*name="token"/);
    });

    it('a wrong token, in the query or the header: 401 ModelArts.0203', async () => {
      assertError(await send(nbUrl(a, 'api/status?token=not-the-token')), 401, 'ModelArts.0203');
      assertError(await send(nbUrl(a), { headers: { authorization: 'token not-the-token' } }), 401, 'ModelArts.0203');
    });

    it("another instance's token: 401", async () => {
      assertError(await send(nbUrl(a, `api/status?token=${b.token}`)), 401, 'ModelArts.0203');
      assertError(await send(nbUrl(a), { headers: { authorization: `token ${b.token}` } }), 401, 'ModelArts.0203');
    });

    it('the right token in the query or in Authorization: token ... is forwarded to Jupyter', async () => {
      const viaQuery = await send(nbUrl(a, `api/status?token=${a.token}`));
      assert.equal(viaQuery.status, 200, viaQuery.text);
      assert.equal(typeof viaQuery.json.started, 'string');
      const viaHeader = await send(nbUrl(a), { headers: { authorization: `Token ${a.token}` } });
      assert.equal(viaHeader.status, 200, viaHeader.text);
    });

    it('the first visit sets a cookie scoped to /nb/{id}/ that admits later requests on its own', async () => {
      const first = await send(nbUrl(a, `api/status?token=${a.token}`));
      const line = ([] as string[]).concat(first.headers['set-cookie'] as string[]).find((c) => c.startsWith('nbd_access='))!;
      assert.match(line, new RegExp(`Path=/nb/${a.id}/;`));
      assert.match(line, /HttpOnly/);
      assert.match(line, /SameSite=Lax/);
      const cookie = cookieFrom(first);
      assert.equal((await send(nbUrl(a), { headers: { cookie } })).status, 200);
      // Scoped to one instance: presented to another, it is worth nothing.
      assertError(await send(nbUrl(b), { headers: { cookie } }), 401, 'ModelArts.0203');
    });

    it('a browser arriving with ?token= is redirected to the same address without it', async () => {
      const r = await send(nbUrl(a, `tree?x=1&token=${a.token}`), { headers: { accept: 'text/html' } });
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, `/nb/${a.id}/tree?x=1`);
      cookieFrom(r);
    });

    it('an expired, tampered or earlier-run credential is refused', async () => {
      const secret = Buffer.from((await readFile(join(svc.dataDir, 'proxy-secret'), 'utf8')).trim(), 'hex');
      const generation = tokenGeneration(a.token);
      const expired = signCredential(secret, { instanceId: a.id, generation, expiresAt: Date.now() - 1_000 });
      assertError(await send(nbUrl(a), { headers: { cookie: `nbd_access=${expired}` } }), 401, 'ModelArts.0203');
      const valid = signCredential(secret, { instanceId: a.id, generation, expiresAt: Date.now() + 60_000 });
      assert.equal((await send(nbUrl(a), { headers: { cookie: `nbd_access=${valid}` } })).status, 200, 'the same credential, unexpired, works');
      const tampered = valid.slice(0, -2) + (valid.endsWith('AA') ? 'BB' : 'AA');
      assertError(await send(nbUrl(a), { headers: { cookie: `nbd_access=${tampered}` } }), 401, 'ModelArts.0203');
      const otherSecret = signCredential(randomBytes(32), { instanceId: a.id, generation, expiresAt: Date.now() + 60_000 });
      assertError(await send(nbUrl(a), { headers: { cookie: `nbd_access=${otherSecret}` } }), 401, 'ModelArts.0203');
      const earlierRun = signCredential(secret, { instanceId: a.id, generation: tokenGeneration('an-earlier-token'), expiresAt: Date.now() + 60_000 });
      assertError(await send(nbUrl(a), { headers: { cookie: `nbd_access=${earlierRun}` } }), 401, 'ModelArts.0203');
    });

    it('a cookie-only request from another origin may read but not change anything', async () => {
      const cookie = cookieFrom(await send(nbUrl(a, `api/status?token=${a.token}`)));
      const host = new URL(svc.url).host;
      const put = (origin: string) =>
        send(nbUrl(a, 'api/contents/x.txt'), {
          method: 'PUT',
          headers: { cookie, origin, 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'file', format: 'text', content: 'hi' }),
        });
      assertError(await put('http://evil.example'), 403, 'ModelArts.0108');
      assert.equal((await put(`http://${host}`)).status, 201);
    });

    it('http traffic is reported as activity (at most once a second), background polls and refusals are not', async () => {
      const res = await svc.api.post(NB, createBody({ name: 'proxy-activity' }));
      const quiet = await waitForNotebook(svc.api, res.body.id, (nb) => nb.status === 'RUNNING');
      reports.length = 0;
      const auth = { authorization: `token ${quiet.token}` };
      await send(nbUrl(quiet, 'api/kernels'), { headers: auth });
      await send(nbUrl(quiet, 'api/sessions'), { headers: auth });
      await send(nbUrl(quiet, `api/contents?type=directory&_=${Date.now()}`), { headers: auth });
      await send(nbUrl(quiet)); // refused
      assert.deepEqual(reports, [], 'what an open tab polls by itself is not activity');
      await send(nbUrl(quiet, 'api/contents/x.txt'), { headers: auth });
      await send(nbUrl(quiet, 'api/contents/y.txt'), { headers: auth });
      assert.deepEqual(reports, [{ id: quiet.id, source: 'http' }], 'one report for a burst');
    });
  });

  describe('console users (X-Auth-Token)', () => {
    const tokens: Record<string, string> = {};
    before(async () => {
      const store = svc.service.store;
      for (const role of ['admin', 'member', 'viewer'] as Role[]) {
        const id = `proxy${role}${randomBytes(4).toString('hex')}`;
        await store.identity.insertUser({ id, projectId: PROJECT, name: id, domainId: PROJECT, domainName: 'default', role, systemAdmin: false, passwordHash: null, createAt: Date.now() });
        tokens[role] = `nbd_${randomBytes(24).toString('base64url')}`;
        await store.identity.insertToken({ tokenHash: hashToken(tokens[role]!), userId: id, projectId: PROJECT, expiresAt: Date.now() + 3_600_000, revoked: false, createAt: Date.now() });
      }
    });

    it('the owner (here the bootstrap admin) and a project admin are admitted and get the cookie', async () => {
      const owner = await send(nbUrl(a), { headers: { 'x-auth-token': 'nbd_test-bootstrap-token' } });
      assert.equal(owner.status, 200, owner.text);
      cookieFrom(owner);
      assert.equal((await send(nbUrl(a), { headers: { 'x-auth-token': tokens.admin! } })).status, 200);
    });

    it("a member who does not own the instance, and a viewer, are refused: 403 ModelArts.0108", async () => {
      assertError(await send(nbUrl(a), { headers: { 'x-auth-token': tokens.member! } }), 403, 'ModelArts.0108');
      assertError(await send(nbUrl(a), { headers: { 'x-auth-token': tokens.viewer! } }), 403, 'ModelArts.0108');
    });

    it('an unknown console token: 401', async () => {
      assertError(await send(nbUrl(a), { headers: { 'x-auth-token': 'nbd_nobody' } }), 401, 'ModelArts.0203');
    });
  });

  describe('allowed_access_ips of the NOTEBOOK endpoint', () => {
    it('refuses an address outside the list, even with the right token: 403', async () => {
      const r = await send(nbUrl(fenced, `api/status?token=${fenced.token}`), { localAddress: '127.0.0.1' });
      assertError(r, 403, 'ModelArts.0108');
      assert.match(r.json.error_msg, /127\.0\.0\.1/);
    });

    it('admits an address on the list', async () => {
      const r = await send(nbUrl(fenced, `api/status?token=${fenced.token}`), { localAddress: '127.0.0.2' });
      assert.equal(r.status, 200, r.text);
    });

    it('does not believe X-Forwarded-For unless the operator says so', async () => {
      const r = await send(nbUrl(fenced, `api/status?token=${fenced.token}`), { localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '127.0.0.2' } });
      assertError(r, 403, 'ModelArts.0108');
    });

    it('an instance without a list admits every address', async () => {
      assert.equal((await send(nbUrl(a, `api/status?token=${a.token}`), { localAddress: '127.0.0.3' })).status, 200);
    });
  });

  describe('instances that are not running', () => {
    it('a stopped instance: 409 ModelArts.6327 (JSON), a readable page for browsers, and old credentials stay refused after a restart', async () => {
      const cookie = cookieFrom(await send(nbUrl(b, `api/status?token=${b.token}`)));
      assert.equal((await svc.api.post(`${NB}/${b.id}/stop`)).status, 200);
      await waitForNotebook(svc.api, b.id, (nb) => nb.status === 'STOPPED');
      assertError(await send(nbUrl(b), { headers: { cookie } }), 409, 'ModelArts.6327');
      const page = await send(nbUrl(b, 'tree'), { headers: { accept: 'text/html' } });
      assert.equal(page.status, 409);
      assert.match(page.text, /STOPPED/);
      assert.doesNotMatch(page.text, /http-equiv="refresh"/);

      const started = await svc.api.post(`${NB}/${b.id}/start`);
      assert.notEqual(started.body.token, b.token, 'a new token on every start');
      const running = await waitForNotebook(svc.api, b.id, (nb) => nb.status === 'RUNNING');
      assertError(await send(nbUrl(b), { headers: { cookie } }), 401, 'ModelArts.0203');
      assertError(await send(nbUrl(b, `api/status?token=${b.token}`)), 401, 'ModelArts.0203');
      assert.equal((await send(nbUrl(b, `api/status?token=${running.token}`))).status, 200);
    });

    it('a deleted or unknown instance: 404 ModelArts.6404', async () => {
      assertError(await send(`${svc.url}/nb/00000000-0000-0000-0000-000000000000/tree`), 404, 'ModelArts.6404');
      const res = await svc.api.post(NB, createBody({ name: 'proxy-doomed' }));
      const doomed = await waitForNotebook(svc.api, res.body.id, (nb) => nb.status === 'RUNNING');
      await svc.api.delete(`${NB}/${doomed.id}`);
      await waitForNotebook(svc.api, doomed.id, (nb) => nb === undefined || nb.status === 'DELETED');
      assertError(await send(nbUrl(doomed, `api/status?token=${doomed.token}`)), 404, 'ModelArts.6404');
    });

    it('/nb/{id} without the trailing slash redirects to /nb/{id}/', async () => {
      const r = await send(`${svc.url}/nb/${a.id}?token=x`);
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, `/nb/${a.id}/?token=x`);
    });
  });
});

describe('proxy: a starting instance', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ runtime: createFakeRuntime(fakeVariants.neverReady()) });
  });
  after(async () => {
    await svc?.close();
  });

  it('answers 503 with Retry-After, and a page that reloads itself, while STARTING', async () => {
    const res = await svc.api.post(NB, createBody({ name: 'proxy-starting' }));
    const nb = await waitForNotebook(svc.api, res.body.id, (n) => n.status === 'STARTING');
    const api = await send(`${svc.url}/nb/${nb.id}/api/status?token=${nb.token}`);
    assertError(api, 503, 'ModelArts.6306');
    assert.equal(api.headers['retry-after'], '3');
    const page = await send(`${svc.url}/nb/${nb.id}/tree`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 503);
    assert.match(page.text, /<meta http-equiv="refresh" content="3">/);
    assert.match(page.text, /STARTING/);
    // Stopped here so that closing the service does not wait for the start timeout.
    await svc.api.post(`${NB}/${nb.id}/stop`);
    await waitForNotebook(svc.api, nb.id, (n) => n.status === 'STOPPED');
  });
});

describe('proxy: instances on an origin of their own (access.instanceBaseUrl)', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ overrides: { access: { clientIpHeader: 'none', trustedProxies: [], credentialTtlMs: 3_600_000, instanceBaseUrl: 'https://nb.example.org/' } } });
  });
  after(async () => {
    await svc?.close();
  });

  it('instance URLs use that origin, the proxy answers whatever host name reaches it, and cookies are Secure', async () => {
    const res = await svc.api.post(NB, createBody({ name: 'proxy-origin' }));
    const nb = await waitForNotebook(svc.api, res.body.id, (n) => n.status === 'RUNNING');
    assert.equal(nb.url, `https://nb.example.org/nb/${nb.id}/tree`);
    const r = await send(`${svc.url}/nb/${nb.id}/api/status?token=${nb.token}`, { headers: { host: 'nb.example.org' } });
    assert.equal(r.status, 200, r.text);
    assert.match(cookieFrom(r), /^nbd_access=/);
    assert.match(String(r.headers['set-cookie']), /; Secure/);
  });

  it('refuses a base URL that is not an origin', () => {
    assert.throws(() => loadConfig({}, {}, { access: { clientIpHeader: 'none', trustedProxies: [], credentialTtlMs: 3_600_000, instanceBaseUrl: 'nb.example.org/x' } }), /instanceBaseUrl/);
    assert.throws(() => loadConfig({}, {}, { access: { clientIpHeader: 'none', trustedProxies: ['not-an-ip'], credentialTtlMs: 3_600_000, instanceBaseUrl: '' } }), /trustedProxies/);
  });
});
