// The SDK's transport: one request function that authenticates (X-Auth-Token or AK/SK
// signature), sends JSON and turns ModelArts-format error bodies into typed errors.
// The signer (node:crypto) is imported only when AK/SK credentials sign a request, so a browser
// bundle with token credentials never loads it (see src/sdk/browser.ts).

export type Credentials = { token: string } | { accessKey: string; secretKey: string };

export interface TransportOptions {
  /** e.g. http://127.0.0.1:8080 */
  endpoint: string;
  credentials: Credentials;
  /** Injectable for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Epoch ms, for X-Sdk-Date; defaults to the wall clock. */
  now?: () => number;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
}

/** An API error: the ModelArts error_code and error_msg, the HTTP status and the request id. */
export class NotebookdError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly errorCode: string,
    readonly errorMsg: string,
    readonly requestId: string | null,
  ) {
    super(`${errorCode}: ${errorMsg}`);
    this.name = 'NotebookdError';
  }
}

export type Query = { [key: string]: string | number | boolean | undefined } | object;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Transport = <T>(method: string, path: string, opts?: RequestOptions) => Promise<T>;

export function createTransport(opts: TransportOptions): Transport {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? (() => Date.now());
  const base = opts.endpoint.replace(/\/+$/, '');

  return async function request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(ro.query ?? {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    const body = ro.body === undefined ? undefined : JSON.stringify(ro.body);
    let headers: Record<string, string> = { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }), ...ro.headers };
    if ('token' in opts.credentials) headers['X-Auth-Token'] = opts.credentials.token;
    else {
      const { signRequest } = await import('../auth/request-signer.ts');
      headers = signRequest({ method, url, headers, ...(body !== undefined && { body }), accessKey: opts.credentials.accessKey, secretKey: opts.credentials.secretKey, now: now() });
    }

    const res = await doFetch(url, { method, headers, ...(body !== undefined && { body }), signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { error_code?: string; error_msg?: string };
      throw new NotebookdError(res.status, e.error_code ?? `HTTP.${res.status}`, e.error_msg ?? (text.slice(0, 200) || res.statusText), res.headers.get('x-request-id'));
    }
    return parsed as T;
  };
}
