// ImageStore over Kysely: registered images as JSON docs, with the columns list() filters on.
import type { Kysely } from 'kysely';
import type { Image } from '../../domain/catalog.ts';
import type { ImageStore } from '../store.ts';
import type { Database, ImagesTable } from './schema.ts';

const imageRow = (image: Image): ImagesTable => ({
  id: image.id,
  project_id: image.projectId,
  status: image.status,
  create_at: image.createAt,
  doc: JSON.stringify(image),
});

export function createImageStore(db: Kysely<Database>): ImageStore {
  return {
    async insert(image) {
      await db.insertInto('images').values(imageRow(image)).execute();
    },

    async get(id) {
      const row = await db.selectFrom('images').select('doc').where('id', '=', id).executeTakeFirst();
      return row && (JSON.parse(row.doc) as Image);
    },

    async list(projectId) {
      const rows = await db
        .selectFrom('images')
        .select('doc')
        .where('project_id', '=', projectId)
        .where('status', '!=', 'DELETED')
        .orderBy('create_at')
        .orderBy('id')
        .execute();
      return rows.map((r) => JSON.parse(r.doc) as Image);
    },

    async update(image) {
      const { id: _id, ...columns } = imageRow(image);
      const result = await db.updateTable('images').set(columns).where('id', '=', image.id).executeTakeFirst();
      // Updating an image that was never inserted is a caller bug; say so rather than do nothing.
      if (result.numUpdatedRows === 0n) throw new Error(`image ${image.id} does not exist`);
    },
  };
}
