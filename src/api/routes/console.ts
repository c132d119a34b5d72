// The web console: the Vite bundle under web/dist, served without credentials at / (the console
// signs in against the API itself). History-API paths of the console fall back to index.html; no
// other path does, so the API's own 404s (/v1, /v3, /nb, ...) are never shadowed.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { errors } from '../../domain/errors.ts';
import { sendError } from '../error-mapping.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CONSOLE_DIST = join(REPO, 'web', 'dist');
/** What the bundle is built from: when any of it is newer than the bundle, the bundle is stale. */
const CONSOLE_SOURCES = [
  join(REPO, 'web', 'src'),
  join(REPO, 'web', 'index.html'),
  join(REPO, 'web', 'vite.config.ts'),
  join(REPO, 'src', 'sdk'),
  // The console asks the transition table which operations and fields a status allows.
  join(REPO, 'src', 'domain', 'lifecycle.ts'),
  join(REPO, 'src', 'domain', 'errors.ts'),
];
const BUILD_SCRIPT = join(REPO, 'web', 'build.ts');

/** The console's client-side routes (see web/src/app.tsx). */
const SPA_PATHS = ['/sign-in', '/notebooks', '/notebooks/*', '/keypairs', '/admin', '/admin/*'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// The console talks to its own origin only; instance UIs open in their own tab under /nb/.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>notebookd</title>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>The console is not built</h1>
<p>notebookd serves its web console from <code>web/dist</code>, which is built by <code>npm ci</code>
(the <code>prepare</code> script) or by <code>npm run build:console</code>, and rebuilt by
<code>notebookd serve</code> when its sources change. The REST API works without it.</p>`;

export const consoleRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, opts) => {
  const dir = resolve(opts.dir ?? CONSOLE_DIST);

  const securityHeaders = (reply: FastifyReply) =>
    reply.header('X-Content-Type-Options', 'nosniff').header('Referrer-Policy', 'no-referrer').header('X-Frame-Options', 'DENY');

  async function sendIndex(reply: FastifyReply) {
    securityHeaders(reply).header('Cache-Control', 'no-cache');
    const file = join(dir, 'index.html');
    const found = await stat(file).catch(() => null);
    if (!found?.isFile()) return reply.code(503).header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'").type(TYPES['.html']!).send(NOT_BUILT);
    return reply.header('Content-Security-Policy', CSP).type(TYPES['.html']!).send(createReadStream(file));
  }

  const schema = { hide: true } as const;
  app.get('/', { schema }, (_request, reply) => sendIndex(reply));
  for (const path of SPA_PATHS) app.get(path, { schema }, (_request, reply) => sendIndex(reply));

  // Hashed file names: cacheable for good. Anything that is not a plain file under assets/ is a 404.
  app.get('/assets/*', { schema }, async (request, reply) => {
    const rel = (request.params as { '*': string })['*'];
    const assets = join(dir, 'assets');
    const file = resolve(assets, rel);
    const found = file.startsWith(assets + sep) && !rel.includes('\0') ? await stat(file).catch(() => null) : null;
    if (!found?.isFile()) return sendError(request, securityHeaders(reply), errors.apiNotFound());
    securityHeaders(reply)
      .header('Cache-Control', 'public, max-age=31536000, immutable')
      .header('Content-Length', found.size)
      .type(TYPES[extname(file)] ?? 'application/octet-stream');
    return reply.send(createReadStream(file));
  });
};

async function newestMtimeMs(path: string): Promise<number> {
  const s = await stat(path).catch(() => null);
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const name of await readdir(path)) newest = Math.max(newest, await newestMtimeMs(join(path, name)));
  return newest;
}

export type BundleState = 'fresh' | 'stale' | 'missing';

/** Whether web/dist exists and is newer than everything it is built from. */
export async function consoleBundleState(dir = CONSOLE_DIST): Promise<BundleState> {
  const built = await stat(join(dir, 'index.html')).catch(() => null);
  if (!built) return 'missing';
  let newest = 0;
  for (const source of CONSOLE_SOURCES) newest = Math.max(newest, await newestMtimeMs(source));
  return newest > built.mtimeMs ? 'stale' : 'fresh';
}

interface EnsureLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * Builds the console when its bundle is missing or older than its sources (`notebookd serve` calls
 * this before listening). The build runs in a child process, so Vite never loads into the server;
 * web/build.ts takes a lock, so concurrent callers wait for one build. Resolves the final state; a
 * failed build is logged, never thrown: the API works without the console.
 */
export async function ensureConsoleBundle(log: EnsureLog): Promise<BundleState> {
  const before = await consoleBundleState();
  if (before === 'fresh') return before;
  log.info(`console bundle ${before}; building it (web/build.ts)`);
  const output = await new Promise<{ code: number | null; text: string }>((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BUILD_SCRIPT, '--if-stale'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', (e) => done({ code: -1, text: e.message }));
    child.on('close', (code) => done({ code, text }));
  });
  const after = await consoleBundleState();
  if (output.code !== 0 || after !== 'fresh') {
    log.warn(`console build failed (exit ${output.code}); serving the API without a fresh console: ${output.text.trim().slice(-1500)}`);
  }
  return after;
}
