// Flavors (from config) and images (built-in from config, registered ones from the store),
// each image annotated with whether this host's runtime can run it.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { switchableFlavors, type Flavor, type Image, type ImageProgram } from '../domain/catalog.ts';
import { errors } from '../domain/errors.ts';
import type { Caller } from '../domain/identity.ts';
import { expectArray, expectEnum, expectString } from '../domain/validation.ts';
import type { Availability } from '../runtime/runtime.ts';
import type { Store } from '../store/store.ts';
import { authorizeProjectWrite } from '../auth/authorize.ts';

export interface CatalogDeps {
  store: Store;
  clock: Clock;
  flavors: readonly Flavor[];
  images: readonly Image[];
  checkImage: (program: ImageProgram) => Promise<Availability>;
}

const SWR_PATH_RE = /^(?:[a-z0-9.-]+(?::\d+)?\/)?([a-z0-9][a-z0-9._-]{0,63})\/([a-z0-9][a-z0-9._/-]{0,127}):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;

const optionalString = (field: string, raw: unknown): string | undefined => (raw === undefined || raw === '' ? undefined : expectString(field, raw));

function intParam(field: string, raw: unknown, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const s = String(raw);
  if (!/^-?\d{1,16}$/.test(s)) throw errors.wrongType(field, 'integer');
  const n = Number(s);
  if (n < min || n > max) throw errors.incorrectValue(field, `Between ${min} and ${max}.`);
  return n;
}

