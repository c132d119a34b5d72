// AK/SK signatures: the official Node core (and hand-built Go/Python-style requests) sign, a real
// loopback server captures the raw request, verifySignature checks it. The server always answers
// 200 JSON because the core logs failed requests, Authorization header included, at ERROR.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import type { HcClient, HttpRequestOptions } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import type { SignedRequest } from '../../src/auth/aksk-signature.ts';
import { parseAuthorization, parseSdkDate, verifySignature } from '../../src/auth/aksk-signature.ts';
import { signRequest } from '../../src/auth/request-signer.ts';
import { DomainError } from '../../src/domain/errors.ts';

const AK = 'QTWAOYTTINDUT2QVKYUC';
const SK = 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc';
const PROJECT = '0f3b8a9e5c2d4e1f9a7b6c5d4e3f2a1b';
const NOW = Date.UTC(2026, 10, 22, 9, 0, 0);
const SDK_DATE = '20261122T090000Z';
const MIN = 60_000;

interface Captured extends SignedRequest {
  rawUrl: string;
  rawBody: Buffer;
}

let server: http.Server;
let endpoint: string;
const captured: Captured[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured.push({ method: req.method!, rawUrl: req.url!, headers: req.headers, rawBody: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const last = () => captured[captured.length - 1]!;

function coreClient(sk = SK): HcClient {
  const credentials = new BasicCredentials().withAk(AK).withSk(sk).withProjectId(PROJECT);
  return new ClientBuilder<HcClient>((hc) => hc).withEndpoint(endpoint).withCredential(credentials).build();
}

/** Sends one request through the official core, the way the generated ModelArtsClient does. */
async function viaCore(
  opts: Partial<HttpRequestOptions> & Pick<HttpRequestOptions, 'method' | 'url'>,
  fixedDate: string | null = SDK_DATE,
): Promise<Captured> {
  await coreClient().sendRequest({
    contentType: 'application/json;charset=UTF-8',
    queryParams: {},
    pathParams: {},
    ...opts,
    // A caller-supplied X-Sdk-Date is what the core signs, which pins its clock.
    headers: { ...(fixedDate ? { 'X-Sdk-Date': fixedDate } : {}), ...opts.headers },
  });
  return last();
}

/** Sends raw bytes with node:http, for the hand-built Go/Python-style signatures. */
function sendRaw(method: string, path: string, headers: http.OutgoingHttpHeaders, body = ''): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${endpoint}${path}`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(last()));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const withChanges = (r: Captured, changes: Partial<Captured>): Captured => ({ ...r, ...changes });

function assertRejected(req: SignedRequest, sk: string, now: number, detail: RegExp) {
  assert.throws(
    () => verifySignature(req, sk, now),
    (e: unknown) => e instanceof DomainError && e.code === 'APIGW.0301' && e.httpStatus === 401 && detail.test(e.message),
  );
}

// Independent of the module under test: encodeURIComponent plus the five characters it leaves alone.
const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: string, s: string) => createHmac('sha256', key).update(s).digest('hex');

function handSign(canonical: string, signedHeaders: string[], date = SDK_DATE): string {
  const signature = hmac(SK, `SDK-HMAC-SHA256\n${date}\n${sha256(canonical)}`);
  return `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
}

describe('official @huaweicloud/huaweicloud-sdk-core signatures verify', () => {
  it('GET with a query that needs decoding and re-encoding (name=a b!*\'(), several keys, an array)', async () => {
    const req = await viaCore({
      method: 'GET',
      url: '/v1/{project_id}/notebooks',
      queryParams: { name: "a b!*'()", limit: 10, offset: 0, sort_dir: 'DESC', status: ['STOPPED', 'RUNNING'], flag: true },
    });
    assert.match(req.rawUrl, /name=a%20b!\*'\(\)/); // axios leaves !*'() raw; the core signed them encoded
    assert.match(String(req.headers.authorization), /SignedHeaders=content-type;host;x-project-id;x-sdk-date,/);
    verifySignature(req, SK, NOW);
  });

  it('GET whose query keys arrive unsorted', async () => {
    const req = await viaCore({
      method: 'GET',
      url: '/v1/{project_id}/notebooks',
      queryParams: { zeta: 'z', alpha: 'a', Mid: 'M', 'key with space': 'v/w' },
    });
    verifySignature(req, SK, NOW);
  });

  it('PATCH lease with a JSON body', async () => {
    const req = await viaCore({
      method: 'PATCH',
      url: '/v1/{project_id}/notebooks/{id}/lease',
      pathParams: { id: 'c1f2e3d4-0000-4000-8000-000000000001' },
      data: { duration: 7200000, type: 'TIMING' },
    });
    assert.equal(req.rawBody.toString(), '{"duration":7200000,"type":"TIMING"}');
    verifySignature(req, SK, NOW);
  });

  it('POST with {}', async () => {
    const req = await viaCore({
      method: 'POST',
      url: '/v1/{project_id}/notebooks/{id}/stop',
      pathParams: { id: 'c1f2e3d4-0000-4000-8000-000000000001' },
      data: {},
    });
    assert.equal(req.rawBody.toString(), '{}');
    verifySignature(req, SK, NOW);
  });

  it('DELETE without a body (and with data {}, which the core drops)', async () => {
    const a = await viaCore({ method: 'DELETE', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id: 'nb1' } });
    assert.equal(a.rawBody.length, 0);
    verifySignature(a, SK, NOW);
    const b = await viaCore({ method: 'DELETE', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id: 'nb1' }, data: {} });
    assert.equal(b.rawBody.length, 0);
    verifySignature(b, SK, NOW);
  });

  it('paths with unicode, space, quote and pre-encoded segments', async () => {
    for (const id of ['nb-ä-名前', 'nb 1', "it's^|", '%41b', 'a%2Fb', '100%']) {
      const req = await viaCore({ method: 'GET', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id } });
      assert.doesNotThrow(() => verifySignature(req, SK, NOW), `path param ${JSON.stringify(id)} → ${req.rawUrl}`);
    }
  });

  it('non-JSON content type: the core signs UNSIGNED-PAYLOAD', async () => {
    const req = await viaCore({ method: 'PUT', url: '/v1/{project_id}/blob', contentType: 'text/plain', data: 'hello' as never });
    assert.equal(req.headers['x-sdk-content-sha256'], 'UNSIGNED-PAYLOAD');
    verifySignature(req, SK, NOW);
  });

  it('uses the real clock when no X-Sdk-Date is supplied', async () => {
    const before = Date.now();
    const req = await viaCore({ method: 'GET', url: '/v1/{project_id}/notebooks' }, null);
    const date = parseSdkDate(String(req.headers['x-sdk-date']));
    assert.ok(date !== null && Math.abs(date - before) < 5_000);
    verifySignature(req, SK, Date.now());
  });
});

