// What the proxy forwards and what it gives back, seen from a recording backend: our credentials
// never reach the instance (only its internal token does), Jupyter's own login cookie never reaches
// the browser, local redirects stay on notebookd, WebSockets pass both ways with the Origin made
// local, and keep-alive pings are not activity. Also the pure pieces: credentials, addresses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { systemClock } from '../../src/clock.ts';
import type { ActivitySource } from '../../src/domain/activity.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import { addressMatcher, createClientAddressResolver } from '../../src/proxy/client-address.ts';
import { signCredential, tokenGeneration, verifyCredential } from '../../src/proxy/credential.ts';
import { createProxy } from '../../src/proxy/proxy.ts';
import { createRouteTable } from '../../src/proxy/route-table.ts';
import { onlyControlFrames } from '../../src/proxy/ws-frames.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook } from '../support/notebook-fixture.ts';

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('proxy forwarding', () => {
  const INTERNAL = 'internal-jupyter-token-0123456789';
  const TOKEN = 'user-facing-token';
  let backend: Server;
  let wss: WebSocketServer;
  let front: Server;
  let frontUrl: string;
  let nb: Notebook;
  let seen: IncomingMessage | null = null;
  let wsSeen: IncomingMessage | null = null;
  const reports: ActivitySource[] = [];
  let closeProxy = () => {};

  before(async () => {
    backend = createServer((req, res) => {
      seen = req;
      if (req.url!.endsWith('/page')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(`<body data-jupyter-api-token="${INTERNAL}"><a href="tree?token=${INTERNAL}">home</a> ${req.headers['accept-encoding'] ?? 'identity'}</body>`);
      }
      if (req.url!.endsWith('/go-home')) {
        res.writeHead(302, { location: `http://127.0.0.1:${(backend.address() as AddressInfo).port}/nb/${nb.id}/tree` });
        return res.end();
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        'set-cookie': ['username-127-0-0-1-8888="2|secret"; Path=/nb/', '_xsrf=2|abc; Path=/nb/'],
      });
      res.end(JSON.stringify({ url: req.url }));
    });
    wss = new WebSocketServer({ server: backend });
    wss.on('connection', (socket, req) => {
      wsSeen = req;
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    const port = await listen(backend);
    nb = makeNotebook({
      status: 'RUNNING',
      token: TOKEN,
      runtimeTarget: { origin: `http://127.0.0.1:${port}`, basePath: '', jupyterToken: INTERNAL },
    });
    nb = { ...nb, runtimeTarget: { ...nb.runtimeTarget!, basePath: `/nb/${nb.id}/` } };
    const store = { notebooks: { get: async () => nb, listActive: async () => [nb] } } as unknown as Store;
    const routes = createRouteTable({ store, clock: systemClock });
    routes.apply(nb);
    const proxy = createProxy({
      routes,
      secret: randomBytes(32),
      clock: systemClock,
      activity: { record: (_id, source) => reports.push(source) },
      clientAddress: createClientAddressResolver({ clientIpHeader: 'none', trustedProxies: [] }),
      credentialTtlMs: 60_000,
      secureCookies: false,
      sessionCookie: 'nbd_session',
      activityEveryMs: 0, // every report, so that a ping that counted would show
    });
    closeProxy = () => proxy.close();
    front = createServer((req, res) => {
      if (!proxy.handle(req, res)) res.writeHead(404).end('not the proxy');
    });
    front.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket, head));
    frontUrl = `http://127.0.0.1:${await listen(front)}/nb/${nb.id}/`;
  });

  after(async () => {
    closeProxy();
    wss?.close();
    await new Promise((r) => front?.close(r));
    await new Promise((r) => backend?.close(r));
  });

  it('strips our credentials, adds the internal token, keeps foreign cookies and the rest of the query', async () => {
    const res = await get(`${frontUrl}api/contents?type=directory&token=${TOKEN}`, {
      'x-auth-token': 'console-token',
      cookie: 'nbd_session=console; _xsrf=2|abc; nbd_access=whatever; theme=dark',
      'x-custom': 'kept',
    });
    assert.equal(res.status, 200);
    assert.ok(seen);
    assert.equal(seen.url, `/nb/${nb.id}/api/contents?type=directory`);
    assert.equal(seen.headers.authorization, `token ${INTERNAL}`);
    assert.equal(seen.headers['x-auth-token'], undefined);
    assert.equal(seen.headers.cookie, '_xsrf=2|abc; theme=dark');
    assert.equal(seen.headers.host, new URL(nb.runtimeTarget!.origin).host);
    assert.equal(seen.headers['x-custom'], 'kept');
  });

  it("drops Jupyter's login cookie from the response, keeps _xsrf and adds ours", async () => {
    const res = await get(`${frontUrl}tree`, { authorization: `token ${TOKEN}` });
    const cookies = res.headers['set-cookie'] ?? [];
    assert.ok(cookies.some((c) => c.startsWith('_xsrf=')), JSON.stringify(cookies));
    assert.ok(!cookies.some((c) => c.startsWith('username-')), JSON.stringify(cookies));
    assert.ok(!JSON.stringify(res).includes(INTERNAL), 'the internal token never leaves');
  });

  it('gives pages the instance token where Jupyter embedded the internal one', async () => {
    const res = await get(`${frontUrl}page`, { authorization: `token ${TOKEN}`, accept: 'text/html', 'accept-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.ok(!res.body.includes(INTERNAL), res.body);
    assert.equal(res.body, `<body data-jupyter-api-token="${TOKEN}"><a href="tree?token=${TOKEN}">home</a> identity</body>`);
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
  });

  it("makes the server's absolute redirects relative", async () => {
    const res = await get(`${frontUrl}go-home`, { authorization: `token ${TOKEN}` });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, `/nb/${nb.id}/tree`);
  });

  it('passes WebSocket messages both ways with a local Origin, reporting data but not pings', async () => {
    reports.length = 0;
    const ws = new WebSocket(`${frontUrl.replace('http:', 'ws:')}api/kernels/k1/channels?token=${TOKEN}`, {
      headers: { origin: 'http://notebookd.example', cookie: 'nbd_session=console' },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.equal(wsSeen?.headers.origin, nb.runtimeTarget!.origin, 'Jupyter checks Origin against Host');
    assert.equal(wsSeen?.headers.authorization, `token ${INTERNAL}`);
    assert.equal(wsSeen?.headers.cookie, undefined);
    assert.equal(wsSeen?.url, `/nb/${nb.id}/api/kernels/k1/channels`);
    const afterOpen = reports.length;
    ws.ping();
    await new Promise((resolve) => ws.once('pong', resolve));
    assert.equal(reports.length, afterOpen, 'a ping and its pong are not activity');
    ws.send('hello');
    const reply = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
    assert.equal(reply, 'echo:hello');
    assert.ok(reports.length > afterOpen && reports.every((s) => s === 'websocket'), JSON.stringify(reports));
    ws.close();
  });

  it('refuses a WebSocket without credentials with a plain HTTP 401', async () => {
    const ws = new WebSocket(`${frontUrl.replace('http:', 'ws:')}api/kernels/k1/channels`);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!)));
    assert.equal(status, 401);
  });
});

