// What the proxy says when it does not forward: the ModelArts error JSON for API clients, and a
// small readable page for browsers (one that refreshes itself while the instance is starting,
// and one with a token form when credentials are missing).
import type { DomainError } from '../domain/errors.ts';

export interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

export const wantsHtml = (accept: string | undefined): boolean => !!accept && accept.includes('text/html');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STATUS_TEXT: Record<number, string> = {
  401: 'Sign-in needed',
  403: 'Access refused',
  404: 'No such instance',
  409: 'The instance is not running',
  502: 'The notebook server is not answering',
  503: 'The instance is starting',
};

function page(title: string, paragraphs: string[], extra: { refreshSeconds?: number; form?: string } = {}): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    extra.refreshSeconds ? `<meta http-equiv="refresh" content="${extra.refreshSeconds}">` : '',
    `<title>${escapeHtml(title)} — notebookd</title>`,
    '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}',
    'h1{font-size:1.4em}code{background:#f3f3f3;padding:0 .2em}input{font:inherit;padding:.3em;width:22em}',
    'button{font:inherit;padding:.3em .8em}.code{color:#777;font-size:.85em}</style></head><body>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...paragraphs.map((p) => `<p>${p}</p>`),
    extra.form ?? '',
    '</body></html>',
  ].join('');
}

/** An error as JSON or as a page. `retryAfterSeconds` makes the page refresh itself (STARTING). */
export function errorAnswer(
  err: DomainError,
  opts: { html: boolean; requestId?: string; retryAfterSeconds?: number; tokenForm?: boolean; extraHeaders?: Record<string, string | string[]> },
): Answer {
  const status = err.httpStatus;
  const headers: Record<string, string | string[]> = { 'Cache-Control': 'no-store', ...opts.extraHeaders };
  if (opts.retryAfterSeconds) headers['Retry-After'] = String(opts.retryAfterSeconds);
  if (opts.requestId) headers['X-Request-Id'] = opts.requestId;
  if (!opts.html) {
    const body: Record<string, string> = { error_code: err.code, error_msg: err.message };
    if (opts.requestId && err.code.startsWith('APIGW.')) body.request_id = opts.requestId;
    return { status, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  }
  const paragraphs = [escapeHtml(err.message)];
  if (opts.retryAfterSeconds) paragraphs.push(`This page reloads itself every ${opts.retryAfterSeconds} seconds.`);
  const form = opts.tokenForm
    ? '<form method="get"><p><label>Instance token (the <code>token</code> of the notebook instance):<br>' +
      '<input name="token" type="password" autocomplete="off" autofocus required></label> <button>Open</button></p></form>'
    : '';
  paragraphs.push(`<span class="code">${escapeHtml(err.code)}</span>`);
  return {
    status,
    headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' },
    body: page(STATUS_TEXT[status] ?? 'notebookd', paragraphs, { ...(opts.retryAfterSeconds && { refreshSeconds: opts.retryAfterSeconds }), form }),
  };
}

/** The answer as raw HTTP/1.1 bytes, for a socket that asked for an upgrade. */
export function rawHttp(answer: Answer): string {
  const lines = [`HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(answer.headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  lines.push(`Content-Length: ${Buffer.byteLength(answer.body)}`, 'Connection: close', '', answer.body);
  return lines.join('\r\n');
}
