// Vite configuration of the console. `node --import tsx web/build.ts` builds it into web/dist
// (what notebookd serves at /); `npx vite --config web/vite.config.ts` serves it with hot reload,
// forwarding the API to a notebookd on 127.0.0.1:8080 (NOTEBOOKD_URL to change).
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const WEB = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.NOTEBOOKD_URL ?? 'http://127.0.0.1:8080';

/**
 * The console signs in with tokens only. The SDK imports its AK/SK signer (node:crypto) lazily;
 * here that import resolves to a module that refuses, so no Node built-in reaches the bundle.
 */
const noSignerInBrowser = (): Plugin => ({
  name: 'notebookd-no-signer-in-browser',
  enforce: 'pre',
  resolveId: (id) => (id.endsWith('/auth/request-signer.ts') ? '\0notebookd-no-signer' : null),
  load: (id) =>
    id === '\0notebookd-no-signer'
      ? "export function signRequest() { throw new Error('AK/SK signing is not available in the browser; sign in with a token.'); }"
      : null,
});

export default defineConfig({
  root: WEB,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  plugins: [noSignerInBrowser()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    proxy: Object.fromEntries(['/v1', '/v3', '/nb', '/healthz', '/readyz', '/openapi.json'].map((p) => [p, { target: api, changeOrigin: false, ws: p === '/nb' }])),
  },
});
