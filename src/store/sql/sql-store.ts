// Assembles the Store from the per-area stores over one Kysely instance. The dialect factories
// (sqlite.ts, postgres.ts) supply the connection and their way of serialising migrations.
import { sql, type Kysely } from 'kysely';
import type { Store } from '../store.ts';
import { createAuditStore } from './audit-store.ts';
import { createIdentityStore } from './identity-store.ts';
import { createImageStore } from './image-store.ts';
import { createKeyPairStore } from './keypair-store.ts';
import { createNotebookStore } from './notebook-store.ts';
import { withRecordCache } from './record-cache.ts';
import { createWebhookStore } from './webhook-store.ts';
import type { Database, StoreKind } from './schema.ts';

export interface SqlStoreDeps {
  db: Kysely<Database>;
  kind: StoreKind;
  migrate: () => Promise<void>;
  externalWrites?: () => number;
}

export function createSqlStore({ db, kind, migrate, externalWrites }: SqlStoreDeps): Store {
  let closing: Promise<void> | undefined;
  return {
    kind,
    // Only SQLite can tell when another process wrote (externalWrites); PostgreSQL replicas cannot.
    notebooks: externalWrites
      ? withRecordCache(createNotebookStore(db, { setChangedOnly: true }), { externalWrites })
      : createNotebookStore(db, { setChangedOnly: kind === 'sqlite' }),
    images: createImageStore(db),
    identity: createIdentityStore(db),
    webhooks: createWebhookStore(db),
    keypairs: createKeyPairStore(db),
    audit: createAuditStore(db),
    migrate,
    ...(externalWrites && { externalWrites }),
    async ping() {
      await sql`select 1`.execute(db);
    },
    // Idempotent: shutdown paths and test cleanups may both close the same store.
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
}
