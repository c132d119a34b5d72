// KeyPairStore over Kysely: one row per (project, name).
import type { Kysely, Selectable } from 'kysely';
import type { KeyPair } from '../../domain/keypair.ts';
import type { KeyPairStore } from '../store.ts';
import type { Database, KeypairsTable } from './schema.ts';

const toKeyPair = (r: Selectable<KeypairsTable>): KeyPair => ({
  projectId: r.project_id,
  name: r.name,
  userId: r.user_id,
  type: 'ssh',
  publicKey: r.public_key,
  fingerprint: r.fingerprint,
  createAt: Number(r.create_at),
});

export function createKeyPairStore(db: Kysely<Database>): KeyPairStore {
  return {
    async insert(k) {
      const result = await db
        .insertInto('keypairs')
        .values({
          project_id: k.projectId,
          name: k.name,
          user_id: k.userId,
          type: k.type,
          public_key: k.publicKey,
          fingerprint: k.fingerprint,
          create_at: k.createAt,
        })
        // A concurrent create of the same name loses here rather than with a driver error.
        .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },

    async get(projectId, name) {
      const row = await db.selectFrom('keypairs').selectAll().where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
      return row && toKeyPair(row);
    },

    async list(projectId, userId) {
      let q = db.selectFrom('keypairs').selectAll().where('project_id', '=', projectId);
      if (userId !== undefined) q = q.where('user_id', '=', userId);
      const rows = await q.orderBy('create_at').orderBy('name').execute();
      return rows.map(toKeyPair);
    },

    async delete(projectId, name) {
      const result = await db.deleteFrom('keypairs').where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
