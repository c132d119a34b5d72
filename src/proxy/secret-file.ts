// A secret made once and kept in the data directory (mode 0600), created atomically: several
// notebookd processes may start at once on one directory (replicas, tests), and a reader must
// never see a half-written file. The first to link its complete temporary file wins.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The file's content, or `make()` written there if the file does not exist yet (or the other writer's, if it won). */
export async function readOrCreate(path: string, make: () => string, valid: (content: string) => boolean): Promise<string> {
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing !== null) {
    if (!valid(existing)) throw new Error(`${path} exists but cannot be read as what notebookd wrote there; remove it to have a new one made`);
    return existing;
  }
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const content = make();
  await writeFile(tmp, content, { mode: 0o600 });
  try {
    await link(tmp, path); // fails if the file exists: never replaces a secret in use
    return content;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return readOrCreate(path, make, valid);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}
