// Builds the console into web/dist: `node --import tsx web/build.ts` (npm run build:console).
//   --if-stale   only when web/dist is missing or older than its sources (`notebookd serve` and
//                the console tests run this), one build at a time across processes
//   --optional   a missing Vite (a production install without dev dependencies) is a warning, not
//                an error (the npm `prepare` script, which `npm ci` runs)
// The bundle is written beside web/dist and swapped in with renames, so a running notebookd never
// serves half of one.
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleBundleState } from '../src/api/routes/console.ts';

const WEB = fileURLToPath(new URL('.', import.meta.url));
const DIST = join(WEB, 'dist');
const LOCK = join(WEB, '.build.lock');
const STALE_LOCK_MS = 5 * 60_000;

export async function buildConsole(): Promise<void> {
  const { build } = await import('vite');
  const { default: config } = await import('./vite.config.ts');
  const next = join(WEB, `.dist-${process.pid}`);
  const old = join(WEB, `.dist-old-${process.pid}`);
  try {
    await build({ ...config, configFile: false, build: { ...config.build, outDir: next } });
    await rename(DIST, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await rename(next, DIST);
  } finally {
    await rm(next, { recursive: true, force: true });
    await rm(old, { recursive: true, force: true });
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Builds unless the bundle is fresh; whoever holds web/.build.lock builds, the others wait for it. */
export async function buildIfStale(log: (msg: string) => void): Promise<'fresh' | 'built'> {
  for (;;) {
    if ((await consoleBundleState()) === 'fresh') return 'fresh';
    const lock = await open(LOCK, 'wx').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return null;
      throw e;
    });
    if (lock) {
      try {
        await lock.write(String(process.pid));
        // Re-checked under the lock: another build may have finished just before we took it.
        const state = await consoleBundleState();
        if (state === 'fresh') return 'fresh';
        log(`console bundle ${state}; building web/ with Vite`);
        await buildConsole();
        return 'built';
      } finally {
        await lock.close();
        await rm(LOCK, { force: true });
      }
    }
    // A lock whose builder died (or is ancient) is taken over.
    const held = await stat(LOCK).catch(() => null);
    const holder = Number((await readFile(LOCK, 'utf8').catch(() => '')) || 0);
    if (held && (Date.now() - held.mtimeMs > STALE_LOCK_MS || (holder > 0 && !alive(holder)))) await rm(LOCK, { force: true });
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const flags = new Set(process.argv.slice(2));
  const started = performance.now();
  try {
    const result = flags.has('--if-stale') ? await buildIfStale((m) => console.log(m)) : (await buildConsole(), 'built');
    if (result === 'built') console.log(`console built into web/dist in ${Math.round(performance.now() - started)} ms`);
  } catch (e) {
    const missingVite = (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes("'vite'");
    if (flags.has('--optional') && missingVite) {
      console.warn('notebookd: Vite is not installed (dev dependencies omitted); the web console is not built. The API works without it.');
    } else {
      console.error(e);
      process.exit(1);
    }
  }
}
