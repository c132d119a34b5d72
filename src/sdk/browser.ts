// The SDK for browsers (the console): token credentials only, so the bundle never loads the AK/SK
// signer and its node:crypto. Also signs in with a password through the IAM/Keystone token API
// (POST /v3/auth/tokens), whose token comes back in the X-Subject-Token header.
import { createClient, type ClientOptions } from './client.ts';
import { NotebookdError } from './http.ts';

export { NotebookdError } from './http.ts';
export type * from './client.ts';

export interface BrowserClientOptions extends Omit<ClientOptions, 'credentials'> {
  token: string;
}

export const createBrowserClient = (opts: BrowserClientOptions) => createClient({ ...opts, credentials: { token: opts.token } });

export type BrowserClient = ReturnType<typeof createBrowserClient>;

export interface PasswordSignIn {
  endpoint: string;
  userName: string;
  password: string;
  /** The account's domain, when user names repeat across domains. */
  domainName?: string;
  /** Scope: a project id or a project name (tried as an id when it looks like one). */
  project?: string;
  fetch?: typeof fetch;
}

/** What a Keystone token body tells about its holder (the fields the console uses). */
export interface TokenInfo {
  token: string;
  expiresAt: number | null;
  projectId: string;
  projectName: string;
  userId: string;
  userName: string;
  roles: string[];
}

interface KeystoneToken {
  token?: {
    expires_at?: string;
    user?: { id?: string; name?: string };
    project?: { id?: string; name?: string };
    roles?: { name?: string }[];
  };
}

const PROJECT_ID_RE = /^[0-9a-f]{32}$/i;

function tokenInfo(token: string, body: KeystoneToken): TokenInfo {
  const t = body.token ?? {};
  const expires = t.expires_at ? Date.parse(t.expires_at) : NaN;
  return {
    token,
    expiresAt: Number.isFinite(expires) ? expires : null,
    projectId: t.project?.id ?? '',
    projectName: t.project?.name ?? '',
    userId: t.user?.id ?? '',
    userName: t.user?.name ?? '',
    roles: (t.roles ?? []).map((r) => r.name ?? '').filter(Boolean),
  };
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

function errorOf(res: Response, parsed: unknown): NotebookdError {
  const e = (parsed && typeof parsed === 'object' ? parsed : {}) as { error_code?: string; error_msg?: string; error?: { message?: string } };
  const msg = e.error_msg ?? e.error?.message ?? (typeof parsed === 'string' && parsed ? parsed.slice(0, 200) : res.statusText);
  return new NotebookdError(res.status, e.error_code ?? `HTTP.${res.status}`, msg, res.headers.get('x-request-id'));
}

/** POST /v3/auth/tokens with the password method; resolves the new token and its holder. */
export async function signInWithPassword(opts: PasswordSignIn): Promise<TokenInfo> {
  const doFetch = opts.fetch ?? fetch;
  const domain = opts.domainName?.trim() ? { domain: { name: opts.domainName.trim() } } : {};
  const project = opts.project?.trim();
  // Without a scope the token is scoped to the user's own project.
  const scope = project ? { project: PROJECT_ID_RE.test(project) ? { id: project } : { name: project, ...domain } } : undefined;
  const body = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: opts.userName, password: opts.password, ...domain } } },
      ...(scope && { scope }),
    },
  };
  const res = await doFetch(`${opts.endpoint.replace(/\/+$/, '')}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const parsed = await readJson(res);
  if (!res.ok) throw errorOf(res, parsed);
  const token = res.headers.get('x-subject-token');
  if (!token) throw new NotebookdError(res.status, 'NOTEBOOKD.NO_TOKEN', 'The server answered without an X-Subject-Token header.', res.headers.get('x-request-id'));
  return tokenInfo(token, parsed as KeystoneToken);
}

/**
 * GET /v3/auth/tokens (Keystone token validation): who holds `token`. Resolves null when the
 * server has no such API, so a token sign-in still works against a server without it.
 */
export async function describeToken(endpoint: string, token: string, doFetch: typeof fetch = fetch): Promise<TokenInfo | null> {
  const res = await doFetch(`${endpoint.replace(/\/+$/, '')}/v3/auth/tokens`, {
    headers: { accept: 'application/json', 'X-Auth-Token': token, 'X-Subject-Token': token },
  });
  const parsed = await readJson(res);
  // No such API here (APIGW.0101) rather than no such token (ModelArts.6404).
  if ((res.status === 404 && (parsed as { error_code?: string } | undefined)?.error_code === 'APIGW.0101') || res.status === 405) return null;
  if (!res.ok) throw errorOf(res, parsed);
  return tokenInfo(token, parsed as KeystoneToken);
}
