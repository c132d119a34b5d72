// /v1/{project_id}/notebooks...: the notebook operations of reference §1.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { checkProject } from '../../auth/authorize.ts';
import type { Image } from '../../domain/catalog.ts';
import type { Notebook } from '../../domain/notebook.ts';
import type { CatalogService } from '../../service/catalog-service.ts';
import type { NotebookService } from '../../service/notebook-service.ts';
import { page, pageJson, presentEvent, presentFlavor, presentLease, presentNotebook, presentUsage } from '../presenters.ts';
import {
  EventsQuery,
  FlavorQuery,
  LeaseQuery,
  LeaseRequestBody,
  ListNotebooksQuery,
  NotebookCreateRequest,
  NotebookParams,
  NotebookUpdateRequest,
  ProjectParams,
  ResourceParams,
  StartQuery,
  TagsBody,
} from '../schemas.ts';
import { callerOf } from '../server.ts';
import { sendEventStream, wantsEventStream, type OpenStreams } from '../sse.ts';
import type { EventStreams } from '../../service/event-stream.ts';
import type { InstanceUsageReader } from '../../service/instance-usage.ts';

interface Opts {
  notebooks: NotebookService;
  catalog: CatalogService;
  publicUrl: string;
  sshAddress?: () => { host: string; port: number } | null;
  /** Live events for GET .../events with Accept: text/event-stream. */
  eventStreams?: EventStreams;
  /** What a running instance uses now, for ShowNotebook's `usage` (notebookd extension). */
  usage?: InstanceUsageReader;
}

type P = Static<typeof NotebookParams>;
const JSON_TYPE = 'application/json; charset=utf-8';
type Q = Record<string, unknown>;
const tags = ['notebooks'];

