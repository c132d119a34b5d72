// The default, single-node store: one SQLite file (better-sqlite3, WAL). Returns an
// un-migrated store; the caller runs store.migrate().
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { Store } from '../store.ts';
import { migrateToLatest } from './migrate.ts';
import type { Database } from './schema.ts';
import { createSqlStore } from './sql-store.ts';

const BUSY_TIMEOUT_MS = 5_000;

export async function createSqliteStore(filePath: string): Promise<Store> {
  if (filePath !== ':memory:') mkdirSync(dirname(filePath), { recursive: true });
  const database = new SQLite(filePath);
  database.pragma('journal_mode = WAL');
  database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  database.pragma('foreign_keys = ON');
  // WAL + NORMAL: durable across application crashes, may lose the last commits on power loss.
  database.pragma('synchronous = NORMAL');
  // Kysely prepares every query anew; the same few dozen SQL texts repeat, so their compiled
  // statements are kept (nothing here streams, so a statement is never busy when reused).
  const statements = new Map<string, SQLite.Statement>();
  const prepared = {
    close: () => database.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (!statement) {
        if (statements.size >= 512) statements.clear();
        statement = database.prepare(text);
        statements.set(text, statement);
      }
      return statement;
    },
  };
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: prepared }) });

  // Kysely runs SQLite migrations outside a transaction; BEGIN IMMEDIATE makes them atomic and
  // takes the write lock first, so a second process migrating the same file waits, then finds
  // nothing to do.
  const migrate = () =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        await migrateToLatest(conn, 'sqlite');
      } catch (error) {
        await sql`rollback`.execute(conn);
        throw error;
      }
      await sql`commit`.execute(conn);
    });

  // Changes when another connection (the admin CLI, a second process) commits: no query, no I/O.
  const dataVersion = database.prepare('PRAGMA data_version').pluck();
  return createSqlStore({ db, kind: 'sqlite', migrate, externalWrites: () => dataVersion.get() as number });
}
