// Every migration, in the order it is applied. Append new ones; never reorder or edit.
import type { MigrationProvider } from 'kysely';
import type { StoreKind } from '../schema.ts';
import { initial } from './001-initial.ts';
import { identity } from './002-identity.ts';
import { keypairs } from './003-keypairs.ts';
import { leaseEvents } from './004-lease-events.ts';
import { listIndexes } from './005-list-indexes.ts';
import { statusListIndexes } from './006-status-list-indexes.ts';
import type { NumberedMigration } from './migration.ts';

export const MIGRATIONS: readonly NumberedMigration[] = [initial, identity, keypairs, leaseEvents, listIndexes, statusListIndexes];

/** A static provider: migrations are compiled in, not discovered on disk at run time. */
export function migrationProvider(kind: StoreKind): MigrationProvider {
  return {
    getMigrations: async () => Object.fromEntries(MIGRATIONS.map((m) => [m.name, { up: (db) => m.up(db, kind) }])),
  };
}
