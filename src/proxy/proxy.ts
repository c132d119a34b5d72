// The authenticating reverse proxy at /nb/{id}/...: HTTP and WebSocket to the instance's Jupyter
// server. Admission, in order: the instance's NOTEBOOK allow-list; the instance must be RUNNING
// (otherwise a clear answer); then the instance token (?token=, Authorization: token ...), the
// signed per-instance cookie the first admission sets, or a console user allowed on the instance
// (X-Auth-Token or the console's session cookie). Our credentials are stripped and the internal
// Jupyter token is added; Jupyter's own login cookie never reaches the browser. The hot path reads
// the in-memory route table and checks an HMAC: no store query per request.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { authorizeNotebook } from '../auth/authorize.ts';
import type { Clock } from '../clock.ts';
import type { ActivitySink } from '../domain/activity.ts';
import { errors, isDomainError, type DomainError } from '../domain/errors.ts';
import type { Caller } from '../domain/identity.ts';
import { errorAnswer, rawHttp, wantsHtml, type Answer } from './answers.ts';
import type { ClientAddressResolver } from './client-address.ts';
import { signCredential, verifyCredential } from './credential.ts';
import type { Route, RouteTable } from './route-table.ts';
import { onlyControlFrames } from './ws-frames.ts';

export const PROXY_PREFIX = '/nb/';
/** The per-instance access cookie (Path=/nb/{id}/). Every cookie named nbd_* is ours and never forwarded. */
export const ACCESS_COOKIE = 'nbd_access';

export interface ProxyLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface ProxyDeps {
  routes: RouteTable;
  /** Key of the signed access credential (credential.ts). */
  secret: Buffer;
  clock: Clock;
  activity: ActivitySink;
  clientAddress: ClientAddressResolver;
  /** How long an access cookie lives; it is renewed when less than half is left. */
  credentialTtlMs: number;
  /** Mark cookies Secure (the public URL is https). */
  secureCookies: boolean;
  /** The public URL's origin: besides the request's own Host, where cookie-only writes may come from. */
  publicOrigin?: string;
  /** Resolves a console token (X-Auth-Token) to its user; rejects when it is not valid. */
  authenticateToken?: (token: string) => Promise<Caller>;
  /** The console's session cookie, whose value is a console token (if the console uses one). */
  sessionCookie?: string;
  /** How long a verified console token is remembered. Default 30 s. */
  tokenCacheMs?: number;
  /** Traffic of one instance is reported at most this often per source. Default 1 s. */
  activityEveryMs?: number;
  log?: ProxyLog;
}

type Admission =
  | { ok: true; via: 'token' | 'cookie' | 'user'; setCookie: string | null; cleanQuery: boolean }
  | { ok: false; error: DomainError; tokenForm: boolean };

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'host', 'authorization', 'x-auth-token', 'cookie']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
// What an open tab polls by itself: not a sign that someone is working.
const BACKGROUND_POLLS = /^api\/(sessions|kernels|terminals|status|kernelspecs|metrics)\/?$/;

const sha = (s: string) => createHash('sha256').update(s).digest();
const tokenMatches = (given: string, expected: string | null) => expected !== null && timingSafeEqual(sha(given), sha(expected));

/** Value of one cookie, without allocating for the others. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The cookie header minus our cookies (nbd_*, the console session). */
function foreignCookies(header: string | undefined, sessionCookie: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => {
      const name = p.slice(0, Math.max(0, p.indexOf('='))).trim();
      return p && !name.startsWith('nbd_') && name !== sessionCookie;
    });
  return kept.length ? kept.join('; ') : undefined;
}

/** The path and query with any token= parameter removed (it must not reach Jupyter, nor stay in the address bar). */
function withoutTokenParam(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  params.delete('token');
  const rest = params.toString();
  return rest ? `${url.slice(0, q)}?${rest}` : url.slice(0, q);
}

