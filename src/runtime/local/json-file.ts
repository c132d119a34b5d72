// Small JSON records next to an instance (server.json, volume.json, hook-pids.json).
import { readFile, rename, writeFile } from 'node:fs/promises';

/** null when the file is missing or unreadable: every record here is optional. */
export async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Write-then-rename, so a crash never leaves half a record behind. */
export async function writeJson(path: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value), { mode });
  await rename(tmp, path);
}
