// Records every mutating API call (POST, PUT, PATCH, DELETE under /v1 and /v3) in the audit trail:
// who, from where, which operation on what, and how it ended. Written before the response leaves,
// so a client that reads the trail right after a call finds it there. Never records bodies.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { NewAuditRecord } from '../domain/audit.ts';

export type AuditSink = (record: NewAuditRecord) => Promise<void>;

export interface AuditNote {
  /** What the call acted on, when the route knows better than its path parameters. */
  target?: string;
  /** The project the call acted in, when it is not the path's or the caller's (a user of another project). */
  projectId?: string;
  /** The actor of a call without a Caller (a successful login). */
  actor?: { id: string; name: string; projectId: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    audit?: AuditNote;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const AUDITED_PATH = /^\/v(1|3|3\.0)\//;
// Which path parameter names the target, most specific first.
const TARGET_PARAMS = ['id', 'resource_id', 'access_key', 'user_id', 'keypair_name', 'name'];

/** The operation name: the first word of the route's summary (e.g. "CreateNotebook"), else METHOD path. */
function operationOf(request: FastifyRequest, path: string): string {
  const summary = (request.routeOptions.schema as { summary?: unknown } | undefined)?.summary;
  const word = typeof summary === 'string' ? /^[A-Za-z][A-Za-z0-9]*/.exec(summary)?.[0] : undefined;
  return word ?? `${request.method} ${path}`;
}

function targetOf(request: FastifyRequest, payload: unknown): string | null {
  if (request.audit?.target) return request.audit.target;
  const params = (request.params ?? {}) as Record<string, unknown>;
  for (const name of TARGET_PARAMS) if (typeof params[name] === 'string') return params[name] as string;
  // A create answers with what it made.
  if (typeof payload === 'string' && payload.startsWith('{') && payload.length < 65_536) {
    try {
      const body = JSON.parse(payload) as Record<string, any>;
      const id = body.id ?? body.user?.id ?? body.project?.id ?? body.credential?.access;
      if (typeof id === 'string') return id;
    } catch {
      /* not JSON after all */
    }
  }
  // Last resort: the project the call acted on as a whole.
  return typeof params.project_id === 'string' ? params.project_id : null;
}

function errorCodeOf(payload: unknown): string | null {
  if (typeof payload !== 'string' || !payload.startsWith('{')) return null;
  try {
    const code = (JSON.parse(payload) as { error_code?: unknown }).error_code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}

export function registerAuditHook(app: FastifyInstance, deps: { sink: AuditSink; clock: Clock; log: Logger }): void {
  // Callback style: reads (most requests) pass through without a promise.
  app.addHook('onSend', (request, reply, payload, done) => {
    const path = request.routeOptions.url;
    // Unknown routes (404) acted on nothing; the proxy and health endpoints are not API calls.
    if (!MUTATING.has(request.method) || !path || !AUDITED_PATH.test(path)) {
      done(null, payload);
      return;
    }
    record(request, reply, payload, path).then(
      () => done(null, payload),
      (e: Error) => done(e),
    );
  });

  async function record(request: FastifyRequest, reply: FastifyReply, payload: unknown, path: string): Promise<void> {
    const params = (request.params ?? {}) as Record<string, unknown>;
    const caller = request.caller;
    const actor = caller ? { id: caller.user.id, name: caller.user.name, projectId: caller.projectId } : request.audit?.actor;
    const projectId = request.audit?.projectId ?? (typeof params.project_id === 'string' ? params.project_id : (actor?.projectId ?? null));
    const failed = reply.statusCode >= 400;
    try {
      await deps.sink({
        at: deps.clock.now(),
        projectId,
        actorId: actor?.id ?? null,
        actorName: actor?.name ?? null,
        sourceIp: request.ip,
        method: request.method,
        path,
        operation: operationOf(request, path),
        target: targetOf(request, failed ? undefined : payload),
        statusCode: reply.statusCode,
        errorCode: failed ? errorCodeOf(payload) : null,
        requestId: String(request.id),
      });
    } catch (err) {
      // The call itself already happened; losing its audit line must not turn it into an error.
      deps.log.error({ err, path, requestId: request.id }, 'could not write the audit record');
    }
  }
}