describe('other SDKs', () => {
  it('Go style: host unsigned, X-Project-Id added after signing, values trimmed, repeated headers one line each', async () => {
    const path = `/v1/${PROJECT}/notebooks`;
    // Go's url.Values.Encode: '+' for space; r.URL.Query() decodes it again before signing.
    const wireQuery = 'limit=10&name=a+b%21&feature=NOTEBOOK';
    const body = '';
    const signed = ['accept', 'content-type', 'user-agent', 'x-custom', 'x-language', 'x-sdk-date'];
    const canonical = [
      'GET',
      `${path}/`,
      `feature=NOTEBOOK&limit=10&name=${strict('a b!')}`,
      'accept:application/json\ncontent-type:application/json\nuser-agent:huaweicloud-usdk-go/3.0\n' +
        'x-custom:a\nx-custom:b\nx-language:en-us\nx-sdk-date:' + SDK_DATE + '\n',
      signed.join(';'),
      sha256(body),
    ].join('\n');
    const req = await sendRaw('GET', `${path}?${wireQuery}`, {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'User-Agent': 'huaweicloud-usdk-go/3.0 ',
      'X-Custom': ['b', 'a'],
      'X-Language': 'en-us',
      'X-Sdk-Date': SDK_DATE,
      Authorization: handSign(canonical, signed),
      'X-Project-Id': PROJECT,
    });
    assert.equal(req.headers['x-custom'], 'b, a'); // Node joins repeated lines
    verifySignature(req, SK, NOW);
    verifySignature({ ...req, headers: { ...req.headers, 'x-custom': ['b', 'a'] } }, SK, NOW); // headersDistinct-style
  });

  it('Python style: quote(safe="~"), unquote-then-quote of the whole path, booleans lower-cased, host signed', async () => {
    const path = `/v1/${PROJECT}/notebooks/a%2Fb`;
    const body = JSON.stringify({ description: 'ünïcode ~ test' });
    const query = `flag=true&name=${strict("x y'~")}`; // the Python core sends its canonical query as the URI
    const host = new URL(endpoint).host;
    const signed = ['content-type', 'host', 'x-project-id', 'x-sdk-date'];
    const canonical = [
      'PUT',
      `/v1/${PROJECT}/notebooks/a/b/`,
      query,
      `content-type:application/json\nhost:${host}\nx-project-id:${PROJECT}\nx-sdk-date:${SDK_DATE}\n`,
      signed.join(';'),
      createHash('sha256').update(Buffer.from(body)).digest('hex'),
    ].join('\n');
    const req = await sendRaw(
      'PUT',
      `${path}?${query}`,
      {
        'Content-Type': 'application/json',
        'X-Project-Id': PROJECT,
        'X-Sdk-Date': SDK_DATE,
        Authorization: handSign(canonical, signed),
      },
      body,
    );
    verifySignature(req, SK, NOW);
  });
});

