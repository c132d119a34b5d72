// Which background hook processes belong to an instance's current run, kept on disk
// (hook-pids.json) so that stop and destroy find them even after a notebookd restart.
import { rm } from 'node:fs/promises';
import { readJson, writeJson } from './json-file.ts';
import type { ProcessIdentity } from './process-identity.ts';
import { terminate } from './terminate.ts';

interface HookRecord {
  /** The server run the hooks belong to: a stale handle must not kill the current run's hooks. */
  server: ProcessIdentity | null;
  hooks: ProcessIdentity[];
}

const sameProcess = (a: ProcessIdentity, b: ProcessIdentity) => a.pid === b.pid && a.startTime === b.startTime;

export interface HookRecords {
  /** Ties the record to the server of the current run. */
  bind(file: string, server: ProcessIdentity): Promise<void>;
  add(file: string, hook: ProcessIdentity | null): Promise<void>;
  /** Kills the hooks of `server`'s run (of whatever run when null) and forgets them. */
  kill(file: string, server: ProcessIdentity | null): Promise<void>;
}

export function createHookRecords(): HookRecords {
  // Read-modify-write of one file at a time: a post_start hook may register while stop runs.
  const locks = new Map<string, Promise<unknown>>();
  function locked<T>(file: string, fn: () => Promise<T>): Promise<T> {
    const next = (locks.get(file) ?? Promise.resolve()).then(fn, fn);
    locks.set(
      file,
      next.catch(() => {}),
    );
    return next;
  }
  const read = async (file: string): Promise<HookRecord> => (await readJson<HookRecord>(file)) ?? { server: null, hooks: [] };

  return {
    bind: (file, server) => locked(file, async () => writeJson(file, { ...(await read(file)), server })),
    add: (file, hook) =>
      hook
        ? locked(file, async () => {
            const record = await read(file);
            await writeJson(file, { ...record, hooks: [...record.hooks, hook] });
          })
        : Promise.resolve(),
    kill: (file, server) =>
      locked(file, async () => {
        const record = await readJson<HookRecord>(file);
        if (!record) return;
        if (server && record.server && !sameProcess(record.server, server)) return;
        for (const hook of record.hooks) await terminate(hook, 1_000).catch(() => {});
        await rm(file, { force: true });
      }),
  };
}
