// Shared by the identity API tests: a clock that can jump ahead while the loops keep running on
// real time, logins, users with tokens, AK/SK-signing clients, and the official SDK core as client.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { signRequest } from '../../src/auth/request-signer.ts';
import { systemClock, type Clock } from '../../src/clock.ts';
import { ApiClient, PROJECT, type ApiResponse, type TestService } from '../support/service.ts';

export { waitForInstance } from '../support/service.ts';

/**
 * Real time plus an offset the test moves forward: tokens expire, signatures go stale and locks
 * run out on demand, while the reconciler's sleeps stay real so instances still converge.
 */
export class SkewedClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export const login = (svc: TestService, body: unknown) => svc.api.withHeaders({}).post('/v3/auth/tokens', body);

export const passwordBody = (name: string, password: string, scope?: { id?: string; name?: string }) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name, password } } },
    ...(scope && { scope: { project: scope } }),
  },
});

/** Logs in and returns the token; fails the test on anything but 201. */
export async function tokenFor(svc: TestService, name: string, password: string, projectId = PROJECT): Promise<string> {
  const res = await login(svc, passwordBody(name, password, { id: projectId }));
  assert.equal(res.status, 201, `login of ${name}: ${JSON.stringify(res.body)}`);
  const token = res.headers.get('x-subject-token');
  assert.ok(token, 'X-Subject-Token');
  return token;
}

export interface TestUser {
  id: string;
  name: string;
  password: string;
  projectId: string;
  token: string;
  api: ApiClient;
}

/** Creates a user through the API as `admin` (default: the bootstrap system administrator) and logs in. */
export async function createUser(
  svc: TestService,
  name: string,
  opts: { role?: string; projectId?: string; systemAdmin?: boolean; admin?: ApiClient } = {},
): Promise<TestUser> {
  const password = `pw-${name}-0123456789`;
  const projectId = opts.projectId ?? PROJECT;
  const res = await (opts.admin ?? svc.api).post('/v3/users', {
    user: { name, password, default_project_id: projectId, role: opts.role ?? 'member', ...(opts.systemAdmin && { system_admin: true }) },
  });
  assert.equal(res.status, 201, `create user ${name}: ${JSON.stringify(res.body)}`);
  const token = await tokenFor(svc, name, password, projectId);
  return { id: res.body.user.id, name, password, projectId, token, api: svc.api.withHeaders({ 'X-Auth-Token': token }) };
}

export async function createProject(svc: TestService, name: string): Promise<string> {
  const res = await svc.api.post('/v3/projects', { project: { name } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.project.id;
}

/** Asserts an error response: status and ModelArts/APIGW code. */
export function assertError(res: ApiResponse, status: number, code: string, what = ''): void {
  const shown = JSON.stringify(res.body)?.slice(0, 300);
  assert.equal(res.status, status, `${what} → ${res.status} ${shown}`);
  assert.equal(res.body?.error_code, code, `${what} → ${shown}`);
}

/** An ApiClient that signs every request with AK/SK (our signer, byte-identical to the core's for JSON). */
export class SignedClient extends ApiClient {
  constructor(
    base: string,
    readonly accessKey: string,
    readonly secretKey: string,
    private readonly clock: Clock = systemClock,
    extraHeaders: Record<string, string> = {},
  ) {
    // The content type is signed too, so it goes on every request, with a body or not.
    super(base, { 'content-type': 'application/json', ...extraHeaders });
  }

  protected override finalHeaders(method: string, url: URL, headers: Record<string, string>, body: string | undefined): Record<string, string> {
    return signRequest({ method, url, headers, ...(body !== undefined && { body }), accessKey: this.accessKey, secretKey: this.secretKey, now: this.clock.now() });
  }
}

/** The official Node core as the ModelArts client does it: BasicCredentials with AK, SK and project id. */
export function officialCoreClient(endpoint: string, ak: string, sk: string, projectId: string): HcClient {
  const credentials = new BasicCredentials().withAk(ak).withSk(sk).withProjectId(projectId);
  return new ClientBuilder<HcClient>((hc) => hc).withEndpoint(endpoint).withCredential(credentials).build();
}

/**
 * The core logs every failed request at ERROR through log4js, Authorization header included; the
 * tests provoke failures on purpose, so its logging is switched off (after the core configured it).
 */
export function silenceSdkCoreLogs(): void {
  const requireFromCore = createRequire(createRequire(import.meta.url).resolve('@huaweicloud/huaweicloud-sdk-core'));
  const log4js = requireFromCore('log4js') as { configure(c: unknown): void };
  log4js.configure({ appenders: { none: { type: 'stdout' } }, categories: { default: { appenders: ['none'], level: 'off' } } });
}