function queryToken(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0 || !url.includes('token=', q)) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined;
}

const headerOf = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Parses /nb/{id}/rest → id and whether the path continues past the id. */
function instanceIdOf(url: string): { id: string; bare: boolean } | null {
  const start = PROXY_PREFIX.length;
  let end = start;
  while (end < url.length && url[end] !== '/' && url[end] !== '?') end++;
  const id = url.slice(start, end);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) return null;
  return { id, bare: url[end] !== '/' };
}

export function createProxy(deps: ProxyDeps) {
  const { routes, secret, clock, activity } = deps;
  const tokenCacheMs = deps.tokenCacheMs ?? 30_000;
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' });
  const userCache = new Map<string, { caller: Caller; until: number }>();
  const openSockets = new Set<Duplex>();
  /** When each instance's traffic was last reported, by source: the sink keeps only the newest anyway. */
  const activityEveryMs = deps.activityEveryMs ?? 1_000;
  const reportedAt = new Map<string, number>();
  function touch(id: string, source: 'http' | 'websocket'): void {
    const key = source === 'http' ? id : `${id} ws`;
    const now = clock.now();
    const last = reportedAt.get(key);
    if (last !== undefined && now - last < activityEveryMs && now >= last) return;
    if (reportedAt.size > 100_000) reportedAt.clear();
    reportedAt.set(key, now);
    activity.record(id, source, now);
  }

  function accessCookie(route: Route, now: number): string {
    const value = signCredential(secret, { instanceId: route.id, generation: route.generation!, expiresAt: now + deps.credentialTtlMs });
    return `${ACCESS_COOKIE}=${value}; Path=${PROXY_PREFIX}${route.id}/; Max-Age=${Math.floor(deps.credentialTtlMs / 1000)}; HttpOnly; SameSite=Lax${deps.secureCookies ? '; Secure' : ''}`;
  }

  async function consoleUser(token: string): Promise<Caller | null> {
    if (!deps.authenticateToken) return null;
    const key = sha(token).toString('base64');
    const now = clock.now();
    const hit = userCache.get(key);
    if (hit && hit.until > now) return hit.caller;
    try {
      const caller = await deps.authenticateToken(token);
      if (userCache.size > 10_000) userCache.clear();
      userCache.set(key, { caller, until: now + tokenCacheMs });
      return caller;
    } catch {
      userCache.delete(key);
      return null;
    }
  }

  /** Cross-site requests riding on the cookie alone are refused (Jupyter's XSRF check is bypassed by our token). */
  function sameOrigin(req: IncomingMessage): boolean {
    const origin = headerOf(req.headers, 'origin');
    if (!origin || origin === 'null') return origin === undefined;
    try {
      const url = new URL(origin);
      return url.host === headerOf(req.headers, 'host') || url.origin === deps.publicOrigin;
    } catch {
      return false;
    }
  }

  async function admit(req: IncomingMessage, route: Route, url: string, upgrade: boolean): Promise<Admission> {
    const now = clock.now();
    const fromQuery = queryToken(url);
    const authorization = headerOf(req.headers, 'authorization');
    const fromHeader = authorization && /^token\s+/i.test(authorization) ? authorization.replace(/^token\s+/i, '').trim() : undefined;
    const presented = fromQuery ?? fromHeader;
    if (presented !== undefined) {
      if (tokenMatches(presented, route.token)) {
        return { ok: true, via: 'token', setCookie: fromQuery !== undefined ? accessCookie(route, now) : null, cleanQuery: fromQuery !== undefined };
      }
      return { ok: false, error: errors.tokenInvalid(), tokenForm: true };
    }
    const cookieHeader = headerOf(req.headers, 'cookie');
    const cookie = cookieValue(cookieHeader, ACCESS_COOKIE);
    if (cookie) {
      const credential = verifyCredential(secret, route.id, cookie, now);
      if (credential && credential.generation === route.generation) {
        if ((upgrade || !SAFE_METHODS.has(req.method ?? 'GET')) && !sameOrigin(req)) {
          return { ok: false, error: errors.notAuthorized('a cross-origin request to the notebook'), tokenForm: false };
        }
        const renew = credential.expiresAt - now < deps.credentialTtlMs / 2;
        return { ok: true, via: 'cookie', setCookie: renew ? accessCookie(route, now) : null, cleanQuery: false };
      }
    }
    const userToken = headerOf(req.headers, 'x-auth-token') ?? (deps.sessionCookie ? cookieValue(cookieHeader, deps.sessionCookie) : undefined);
    if (userToken) {
      const caller = await consoleUser(userToken);
      if (!caller) return { ok: false, error: errors.tokenInvalid(), tokenForm: true };
      try {
        // Opening Jupyter runs code as the instance: that needs write access to it.
        authorizeNotebook(caller, { projectId: route.projectId, owner: { id: route.ownerId, name: '', domainId: '', domainName: '' } }, 'write', 'OpenNotebook');
      } catch (e) {
        return { ok: false, error: e as DomainError, tokenForm: false };
      }
      return { ok: true, via: 'user', setCookie: accessCookie(route, now), cleanQuery: false };
    }
    // A cookie of an earlier run (or an expired one) says "sign in again", like no credential.
    return { ok: false, error: cookie ? errors.tokenInvalid() : errors.noAuthHeader(), tokenForm: true };
  }

  /** Looks the instance up and checks everything but credentials: allow-list and status. */
  async function routeFor(req: IncomingMessage, id: string): Promise<{ route: Route } | { answer: DomainError; retryAfterSeconds?: number }> {
    let route = routes.get(id);
    if (!route || route.status !== 'RUNNING' || !route.target) route = await routes.resolve(id);
    if (!route || route.status === 'DELETED') return { answer: errors.notebookNotFound(id) };
    const address = deps.clientAddress(req.socket.remoteAddress, req.headers);
    if (!route.notebookAllow.matches(address)) return { answer: errors.addressRefused(address, 'NOTEBOOK') };
    if (route.status === 'RUNNING' && route.target && route.generation) return { route };
    if (route.status === 'CREATING' || route.status === 'STARTING' || route.status === 'INIT' || route.status === 'RUNNING') {
      return { answer: errors.instanceStarting(id, route.status), retryAfterSeconds: 3 };
    }
    return { answer: errors.instanceNotReachable(id, route.status) };
  }

  function forwardHeaders(req: IncomingMessage, route: Route): OutgoingHttpHeaders {
    const target = route.target!;
    const out: OutgoingHttpHeaders = {};
    const h = req.headers;
    for (const key in h) if (!HOP_BY_HOP.has(key)) out[key] = h[key];
    out.host = target.hostHeader;
    out.authorization = `token ${target.jupyterToken}`;
    // Pages come back uncompressed, so that the token they embed can be replaced (handleHttp).
    if (out['accept-encoding'] && wantsHtml(headerOf(h, 'accept'))) delete out['accept-encoding'];
    const cookies = foreignCookies(headerOf(h, 'cookie'), deps.sessionCookie);
    if (cookies) out.cookie = cookies;
    return out;
  }

  /** Response headers minus Jupyter's login cookie (a credential for the server itself) and with local redirects made relative. */
  function responseHeaders(res: IncomingMessage, route: Route, setCookie: string | null): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {};
    const h = res.headers;
    for (const key in h) {
      if (key === 'connection' || key === 'keep-alive') continue;
      out[key] = h[key];
    }
    const cookies = (h['set-cookie'] ?? []).filter((c) => !/^\s*username-/i.test(c));
    if (setCookie) cookies.push(setCookie);
    if (cookies.length) out['set-cookie'] = cookies;
    else delete out['set-cookie'];
    const location = h.location;
    if (location && location.startsWith(route.target!.origin)) out.location = location.slice(route.target!.origin.length) || '/';
    return out;
  }

  function send(res: ServerResponse, answer: Answer): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(answer.status, { ...answer.headers, 'Content-Length': Buffer.byteLength(answer.body) });
    res.end(answer.body);
  }

  const isBackgroundPoll = (req: IncomingMessage, route: Route, url: string) => {
    if (req.method !== 'GET') return false;
    const base = route.target!.basePath;
    const q = url.indexOf('?');
    const path = q < 0 ? url.slice(base.length) : url.slice(base.length, q);
    return BACKGROUND_POLLS.test(path) || (q >= 0 && /[?&]_=\d/.test(url.slice(q)));
  };

  async function handleHttp(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const url = req.url!;
    const html = wantsHtml(headerOf(req.headers, 'accept'));
    const found = await routeFor(req, id);
    if ('answer' in found) return send(res, errorAnswer(found.answer, { html, ...(found.retryAfterSeconds && { retryAfterSeconds: found.retryAfterSeconds }) }));
    const { route } = found;
    const admission = await admit(req, route, url, false);
    if (!admission.ok) return send(res, errorAnswer(admission.error, { html, tokenForm: admission.tokenForm && html }));
    // A browser arriving with ?token=: set the cookie and drop the token from the address bar.
    if (admission.cleanQuery && html && req.method === 'GET') {
      return send(res, { status: 302, headers: { Location: withoutTokenParam(url), 'Set-Cookie': admission.setCookie!, 'Cache-Control': 'no-store' }, body: '' });
    }
    if (!isBackgroundPoll(req, route, url)) touch(id, 'http');
    const target = route.target!;
    const upstream = httpRequest({
      agent,
      host: target.host,
      port: target.port,
      method: req.method,
      path: admission.cleanQuery ? withoutTokenParam(url) : url,
      headers: forwardHeaders(req, route),
    });
    upstream.on('response', (upRes) => {
      const headers = responseHeaders(upRes, route, admission.setCookie);
      upRes.on('error', () => res.destroy());
      const type = upRes.headers['content-type'];
      if (!type?.startsWith('text/html') || upRes.headers['content-encoding']) {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
        upRes.pipe(res);
        return;
      }
      // Jupyter's pages embed the token they were opened with (data-jupyter-api-token, ?token=
      // links): the browser gets the instance's own token there, never the internal one.
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('end', () => {
        const body = Buffer.from(Buffer.concat(chunks).toString('utf8').split(target.jupyterToken).join(route.token ?? ''), 'utf8');
        delete headers['transfer-encoding'];
        headers['content-length'] = body.length;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
        res.end(body);
      });
    });
    upstream.on('error', (e) => {
      void upstreamFailed(id, e).then((answer) => send(res, errorAnswer(answer, { html })));
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** The server did not answer: re-read the instance (it may have stopped) and say so. */
  async function upstreamFailed(id: string, e: Error): Promise<DomainError> {
    const fresh = await routes.resolve(id, true).catch(() => undefined);
    if (fresh && fresh.status !== 'RUNNING') return errors.instanceNotReachable(id, fresh.status);
    deps.log?.warn({ id, err: e.message }, 'notebook server did not answer the proxy');
    return errors.internal(`The notebook server of instance ${id} is not answering (${(e as NodeJS.ErrnoException).code ?? e.message}).`);
  }

  function refuseUpgrade(socket: Duplex, error: DomainError, retryAfterSeconds?: number): void {
    socket.end(rawHttp(errorAnswer(error, { html: false, ...(retryAfterSeconds && { retryAfterSeconds }) })));
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, id: string): Promise<void> {
    const url = req.url!;
    const found = await routeFor(req, id);
    if ('answer' in found) return refuseUpgrade(socket, found.answer, found.retryAfterSeconds);
    const { route } = found;
    const admission = await admit(req, route, url, true);
    if (!admission.ok) return refuseUpgrade(socket, admission.error);
    const target = route.target!;
    const headers = forwardHeaders(req, route);
    headers.connection = 'Upgrade';
    headers.upgrade = headerOf(req.headers, 'upgrade') ?? 'websocket';
    // Jupyter compares Origin with Host (allow_remote_access is off); the origin was checked above.
    if (headers.origin) headers.origin = target.origin;
    const upstream = httpRequest({ agent: false, host: target.host, port: target.port, method: req.method, path: admission.cleanQuery ? withoutTokenParam(url) : url, headers });
    upstream.on('upgrade', (upRes, upSocket, upHead) => {
      const lines = [`HTTP/1.1 101 ${upRes.statusMessage ?? 'Switching Protocols'}`];
      const h = { ...responseHeaders(upRes, route, null), connection: 'Upgrade' };
      for (const [k, v] of Object.entries(h)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      touch(id, 'websocket');
      const onData = (chunk: Buffer) => {
        if (!onlyControlFrames(chunk)) touch(id, 'websocket');
      };
      socket.on('data', onData);
      upSocket.on('data', onData);
      socket.pipe(upSocket).pipe(socket);
      openSockets.add(socket);
      const end = () => {
        openSockets.delete(socket);
        socket.destroy();
        upSocket.destroy();
      };
      socket.on('close', end);
      upSocket.on('close', end);
      socket.on('error', end);
      upSocket.on('error', end);
    });
    upstream.on('response', (upRes) => {
      // Jupyter refused the upgrade (e.g. no such kernel): pass its answer on.
      const lines = [`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage ?? ''}`];
      for (const [k, v] of Object.entries(responseHeaders(upRes, route, null))) for (const one of Array.isArray(v) ? v : [v!]) lines.push(`${k}: ${one}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      upRes.pipe(socket);
    });
    upstream.on('error', (e) => {
      void upstreamFailed(id, e).then((answer) => refuseUpgrade(socket, answer));
    });
    socket.on('error', () => upstream.destroy());
    upstream.end();
  }

  return {
    /** Takes requests under /nb/; returns false for everything else (the API's). */
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      const url = req.url;
      if (!url || !url.startsWith(PROXY_PREFIX)) return false;
      const parsed = instanceIdOf(url);
      if (!parsed) {
        send(res, errorAnswer(errors.apiNotFound(), { html: wantsHtml(headerOf(req.headers, 'accept')) }));
        return true;
      }
      if (parsed.bare) {
        const q = url.indexOf('?');
        send(res, { status: 301, headers: { Location: `${PROXY_PREFIX}${parsed.id}/${q >= 0 ? url.slice(q) : ''}` }, body: '' });
        return true;
      }
      handleHttp(req, res, parsed.id).catch((e: unknown) => {
        deps.log?.warn({ id: parsed.id, err: (e as Error).message }, 'proxy request failed');
        send(res, errorAnswer(isDomainError(e) ? e : errors.internal(), { html: false }));
      });
      return true;
    },

    /** Takes WebSocket upgrades under /nb/; refuses every other upgrade. */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const url = req.url ?? '';
      const parsed = url.startsWith(PROXY_PREFIX) ? instanceIdOf(url) : null;
      if (!parsed || parsed.bare) {
        refuseUpgrade(socket, errors.apiNotFound());
        return;
      }
      handleUpgrade(req, socket, head, parsed.id).catch((e: unknown) => {
        deps.log?.warn({ id: parsed.id, err: (e as Error).message }, 'proxy upgrade failed');
        refuseUpgrade(socket, isDomainError(e) ? e : errors.internal());
      });
    },

    /** Ends open WebSocket connections and idle upstream connections. */
    close(): void {
      for (const s of openSockets) s.destroy();
      openSockets.clear();
      agent.destroy();
    },
  };
}

export type Proxy = ReturnType<typeof createProxy>;