export function createCatalogService(deps: CatalogDeps) {
  const { store, clock } = deps;
  const flavorsById = new Map(deps.flavors.map((f) => [f.id, f]));

  /** The image as the API shows it: unavailable programs become a status_message, not a surprise. */
  async function annotate(image: Image): Promise<Image> {
    if (image.status !== 'ACTIVE') return image;
    const availability = await deps.checkImage(image.program);
    if (!availability.available) return { ...image, statusMessage: availability.message };
    // Runnable but degraded here (e.g. no sandbox): said in the status rather than hidden.
    return availability.warning ? { ...image, statusMessage: availability.warning } : image;
  }

  async function findImage(projectId: string, id: string): Promise<Image | undefined> {
    const builtIn = deps.images.find((i) => i.id === id);
    if (builtIn) return builtIn;
    const stored = await store.images.get(id);
    if (!stored || stored.status === 'DELETED') return undefined;
    if (stored.projectId !== projectId && stored.visibility !== 'PUBLIC') return undefined;
    return stored;
  }

  return {
    flavors: deps.flavors,

    getFlavor(id: string): Flavor | undefined {
      return flavorsById.get(id);
    },

    switchable(currentId: string): Flavor[] {
      const current = flavorsById.get(currentId);
      return current ? switchableFlavors(current, deps.flavors) : [];
    },

    async showImage(projectId: string, id: string): Promise<Image> {
      const image = await findImage(projectId, id);
      if (!image) throw errors.imageNotFound(id);
      return annotate(image);
    },

    /** For CreateNotebook/UpdateNotebook: the image must exist (6797) and be runnable here. */
    async usableImage(projectId: string, id: string): Promise<Image> {
      const image = await findImage(projectId, id);
      if (!image || image.status !== 'ACTIVE') throw errors.imageMissing(id);
      const availability = await deps.checkImage(image.program);
      if (!availability.available) throw errors.imageUnavailable(id, availability.message);
      return image;
    },

    async imageOrPlaceholder(projectId: string, id: string): Promise<Image | undefined> {
      return findImage(projectId, id);
    },

    /** ListImage: built-in and the project's registered images, filtered, sorted and paged. */
    async listImages(projectId: string, query: Record<string, unknown>): Promise<{ items: Image[]; total: number; offset: number; limit: number }> {
      const limit = intParam('limit', query.limit, 200, 1, 1000);
      const offset = intParam('offset', query.offset, 0, 0, Number.MAX_SAFE_INTEGER);
      const name = optionalString('name', query.name);
      const fuzzy = optionalString('name_fuzzy_match', query.name_fuzzy_match)?.toLowerCase() !== 'false';
      const namespace = optionalString('namespace', query.namespace);
      const type = query.type === undefined || query.type === '' ? undefined : expectEnum('type', query.type, ['BUILD_IN', 'DEDICATED'] as const);
      const serviceType = optionalString('service_type', query.service_type)?.toUpperCase();
      const workspace = optionalString('workspace_id', query.workspace_id);
      const sortKey = optionalString('sort_key', query.sort_key) ?? 'create_at';
      const sortField = ({ create_at: 'createAt', update_at: 'updateAt', name: 'name' } as const)[sortKey as 'create_at'];
      if (!sortField) throw errors.notSortable(sortKey);
      const sortDir = query.sort_dir === undefined ? 'DESC' : expectEnum('sort_dir', query.sort_dir, ['ASC', 'DESC'] as const);
      const registered = await store.images.list(projectId);
      const matching = [...deps.images, ...registered].filter(
        (i) =>
          (!name || (fuzzy ? i.name.toLowerCase().includes(name.toLowerCase()) : i.name === name)) &&
          (!namespace || i.namespace === namespace) &&
          (!type || i.type === type) &&
          (!serviceType || i.serviceType === serviceType) &&
          (!workspace || i.workspaceId === workspace),
      );
      const sign = sortDir === 'ASC' ? 1 : -1;
      matching.sort((a, b) => (a[sortField] < b[sortField] ? -sign : a[sortField] > b[sortField] ? sign : a.id < b.id ? -1 : 1));
      const items = await Promise.all(matching.slice(offset, offset + limit).map(annotate));
      return { items, total: matching.length, offset, limit };
    },

    /** ListFlavors: filtered and paged; no limit means all. */
    listFlavors(query: Record<string, unknown>): { items: Flavor[]; total: number; offset: number; limit: number } {
      const category = query.category === undefined || query.category === '' ? undefined : expectEnum('category', query.category, ['CPU', 'GPU', 'ASCEND'] as const);
      const feature = query.feature === undefined || query.feature === '' ? undefined : expectEnum('feature', query.feature, ['DEFAULT', 'NOTEBOOK'] as const);
      const matching = deps.flavors.filter((f) => (!category || f.category === category) && (!feature || f.feature === feature));
      const limit = intParam('limit', query.limit, matching.length || 1, 1, 1000);
      const offset = intParam('offset', query.offset, 0, 0, Number.MAX_SAFE_INTEGER);
      return { items: matching.slice(offset, offset + limit), total: matching.length, offset, limit };
    },

    async registerImage(caller: Caller, projectId: string, body: Record<string, unknown>): Promise<Image> {
      authorizeProjectWrite(caller, 'RegisterImage');
      if (body.swr_path === undefined) throw errors.required('swr_path');
      const swrPath = expectString('swr_path', body.swr_path);
      const match = SWR_PATH_RE.exec(swrPath);
      // Repository paths are names, never navigation: no empty, "." or ".." segments.
      const navigates = swrPath.split(/[/:]/).some((segment) => segment === '' || segment === '.' || segment === '..');
      if (swrPath.length < 16 || swrPath.length > 2048 || !match || navigates) {
        throw errors.incorrectValue('swr_path', 'Expected [registry[:port]/]namespace/name:tag, 16 to 2048 characters.');
      }
      const [, namespace, name, tag] = match as unknown as [string, string, string, string];
      const description = body.description === undefined ? '' : expectString('description', body.description);
      if (description.length > 512) throw errors.incorrectValue('description', 'At most 512 characters.');
      const readMe = body.read_me === undefined ? '' : expectString('read_me', body.read_me);
      if (readMe.length > 3000) throw errors.incorrectValue('read_me', 'At most 3000 characters.');
      const tags = body.tags === undefined ? [] : expectArray('tags', body.tags).map((t, i) => expectString(`tags[${i}]`, t));
      if (tags.length > 20) throw errors.incorrectValue('tags', 'At most 20 tags.');
      // notebookd extension: which Jupyter program the local runtime runs for this image.
      const program = body.program === undefined ? 'notebook' : (expectEnum('program', body.program, ['NOTEBOOK', 'JUPYTER_SERVER'] as const).toLowerCase() as ImageProgram);
      const now = clock.now();
      const image: Image = {
        id: randomUUID(),
        projectId,
        name: name.replace(/\//g, '-'),
        namespace,
        tag,
        swrPath,
        description,
        arch: body.arch === undefined ? 'x86_64' : (expectEnum('arch', body.arch, ['X86_64', 'AARCH64'] as const).toLowerCase() as Image['arch']),
        origin: 'CUSTOMIZE',
        type: 'DEDICATED',
        visibility: body.visibility === undefined ? 'PRIVATE' : expectEnum('visibility', body.visibility, ['PRIVATE', 'PUBLIC', 'HIDDEN'] as const),
        serviceType: body.service_type === undefined ? 'UNKNOWN' : expectEnum('service_type', body.service_type, ['COMMON', 'INFERENCE', 'TRAIN', 'DEV', 'UNKNOWN'] as const),
        devServices: body.services === undefined ? ['NOTEBOOK', 'SSH'] : expectArray('services', body.services).map((s, i) => expectEnum(`services[${i}]`, s, ['NOTEBOOK', 'SSH', 'AI_FLOW', 'MA_STUDIO', 'TENSOR_BOARD', 'WEB_IDE'] as const)),
        resourceCategories: body.resource_category === undefined ? ['CPU', 'GPU'] : expectArray('resource_category', body.resource_category).map((s, i) => expectEnum(`resource_category[${i}]`, s, ['CPU', 'GPU', 'ASCEND'] as const)),
        workspaceId: body.workspace_id === undefined ? '0' : expectString('workspace_id', body.workspace_id),
        status: 'ACTIVE',
        statusMessage: '',
        program,
        tags,
        readMe,
        sizeBytes: 0,
        createAt: now,
        updateAt: now,
      };
      if (image.arch !== 'x86_64') throw errors.incorrectValue('arch', 'This deployment runs x86_64 images only.');
      await store.images.insert(image);
      return annotate(image);
    },

    async deleteImage(caller: Caller, projectId: string, id: string, force: boolean): Promise<Image> {
      const image = await findImage(projectId, id);
      if (!image) throw errors.imageNotFound(id);
      if (image.type === 'BUILD_IN' || image.projectId !== projectId) throw errors.notAuthorized('DeleteImage');
      authorizeProjectWrite(caller, 'DeleteImage');
      if (!force && (await store.notebooks.countUsingImage(id)) > 0) throw errors.imageInUse(id);
      const deleted: Image = { ...image, status: 'DELETED', updateAt: clock.now() };
      await store.images.update(deleted);
      return deleted;
    },
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
