// Applies pending migrations with Kysely's Migrator. Callers serialise concurrent migrators
// (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE) around this.
import { Migrator, type Kysely } from 'kysely';
import { migrationProvider } from './migrations/index.ts';
import type { StoreKind } from './schema.ts';

// Migrations are written against the schema of their time, hence Kysely<any>.
export async function migrateToLatest(db: Kysely<any>, kind: StoreKind): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(kind) });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((r) => r.status === 'Error')?.migrationName;
  const detail = error instanceof Error ? error.message : String(error);
  throw new Error(`store migration ${failed ?? '(setup)'} failed: ${detail}`, { cause: error });
}