export const notebookRoutes: FastifyPluginAsync<Opts> = async (app, { notebooks, catalog, publicUrl, sshAddress, eventStreams, usage }) => {
  const presentOne = async (nb: Notebook) => {
    const ssh = sshAddress?.() ?? undefined;
    return presentNotebook(nb, { publicUrl, image: await catalog.imageOrPlaceholder(nb.projectId, nb.imageId), ...(ssh && { sshAddress: ssh }) });
  };

  // ShowNotebook and the lists are the hottest reads. A record's presented JSON is kept while the
  // image and the SSH address it shows are unchanged: the store's record cache hands out the same
  // frozen object until the instance changes, so an unchanged instance is presented and
  // serialised once (JSON.stringify was 10 % of ShowNotebook's CPU, bench/api).
  const presented = new WeakMap<Notebook, { key: string; json: string }>();
  async function presentedJson(projectId: string, nb: Notebook, images = new Map<string, Image | undefined>()): Promise<string> {
    if (!images.has(nb.imageId)) images.set(nb.imageId, await catalog.imageOrPlaceholder(projectId, nb.imageId));
    const image = images.get(nb.imageId);
    const ssh = sshAddress?.() ?? undefined;
    const key = `${image ? [image.id, image.name, image.swrPath, image.tag, image.type, image.description, image.program].join('\0') : ''}\0${ssh ? `${ssh.host}:${ssh.port}` : ''}`;
    let kept = presented.get(nb);
    if (kept?.key !== key) {
      kept = { key, json: JSON.stringify(presentNotebook(nb, { publicUrl, image, ...(ssh && { sshAddress: ssh }) })) };
      if (Object.isFrozen(nb)) presented.set(nb, kept);
    }
    return kept.json;
  }

  // Event streams never end by themselves: end them when the server closes, or close() waits on clients.
  const openStreams: OpenStreams = new Set();
  app.addHook('preClose', async () => {
    for (const stream of openStreams) stream.abort();
  });

  const listHandler = (all: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const { project_id } = request.params as { project_id: string };
    const result = await notebooks.list(callerOf(request), project_id, { all, query: request.query as Q });
    const images = new Map<string, Image | undefined>();
    const items: string[] = [];
    for (const nb of result.items) items.push(await presentedJson(project_id, nb, images));
    reply.type(JSON_TYPE);
    return pageJson(items, result.total, result.offset, result.limit);
  };

  app.post('/v1/:project_id/notebooks', { schema: { tags, summary: 'CreateNotebook', params: ProjectParams, body: NotebookCreateRequest } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    return presentOne(await notebooks.create(callerOf(request), project_id, request.body as Q));
  });

  app.get('/v1/:project_id/notebooks', { schema: { tags, summary: 'ListNotebooks (the caller\'s own)', params: ProjectParams, querystring: ListNotebooksQuery } }, listHandler(false));
  app.get('/v1/:project_id/notebooks/all', { schema: { tags, summary: 'ListAllNotebooks (the project, for admins and viewers)', params: ProjectParams, querystring: ListNotebooksQuery } }, listHandler(true));

  app.get('/v1/:project_id/notebooks/flavors', { schema: { tags: ['flavors'], summary: 'ListFlavors', params: ProjectParams, querystring: FlavorQuery } }, async (request) => {
    checkProject(callerOf(request), (request.params as { project_id: string }).project_id);
    const result = catalog.listFlavors(request.query as Q);
    const data = result.items.map(presentFlavor);
    return { ...page(data, result.total, result.offset, result.limit), flavors: data };
  });

  app.get('/v1/:project_id/notebooks/tags', { schema: { tags, summary: 'ShowNotebookTags', params: ProjectParams } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    return { tags: await notebooks.tagSummary(callerOf(request), project_id) };
  });

  app.get('/v1/:project_id/notebooks/:id', { schema: { tags, summary: 'ShowNotebook', params: NotebookParams } }, async (request, reply) => {
    const { project_id, id } = request.params as P;
    const nb = await notebooks.show(callerOf(request), project_id, id);
    const json = await presentedJson(project_id, nb);
    const now = usage ? await usage.of(nb) : null;
    reply.type(JSON_TYPE);
    return now ? `${json.slice(0, -1)},"usage":${JSON.stringify(presentUsage(now))}}` : json;
  });

  app.put('/v1/:project_id/notebooks/:id', { schema: { tags, summary: 'UpdateNotebook', params: NotebookParams, body: NotebookUpdateRequest } }, async (request) => {
    const { project_id, id } = request.params as P;
    return presentOne(await notebooks.update(callerOf(request), project_id, id, (request.body ?? {}) as Q));
  });

  app.delete('/v1/:project_id/notebooks/:id', { schema: { tags, summary: 'DeleteNotebook (also while running)', params: NotebookParams } }, async (request) => {
    const { project_id, id } = request.params as P;
    return presentOne(await notebooks.remove(callerOf(request), project_id, id));
  });

  app.post('/v1/:project_id/notebooks/:id/start', { schema: { tags, summary: 'StartNotebook (a new token on every start)', params: NotebookParams, querystring: StartQuery } }, async (request) => {
    const { project_id, id } = request.params as P;
    return presentOne(await notebooks.start(callerOf(request), project_id, id, request.query as Q));
  });

  app.post('/v1/:project_id/notebooks/:id/stop', { schema: { tags, summary: 'StopNotebook', params: NotebookParams } }, async (request) => {
    const { project_id, id } = request.params as P;
    return presentOne(await notebooks.stop(callerOf(request), project_id, id));
  });

  app.get('/v1/:project_id/notebooks/:id/lease', { schema: { tags: ['lease'], summary: 'ShowLease', params: NotebookParams } }, async (request) => {
    const { project_id, id } = request.params as P;
    return presentLease(await notebooks.showLease(callerOf(request), project_id, id));
  });

  app.patch('/v1/:project_id/notebooks/:id/lease', { schema: { tags: ['lease'], summary: 'RenewLease: reset the stop time to now + duration', params: NotebookParams, querystring: LeaseQuery, body: LeaseRequestBody } }, async (request) => {
    const { project_id, id } = request.params as P;
    return presentLease(await notebooks.renewLease(callerOf(request), project_id, id, request.query as Q, request.body));
  });

  app.get('/v1/:project_id/notebooks/:id/flavors', { schema: { tags: ['flavors'], summary: 'ShowSwitchableFlavors', params: NotebookParams, querystring: FlavorQuery } }, async (request) => {
    const { project_id, id } = request.params as P;
    const data = (await notebooks.switchableFlavors(callerOf(request), project_id, id)).map(presentFlavor);
    return { ...page(data, data.length, 0, data.length), flavors: data };
  });

  app.get('/v1/:project_id/notebooks/:id/logs', { schema: { tags, summary: 'The last output of the start hooks and the Jupyter server (notebookd extension)', params: NotebookParams } }, async (request) => {
    const { project_id, id } = request.params as P;
    return notebooks.logs(callerOf(request), project_id, id);
  });

  app.get('/v1/:project_id/notebooks/:id/events', { schema: { tags, summary: 'The instance event log (notebookd extension); Server-Sent Events with Accept: text/event-stream', params: NotebookParams, querystring: EventsQuery } }, async (request, reply) => {
    const { project_id, id } = request.params as P;
    if (eventStreams && wantsEventStream(request)) {
      // Resume after Last-Event-ID (or ?after=); the first read also authorizes and validates.
      const after = request.headers['last-event-id'] ?? (request.query as Q).after ?? '0';
      await notebooks.events(callerOf(request), project_id, id, { after, limit: '1' });
      return sendEventStream(request, reply, (signal) => eventStreams.follow(id, Number(after), signal), presentEvent, openStreams);
    }
    const events = await notebooks.events(callerOf(request), project_id, id, request.query as Q);
    return { events: events.map(presentEvent) };
  });

  app.post('/v1/:project_id/notebooks/:resource_id/tags/create', { schema: { tags, summary: 'CreateNotebookTags (overwrites existing keys)', params: ResourceParams, body: TagsBody } }, async (request) => {
    const { project_id, resource_id } = request.params as { project_id: string; resource_id: string };
    await notebooks.addTags(callerOf(request), project_id, resource_id, request.body);
    return {};
  });

  app.delete('/v1/:project_id/notebooks/:resource_id/tags/delete', { schema: { tags, summary: 'DeleteNotebookTags (missing tags are a no-op)', params: ResourceParams, body: TagsBody } }, async (request) => {
    const { project_id, resource_id } = request.params as { project_id: string; resource_id: string };
    await notebooks.removeTags(callerOf(request), project_id, resource_id, request.body);
    return {};
  });
};
