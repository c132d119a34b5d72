// Unauthenticated endpoints: liveness, readiness and the generated OpenAPI document.
import type { FastifyPluginAsync } from 'fastify';

export type ReadinessCheck = () => Promise<{ ready: boolean; checks: Record<string, string> }>;

export const healthRoutes: FastifyPluginAsync<{ ready: ReadinessCheck; openapi: () => unknown }> = async (app, opts) => {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const result = await opts.ready();
    return reply.status(result.ready ? 200 : 503).send({ status: result.ready ? 'ready' : 'not ready', checks: result.checks });
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => opts.openapi());
};
