// The HTTP surface: Fastify with TypeBox schemas, the ModelArts error format everywhere, an
// X-Request-Id on every response, and credentials required on everything but health and OpenAPI.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { Authenticate } from '../auth/authenticate.ts';
import type { Clock } from '../clock.ts';
import type { Caller } from '../domain/identity.ts';
import { errors } from '../domain/errors.ts';
import type { CatalogService } from '../service/catalog-service.ts';
import type { IdentityService } from '../service/identity-service.ts';
import type { KeyPairService } from '../service/keypair-service.ts';
import type { NotebookService } from '../service/notebook-service.ts';
import type { QuotaService } from '../service/quota-service.ts';
import { registerAuditHook, type AuditSink } from './audit-hook.ts';
import { sendClientError, sendError } from './error-mapping.ts';
import { lazyChildLogger } from './lazy-logger.ts';
import { createRateLimiter, type RateLimitSettings } from './rate-limit.ts';
import { adminRoutes } from './routes/admin.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { consoleRoutes } from './routes/console.ts';
import { healthRoutes, type ReadinessCheck } from './routes/health.ts';
import { identityRoutes, loginRoutes } from './routes/identity.ts';
import { keyPairRoutes } from './routes/keypairs.ts';
import type { InstanceUsageReader } from '../service/instance-usage.ts';
import { notebookRoutes } from './routes/notebooks.ts';
import { metricsRoutes, type MetricsRouteOptions } from './routes/metrics.ts';
import type { EventStreams } from '../service/event-stream.ts';
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
  /** Live instance events (Server-Sent Events on GET .../events). */
  eventStreams?: EventStreams;
  /** GET /metrics; absent: not served. */
  metrics?: MetricsRouteOptions;
  /** The built web console served at / (default web/dist). */
  consoleDir?: string;
  /** SSH key pairs (/v3/{project_id}/keypairs). */
  keypairs?: KeyPairService;
  /** Origin of instance URLs when it is not publicUrl (config access.instanceBaseUrl). */
  instanceBaseUrl?: string;
  /** Where the SSH gateway listens, for the SSH endpoint's uri (null: no gateway). */
  sshAddress?: () => { host: string; port: number } | null;
  /** What running instances use now (ShowNotebook's `usage`). */
  usage?: InstanceUsageReader;
  /** Sees every request before Fastify (the /nb/ proxy): handle() returns false for the API's. */
  frontDoor?: FrontDoor;
  /** Tokens, credentials, projects, users, roles (/v3, /v3.0) and quotas (/v1/{project_id}/quotas). */
  identity?: IdentityService;
  quotas?: QuotaService;
  /** Where every mutating call is recorded. */
  audit?: { sink: AuditSink; clock: Clock };
  /** Per-client request rate limit (api/rate-limit.ts); none when absent or disabled. */
  rateLimit?: { settings: RateLimitSettings; now: () => number };
}

export interface FrontDoor {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
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
    // Each request's child logger is made when it first logs (most never do): lazy-logger.ts.
    childLoggerFactory: lazyChildLogger,
    bodyLimit: deps.bodyLimitBytes,
    genReqId: () => randomUUID(),
    // URLs the router refuses (bad encoding, a parameter over maxParamLength) get our error format too.
    frameworkErrors: (error, request, reply) => {
      sendError(request, reply, error);
    },
    clientErrorHandler: sendClientError,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    // Body types are checked strictly (no "123" for 123); query strings stay strings and are parsed by the service.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // The proxy takes /nb/... (and WebSocket upgrades) before Fastify's routing and body parsing.
    ...(deps.frontDoor && {
      serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
        const door = deps.frontDoor!;
        const server = createServer((req, res) => {
          if (!door.handle(req, res)) handler(req, res);
        });
        server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => door.upgrade(req, socket, head));
        return server;
      },
    }),
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

  // One callback-style hook for the request id and the rate limit: on the hot path every async
  // hook costs a promise and a turn of Fastify's hook runner (bench/api).
  const limiter = deps.rateLimit?.settings.enabled ? createRateLimiter(deps.rateLimit.settings, deps.rateLimit.now) : null;
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    // The API only (/v1, /v3, /v3.0...): health, metrics and the console's static files are not counted.
    if (limiter && /^\/v\d/.test(request.url)) {
      try {
        limiter.take(request);
      } catch (e) {
        reply.header('Retry-After', String((e as { retryAfterS?: number }).retryAfterS ?? 1));
        done(e as Error);
        return;
      }
    }
    done();
  });
  if (deps.audit) registerAuditHook(app, { ...deps.audit, log: deps.log });
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
  if (deps.metrics) await app.register(metricsRoutes, deps.metrics);
  await app.register(consoleRoutes, { ...(deps.consoleDir && { dir: deps.consoleDir }) });
  if (deps.identity) await app.register(loginRoutes, { identity: deps.identity, publicUrl: deps.publicUrl });

  await app.register(async (authed) => {
    authed.addHook('preValidation', async (request) => {
      request.caller = await deps.authenticate({
        method: request.method,
        rawUrl: request.raw.url ?? request.url,
        headers: request.headers,
        rawBody: request.rawBody,
        pathProjectId: (request.params as { project_id?: string } | undefined)?.project_id,
      });
    });
    await authed.register(notebookRoutes, { notebooks: deps.notebooks, catalog: deps.catalog, publicUrl: deps.instanceBaseUrl || deps.publicUrl, ...(deps.sshAddress && { sshAddress: deps.sshAddress }), ...(deps.eventStreams && { eventStreams: deps.eventStreams }), ...(deps.usage && { usage: deps.usage }) });
    if (deps.keypairs) await authed.register(keyPairRoutes, { keypairs: deps.keypairs });
    await authed.register(catalogRoutes, { catalog: deps.catalog });
    if (deps.identity) await authed.register(identityRoutes, { identity: deps.identity, publicUrl: deps.publicUrl });
    if (deps.identity && deps.quotas) await authed.register(adminRoutes, { identity: deps.identity, quotas: deps.quotas, publicUrl: deps.publicUrl });
  });

  return app;
}
