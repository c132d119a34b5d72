// Starts a real notebookd (real store, real HTTP) in this process for API tests, and gives a
// small typed client over fetch that carries the bootstrap X-Auth-Token.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Clock } from '../../src/clock.ts';
import type { ActivitySink } from '../../src/domain/activity.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { startService, type RunningService } from '../../src/main.ts';
import type { FakeRuntime } from '../../src/runtime/fake/fake-runtime.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';

export const PROJECT = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
export const TOKEN = 'nbd_test-bootstrap-token';
export const AK = 'TESTAK0000000000AAAA';
export const SK = 'testsecretkey000000000000000000000000000';
export const NOTEBOOK_IMAGE = '5b1f7c1e-8a7d-4c1e-9d2a-000000000001';
export const SERVER_IMAGE = '5b1f7c1e-8a7d-4c1e-9d2a-000000000002';

export interface TestService {
  url: string;
  service: RunningService;
  config: Readonly<Config>;
  dataDir: string;
  api: ApiClient;
  close(): Promise<void>;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  constructor(
    readonly base: string,
    private readonly headers: Record<string, string> = { 'X-Auth-Token': TOKEN },
  ) {}

  withHeaders(headers: Record<string, string>): ApiClient {
    return new ApiClient(this.base, headers);
  }

  /** The headers a request goes out with: a signing client adds its signature here. */
  protected finalHeaders(_method: string, _url: URL, headers: Record<string, string>, _body: string | undefined): Record<string, string> {
    return headers;
  }

  async request<T = any>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const url = new URL(this.base + path);
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers = { ...this.headers, ...(text !== undefined && { 'content-type': 'application/json' }), ...extraHeaders };
    const res = await fetch(url, { method, headers: this.finalHeaders(method, url, headers, text), ...(text !== undefined && { body: text }) });
    const raw = await res.text();
    let parsed: unknown = raw;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      /* keep the text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get = <T = any>(path: string) => this.request<T>('GET', path);
  post = <T = any>(path: string, body?: unknown) => this.request<T>('POST', path, body);
  put = <T = any>(path: string, body?: unknown) => this.request<T>('PUT', path, body);
  patch = <T = any>(path: string, body?: unknown) => this.request<T>('PATCH', path, body);
  delete = <T = any>(path: string, body?: unknown) => this.request<T>('DELETE', path, body);
}

export interface StartTestServiceOptions {
  runtime?: Runtime;
  clock?: Clock;
  dataDir?: string;
  databaseUrl?: string;
  overrides?: Record<string, unknown>;
  /** Where the proxy and the SSH gateway report activity. */
  activity?: ActivitySink;
  /** Default: silent. */
  log?: Logger;
  /** A fixed port (default: any free one), so that instance URLs ({publicUrl}/nb/...) point here. */
  port?: number;
}

export async function startTestService(opts: StartTestServiceOptions = {}): Promise<TestService> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'notebookd-test-')));
  const config = loadConfig(
    { port: opts.port ?? 0, dataDir, runtime: 'fake', ...(opts.databaseUrl && { databaseUrl: opts.databaseUrl }) },
    {
      NOTEBOOKD_BOOTSTRAP_PROJECT_ID: PROJECT,
      NOTEBOOKD_BOOTSTRAP_TOKEN: TOKEN,
      NOTEBOOKD_BOOTSTRAP_AK: AK,
      NOTEBOOKD_BOOTSTRAP_SK: SK,
    },
    {
      logLevel: 'silent',
      reconcile: { healthIntervalMs: 100, readinessPollMs: 20, concurrency: 8 },
      timeouts: { createMs: 20_000, startMs: 20_000, stopGraceMs: 2_000, stopMs: 10_000, deleteMs: 20_000 },
      // The SSH gateway on a free port: test services run side by side.
      ssh: { enabled: true, host: '', port: 0, publicHost: '' },
      ...opts.overrides,
    },
  );
  const service = await startService(config, {
    log: opts.log ?? pino({ level: 'silent' }),
    ...(opts.runtime && { runtime: opts.runtime }),
    ...(opts.clock && { clock: opts.clock }),
    ...(opts.activity && { activity: opts.activity }),
  });
  const url = service.url;
  return {
    url,
    service,
    config,
    dataDir,
    api: new ApiClient(url),
    async close() {
      await service.close();
      // Fake instances live in this process (real Jupyter servers outlive notebookd on purpose).
      const runtime = service.runtime as Partial<FakeRuntime>;
      if (!opts.runtime && runtime.killAll) await runtime.killAll();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls a notebook of the bootstrap project until `done` holds or the deadline passes; returns the last body seen. */
export const waitForNotebook = (api: ApiClient, id: string, done: (nb: any) => boolean, timeoutMs = 20_000): Promise<any> =>
  waitForInstance(api, PROJECT, id, done, timeoutMs);

/** Polls a notebook of any project until `done` holds (`done(undefined)` once it is gone) or the deadline passes. */
export async function waitForInstance(api: ApiClient, projectId: string, id: string, done: (nb: any) => boolean, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const res = await api.get(`/v1/${projectId}/notebooks/${id}`);
    last = res.body;
    if (res.status === 200 && done(last)) return last;
    if (res.status === 404 && done(undefined)) return undefined;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`notebook ${id} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 400)}`);
}

export const createBody = (overrides: Record<string, unknown> = {}) => ({
  name: 'nb-test',
  flavor: 'modelarts.vm.cpu.2u',
  image_id: NOTEBOOK_IMAGE,
  volume: { category: 'evs', ownership: 'managed', capacity: 5 },
  ...overrides,
});