describe('signed credentials', () => {
  const secret = randomBytes(32);
  const now = Date.UTC(2026, 10, 22, 9, 0, 0);
  const c = { instanceId: 'i1', generation: tokenGeneration('t1'), expiresAt: now + 60_000 };

  it('verify what they sign, until they expire', () => {
    const v = signCredential(secret, c);
    assert.deepEqual(verifyCredential(secret, 'i1', v, now), c);
    assert.deepEqual(verifyCredential(secret, 'i1', v, now + 59_999), c);
    assert.equal(verifyCredential(secret, 'i1', v, now + 60_000), null);
  });

  it('are bound to the instance, the key and every character', () => {
    const v = signCredential(secret, c);
    assert.equal(verifyCredential(secret, 'i2', v, now), null);
    assert.equal(verifyCredential(randomBytes(32), 'i1', v, now), null);
    const parts = v.split('.');
    assert.equal(verifyCredential(secret, 'i1', [parts[0], parts[1], (c.expiresAt + 1).toString(36), parts[3]].join('.'), now), null, 'a moved expiry');
    for (const bad of ['', 'v1', 'v2.a.b.c', `${v}.x`, v.toUpperCase()]) assert.equal(verifyCredential(secret, 'i1', bad, now), null, bad);
  });
});

describe('client addresses and allow-lists', () => {
  it('match addresses and CIDR blocks, IPv4-mapped IPv6 included', () => {
    const m = addressMatcher(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
    assert.ok(m.matches('10.1.2.3'));
    assert.ok(m.matches('::ffff:10.1.2.3'));
    assert.ok(m.matches('192.168.1.7'));
    assert.ok(!m.matches('192.168.1.8'));
    assert.ok(m.matches('2001:db8::1'));
    assert.ok(!m.matches('2001:db9::1'));
    assert.ok(!m.matches('not-an-address'));
    assert.ok(addressMatcher([]).matches('203.0.113.9'), 'an empty list admits everyone');
  });

  it('believe a forwarding header only from trusted proxies, taking the nearest untrusted hop', () => {
    const none = createClientAddressResolver({ clientIpHeader: 'none', trustedProxies: ['127.0.0.1'] });
    assert.equal(none('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }), '127.0.0.1');
    const xff = createClientAddressResolver({ clientIpHeader: 'x-forwarded-for', trustedProxies: ['127.0.0.1', '10.0.0.0/8'] });
    assert.equal(xff('::ffff:127.0.0.1', { 'x-forwarded-for': '198.51.100.1, 203.0.113.9, 10.1.1.1' }), '203.0.113.9');
    assert.equal(xff('192.0.2.5', { 'x-forwarded-for': '203.0.113.9' }), '192.0.2.5', 'an untrusted peer cannot claim an address');
    assert.equal(xff('127.0.0.1', {}), '127.0.0.1');
    const fwd = createClientAddressResolver({ clientIpHeader: 'forwarded', trustedProxies: ['127.0.0.1'] });
    assert.equal(fwd('127.0.0.1', { forwarded: 'for="[2001:db8::1]:4711";proto=https' }), '2001:db8::1');
  });

  it('tell control frames from data frames', () => {
    const ping = Buffer.from([0x89, 0x00]);
    const maskedPong = Buffer.from([0x8a, 0x80, 1, 2, 3, 4]);
    const text = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    assert.ok(onlyControlFrames(ping));
    assert.ok(onlyControlFrames(Buffer.concat([ping, maskedPong])));
    assert.ok(!onlyControlFrames(text));
    assert.ok(!onlyControlFrames(Buffer.concat([ping, text])));
    assert.ok(!onlyControlFrames(Buffer.from([0x89])), 'a partial header counts as data');
  });
});
