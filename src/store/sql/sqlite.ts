// The default, single-node store: one SQLite file (better-sqlite3, WAL), a write and a read
// connection with group commit (sqlite-driver.ts). Returns an un-migrated store; the caller runs
// store.migrate().
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Store } from '../store.ts';
import { migrateToLatest } from './migrate.ts';
import type { Database } from './schema.ts';
import { createSqlStore } from './sql-store.ts';
import { GroupCommitSqliteDialect, statementCache } from './sqlite-driver.ts';

const BUSY_TIMEOUT_MS = 5_000;
/** How stale Store.externalWrites may be: another process's commit is noticed within this. */
const EXTERNAL_WRITES_RECHECK_MS = 1;

export async function createSqliteStore(filePath: string): Promise<Store> {
  if (filePath !== ':memory:') mkdirSync(dirname(filePath), { recursive: true });
  const open = () => {
    const database = new SQLite(filePath);
    database.pragma('journal_mode = WAL');
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    database.pragma('foreign_keys = ON');
    // WAL + NORMAL: a commit survives a crash of the process (it is in the WAL before COMMIT
    // returns); the last commits may be lost on power loss (DESIGN §6, bench/README.md).
    database.pragma('synchronous = NORMAL');
    // Checkpoint every ~40 MB of WAL instead of ~4 MB: rows renewed again and again are copied
    // back to the database once per checkpoint, not once per few hundred commits (bench/api:
    // RenewLease over 100 instances +25 %, p99 12 → 4 ms). The WAL file is cut back after each.
    database.pragma('wal_autocheckpoint = 10000');
    database.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    return database;
  };
  const writer = open();
  // Reads outside transactions use a connection of their own (sqlite-driver.ts): they see only
  // committed data and do not wait for writers. An in-memory database has one connection.
  const reader = filePath === ':memory:' ? null : open();
  reader?.pragma('query_only = ON');
  const db = new Kysely<Database>({ dialect: new GroupCommitSqliteDialect({ writer, reader }) });

  // Migrations run on the write connection through Kysely's plain driver, before anything else
  // uses the store. Kysely runs SQLite migrations outside a transaction; BEGIN IMMEDIATE makes
  // them atomic and takes the write lock first, so a second process migrating the same file
  // waits, then finds nothing to do.
  const migrate = async () => {
    const plain = new Kysely<Database>({ dialect: new SqliteDialect({ database: { prepare: statementCache(writer), close: () => {} } }) });
    await plain.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        await migrateToLatest(conn, 'sqlite');
      } catch (error) {
        await sql`rollback`.execute(conn);
        throw error;
      }
      await sql`commit`.execute(conn);
    });
    await plain.destroy();
  };

  // Changes when another connection (the admin CLI, a second process) commits: no query, no I/O.
  // Read on the write connection, which the reader never writes through, so our own commits do
  // not count.
  // Asked on every authenticated request (the credential and record caches): the pragma runs at
  // most once per millisecond, so another process's commit is noticed within one. Once per
  // request it cost 7 % of ShowNotebook, and still 4 % once per turn of the event loop (bench/api).
  const dataVersion = writer.prepare('PRAGMA data_version').pluck();
  let seen = 0;
  let seenAt = -Infinity;
  const externalWrites = () => {
    const now = performance.now();
    if (now - seenAt >= EXTERNAL_WRITES_RECHECK_MS) {
      seen = dataVersion.get() as number;
      seenAt = now;
    }
    return seen;
  };
  return createSqlStore({ db, kind: 'sqlite', migrate, externalWrites });
}
