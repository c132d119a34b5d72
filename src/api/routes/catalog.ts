// /v1/{project_id}/images...: ListImage, ShowImage, RegisterImage, DeleteImage.
import type { FastifyPluginAsync } from 'fastify';
import { checkProject } from '../../auth/authorize.ts';
import type { CatalogService } from '../../service/catalog-service.ts';
import { page, presentImage } from '../presenters.ts';
import { ImageDeleteBody, ImageParams, ImageQuery, ImageRegisterRequest, ProjectParams } from '../schemas.ts';
import { callerOf } from '../server.ts';

const tags = ['images'];

export const catalogRoutes: FastifyPluginAsync<{ catalog: CatalogService }> = async (app, { catalog }) => {
  app.get('/v1/:project_id/images', { schema: { tags, summary: 'ListImage', params: ProjectParams, querystring: ImageQuery } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    checkProject(callerOf(request), project_id);
    const result = await catalog.listImages(project_id, request.query as Record<string, unknown>);
    return page(result.items.map(presentImage), result.total, result.offset, result.limit);
  });

  app.get('/v1/:project_id/images/:id', { schema: { tags, summary: 'ShowImage', params: ImageParams } }, async (request) => {
    const { project_id, id } = request.params as { project_id: string; id: string };
    checkProject(callerOf(request), project_id);
    return presentImage(await catalog.showImage(project_id, id));
  });

  app.post('/v1/:project_id/images', { schema: { tags, summary: 'RegisterImage', params: ProjectParams, body: ImageRegisterRequest } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    const caller = callerOf(request);
    checkProject(caller, project_id);
    return presentImage(await catalog.registerImage(caller, project_id, request.body as Record<string, unknown>));
  });

  app.delete('/v1/:project_id/images/:id', { schema: { tags, summary: 'DeleteImage', params: ImageParams, body: ImageDeleteBody } }, async (request) => {
    const { project_id, id } = request.params as { project_id: string; id: string };
    const caller = callerOf(request);
    checkProject(caller, project_id);
    const force = (request.body as { is_force?: boolean } | undefined)?.is_force === true;
    return presentImage(await catalog.deleteImage(caller, project_id, id, force));
  });
};