describe('rejections', () => {
  let good: Captured;
  before(async () => {
    good = await viaCore({
      method: 'PATCH',
      url: '/v1/{project_id}/notebooks/{id}/lease',
      pathParams: { id: 'nb1' },
      queryParams: { a: '1', b: '2' },
      data: { duration: 7200000, type: 'TIMING' },
    });
    verifySignature(good, SK, NOW);
  });

  const table: [string, () => [SignedRequest, string, number], RegExp][] = [
    ['tampered body', () => [withChanges(good, { rawBody: Buffer.from('{"duration":9999999,"type":"TIMING"}') }), SK, NOW], /signature fail/],
    ['tampered query value', () => [withChanges(good, { rawUrl: good.rawUrl.replace('b=2', 'b=3') }), SK, NOW], /signature fail/],
    ['dropped query pair', () => [withChanges(good, { rawUrl: good.rawUrl.replace('&b=2', '') }), SK, NOW], /signature fail/],
    ['tampered path', () => [withChanges(good, { rawUrl: good.rawUrl.replace('/nb1/', '/nb2/') }), SK, NOW], /signature fail/],
    ['tampered method', () => [withChanges(good, { method: 'PUT' }), SK, NOW], /signature fail/],
    ['tampered signed header', () => [withChanges(good, { headers: { ...good.headers, 'x-project-id': 'other' } }), SK, NOW], /signature fail/],
    ['wrong SK', () => [good, SK.replace(/.$/, 'X'), NOW], /signature fail/],
    [
      'SignedHeaders without x-sdk-date',
      () => [withChanges(good, { headers: { ...good.headers, authorization: String(good.headers.authorization).replace(';x-sdk-date', '') } }), SK, NOW],
      /x-sdk-date must be listed/,
    ],
    ['X-Sdk-Date header absent', () => [withChanges(good, { headers: { ...good.headers, 'x-sdk-date': undefined } }), SK, NOW], /X-Sdk-Date header is missing/],
    ['X-Sdk-Date malformed', () => [withChanges(good, { headers: { ...good.headers, 'x-sdk-date': '2026-11-22T09:00:00Z' } }), SK, NOW], /not in the form/],
    ['date 16 minutes old', () => [good, SK, NOW + 16 * MIN], /more than 15 minutes/],
    ['date 16 minutes in the future', () => [good, SK, NOW - 16 * MIN], /more than 15 minutes/],
    ['no Authorization', () => [withChanges(good, { headers: { ...good.headers, authorization: undefined } }), SK, NOW], /missing/],
    ['malformed Authorization', () => [withChanges(good, { headers: { ...good.headers, authorization: 'Bearer abc' } }), SK, NOW], /malformed/],
    [
      'unsigned X-Sdk-Content-Sha256 vouching for a swapped body',
      () => [
        withChanges(good, {
          rawBody: Buffer.from('{"evil":true}'),
          headers: { ...good.headers, 'x-sdk-content-sha256': sha256(good.rawBody.toString()) },
        }),
        SK,
        NOW,
      ],
      /signature fail/,
    ],
  ];
  for (const [name, make, detail] of table) {
    it(`rejects: ${name}`, () => {
      const [req, sk, now] = make();
      assertRejected(req, sk, now, detail);
    });
  }

  it('accepts a date 14 minutes old or 14 minutes ahead', () => {
    verifySignature(good, SK, NOW + 14 * MIN);
    verifySignature(good, SK, NOW - 14 * MIN);
  });

  it('parseAuthorization accepts the SDK form and returns null for malformed headers', () => {
    const sig = 'a'.repeat(64);
    assert.deepEqual(parseAuthorization(`SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${sig}`), {
      accessKey: AK,
      signedHeaders: ['host', 'x-sdk-date'],
      signature: sig,
    });
    for (const bad of [
      '',
      'Bearer token',
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${'a'.repeat(63)}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${'g'.repeat(64)}`,
      `SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=${sig}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=Host;X-Sdk-Date, Signature=${sig}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;;x-sdk-date, Signature=${sig}`,
      `V11-HMAC-SHA256 Credential=${AK}/20261122/r/s, SignedHeaders=host, Signature=${sig}`,
      `SDK-HMAC-SHA256 Credential=${AK}, SignedHeaders=host, Signature=${sig}`,
    ]) {
      assert.equal(parseAuthorization(bad), null, bad);
    }
  });

  it('parseSdkDate rejects impossible dates', () => {
    assert.equal(parseSdkDate(SDK_DATE), NOW);
    assert.equal(parseSdkDate('20261340T090000Z'), null);
    assert.equal(parseSdkDate('20260230T090000Z'), null);
    assert.equal(parseSdkDate('20261122T090000'), null);
  });
});

describe('request-signer matches the official core', () => {
  const cases: (Partial<HttpRequestOptions> & Pick<HttpRequestOptions, 'method' | 'url'>)[] = [
    { method: 'GET', url: '/v1/{project_id}/notebooks', queryParams: { name: "a b!*'()", limit: 10, status: ['STOPPED', 'RUNNING'] } },
    { method: 'PATCH', url: '/v1/{project_id}/notebooks/{id}/lease', pathParams: { id: 'nb1' }, data: { duration: 7200000, type: 'TIMING' } },
    { method: 'POST', url: '/v1/{project_id}/notebooks/{id}/start', pathParams: { id: 'nb1' }, data: {} },
    { method: 'DELETE', url: '/v1/{project_id}/notebooks/{id}', pathParams: { id: 'nb-ä' } },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.url}: same Authorization, and ours verifies end to end`, async () => {
      const core = await viaCore(c);
      const ours = signRequest({
        method: c.method,
        url: new URL(core.rawUrl, endpoint),
        headers: { 'content-type': 'application/json', 'X-Project-Id': PROJECT },
        body: core.rawBody.toString(),
        accessKey: AK,
        secretKey: SK,
        now: NOW,
      });
      assert.equal(ours['X-Sdk-Date'], core.headers['x-sdk-date']);
      assert.equal(ours['Authorization'], core.headers.authorization);

      const sent = await sendRaw(c.method, core.rawUrl, ours, core.rawBody.toString());
      verifySignature(sent, SK, NOW);
    });
  }

  it('signs a URL built with URLSearchParams (+ for space) so the server accepts it', async () => {
    const url = new URL(`${endpoint}/v1/${PROJECT}/notebooks`);
    url.search = new URLSearchParams({ name: "a b!*'()", z: '1', a: '2' }).toString();
    const headers = signRequest({ method: 'GET', url, headers: { 'X-Project-Id': PROJECT }, accessKey: AK, secretKey: SK, now: NOW });
    assert.match(headers['Authorization']!, /SignedHeaders=host;x-project-id;x-sdk-date,/);
    const res = await fetch(url, { headers });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    verifySignature(last(), SK, NOW);
  });
});
