// GET /metrics: Prometheus text format. Open like /healthz by default (notebookd listens on
// loopback unless told otherwise); with metrics.bearerToken set it needs Authorization: Bearer <token>.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { errors } from '../../domain/errors.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../../metrics/registry.ts';

export interface MetricsRouteOptions {
  render: () => Promise<string>;
  /** Empty: no credential needed. */
  bearerToken: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, opts) => {
  const expected = opts.bearerToken ? digest(`Bearer ${opts.bearerToken}`) : null;
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected) {
      const given = request.headers.authorization;
      if (!given) throw errors.noAuthHeader();
      if (!timingSafeEqual(digest(given), expected)) throw errors.tokenInvalid();
    }
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(await opts.render());
  });
};
