// The scale-out store: several replicas share one PostgreSQL database. Returns an un-migrated
// store; the caller runs store.migrate(), which replicas may do at the same time.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Store } from '../store.ts';
import { migrateToLatest } from './migrate.ts';
import type { Database } from './schema.ts';
import { createSqlStore } from './sql-store.ts';

const INT8_OID = 20;
/** Arbitrary, fixed: the advisory-lock key every notebookd replica migrates under. */
const MIGRATION_LOCK_KEY = 7_142_016_001;

/** Epoch ms, counts and serial ids are int8; they fit a JS number, so read them as one. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} does not fit a JS number`);
  return n;
}

// Per pool rather than pg.types.setTypeParser, which would change every pg user in the process.
const types = new pg.TypeOverrides();
types.setTypeParser(INT8_OID, 'text', parseInt8);

export async function createPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, types });
  // An idle client losing its server emits on the pool; without a listener that kills the
  // process. The next query reports the failure to its caller instead.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  // A session-level advisory lock held on one connection for the whole run: replicas starting
  // together migrate one after another, and the later ones find nothing pending.
  const migrate = () =>
    db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
      try {
        await migrateToLatest(conn, 'postgres');
      } finally {
        await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
      }
    });

  return createSqlStore({ db, kind: 'postgres', migrate });
}
