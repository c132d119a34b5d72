// Assembles the Store from the per-area stores over one Kysely instance. The dialect factories
// (sqlite.ts, postgres.ts) supply the connection and their way of serialising migrations.
import { sql, type Kysely } from 'kysely';
import type { NotebookStore, Store } from '../store.ts';
import { createAuditStore } from './audit-store.ts';
import { createIdentityStore } from './identity-store.ts';
import { createImageStore } from './image-store.ts';
import { createKeyPairStore } from './keypair-store.ts';
import { createNotebookStore } from './notebook-store.ts';
import { createRecordCache } from './record-cache.ts';
import { createWebhookStore } from './webhook-store.ts';
import type { Database, StoreKind } from './schema.ts';

export interface SqlStoreDeps {
  db: Kysely<Database>;
  kind: StoreKind;
  migrate: () => Promise<void>;
  externalWrites?: () => number;
}

/** With a record cache where the store can tell when another process wrote (SQLite); PostgreSQL replicas cannot. */
function notebookStore(db: Kysely<Database>, kind: StoreKind, externalWrites?: () => number): NotebookStore {
  if (!externalWrites) return createNotebookStore(db, { kind, setChangedOnly: kind === 'sqlite' });
  const cache = createRecordCache({ externalWrites });
  return cache.wrap(createNotebookStore(db, { kind, setChangedOnly: true, read: cache.read }));
}

export function createSqlStore({ db, kind, migrate, externalWrites }: SqlStoreDeps): Store {
  let closing: Promise<void> | undefined;
  return {
    kind,
    notebooks: notebookStore(db, kind, externalWrites),
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
