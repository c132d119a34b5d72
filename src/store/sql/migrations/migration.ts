// A numbered schema migration. Migrations get the dialect because the two differ in a few
// column types (epoch ms and serial ids); everything else is written once.
import type { Kysely } from 'kysely';
import type { StoreKind } from '../schema.ts';

export interface NumberedMigration {
  /** "NNN-what": applied in name order, recorded by name. Never rename or edit a shipped one. */
  name: string;
  // Migrations see the schema as it was when they were written, not today's Database type.
  up(db: Kysely<any>, kind: StoreKind): Promise<void>;
}
