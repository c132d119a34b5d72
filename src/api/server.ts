// The HTTP surface: Fastify with TypeBox schemas, the ModelArts error format everywhere, an
// X-Request-Id on every response, and credentials required on everything but health and OpenAPI.
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { Authenticate } from '../auth/authenticate.ts';
import type { Caller } from '../domain/identity.ts';
import { errors } from '../domain/errors.ts';
import type { CatalogService } from '../service/catalog-service.ts';
import type { NotebookService } from '../service/notebook-service.ts';
import { sendError } from './error-mapping.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { healthRoutes, type ReadinessCheck } from './routes/health.ts';
import { notebookRoutes } from './routes/notebooks.ts';
import { ErrorBody } from './schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
    caller?: Caller;
  }
}

export interface ApiDeps {
  log: Logger;
  authenticate: Authenticate;
  notebooks: NotebookService;
  catalog: CatalogService;
  publicUrl: string;
  bodyLimitBytes: number;
  ready: ReadinessCheck;
  version: string;
}

/** The authenticated caller; routes behind the auth hook always have one. */
export const callerOf = (request: FastifyRequest): Caller => {
  if (!request.caller) throw errors.noAuthHeader();
  return request.caller;
};

export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes,
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    // Body types are checked strictly (no "123" for 123); query strings stay strings and are parsed by the service.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  // Keep the raw body: AK/SK signatures cover its exact bytes.
  app.addContentTypeParser(['application/json', 'application/json;charset=UTF-8'], { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (e) {
      done(errors.invalidPayload(`(malformed JSON: ${(e as Error).message})`), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, errors.apiNotFound()));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'notebookd — ModelArts notebook API v1',
        version: deps.version,
        description: 'Self-hosted notebook instances speaking the Huawei Cloud ModelArts notebook API v1.',
      },
      components: {
        securitySchemes: {
          token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
          aksk: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...' },
        },
      },
      security: [{ token: [] }, { aksk: [] }],
    },
  });
  app.addSchema(ErrorBody);

  await app.register(healthRoutes, { ready: deps.ready, openapi: () => app.swagger() });

  await app.register(async (authed) => {
    authed.addHook('preValidation', async (request) => {
      request.caller = await deps.authenticate({
        method: request.method,
        rawUrl: request.raw.url ?? request.url,
        headers: request.headers,
        rawBody: request.rawBody,
      });
    });
    await authed.register(notebookRoutes, { notebooks: deps.notebooks, catalog: deps.catalog, publicUrl: deps.publicUrl });
    await authed.register(catalogRoutes, { catalog: deps.catalog });
  });

  return app;
}
