// Shared set-up for the lease engine's tests: a real, migrated SQLite store in a temporary
// directory, a silent logger, and RUNNING instances with a lease anchored at a named instant.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DEFAULT_LEASE_POLICY, newLease, reanchor, type LeasePolicy, type LeaseRequest } from '../../src/domain/lease.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import { createSqliteStore } from '../../src/store/sql/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { makeNotebook } from './notebook-fixture.ts';

export const silentLog = pino({ level: 'silent' });

export interface TempStore {
  store: Store;
  dir: string;
  /** Another store on the same file (a restarted notebookd). */
  reopen(): Promise<Store>;
  close(): Promise<void>;
}

export async function openTempSqlite(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'notebookd-lease-'));
  const file = join(dir, 'notebookd.db');
  const opened: Store[] = [];
  const open = async () => {
    const store = await createSqliteStore(file);
    await store.migrate();
    opened.push(store);
    return store;
  };
  const store = await open();
  return {
    store,
    dir,
    reopen: open,
    async close() {
      for (const s of opened) await s.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A RUNNING instance whose lease was re-anchored (reached RUNNING) at `runningAt`. */
export function runningNotebook(runningAt: number, req: LeaseRequest = {}, policy: LeasePolicy = DEFAULT_LEASE_POLICY, overrides: Partial<Notebook> = {}): Notebook {
  return makeNotebook({
    status: 'RUNNING',
    desired: 'running',
    createAt: runningAt,
    statusChangedAt: runningAt,
    lease: reanchor(newLease(runningAt, req, policy), runningAt),
    ...overrides,
  });
}
