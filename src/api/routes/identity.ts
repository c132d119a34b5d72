// IAM-shaped identity endpoints: Keystone tokens (/v3/auth/tokens) and IAM permanent access keys
// (/v3.0/OS-CREDENTIAL/credentials). Login is the only call without credentials.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityService } from '../../service/identity-service.ts';
import { presentCredential, presentProject, presentToken } from '../identity-presenters.ts';
import {
  CredentialCreateRequest,
  CredentialParams,
  CredentialQuery,
  CredentialUpdateRequest,
  NameQuery,
  TokenQuery,
  TokenRequest,
} from '../identity-schemas.ts';
import { callerOf } from '../server.ts';

interface Opts {
  identity: IdentityService;
  publicUrl: string;
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

const withCatalog = (request: FastifyRequest) => String((request.query as { nocatalog?: string }).nocatalog).toLowerCase() !== 'true';

// Responses that carry a secret must not be cached by anything in between.
const noStore = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');

/** POST /v3/auth/tokens: no credentials needed, the body is the credential. */
export const loginRoutes: FastifyPluginAsync<Opts> = async (app, { identity, publicUrl }) => {
  app.post('/v3/auth/tokens', { schema: { tags: ['identity'], summary: 'CreateToken (Keystone password or token method, project scope; the token is in X-Subject-Token)', querystring: TokenQuery, body: TokenRequest } }, async (request, reply) => {
    const issued = await identity.login(request.body);
    request.audit = { target: issued.user.id, actor: { id: issued.user.id, name: issued.user.name, projectId: issued.project.id } };
    noStore(reply).header('X-Subject-Token', issued.token).status(201);
    return presentToken(issued, publicUrl, withCatalog(request));
  });
};

export const identityRoutes: FastifyPluginAsync<Opts> = async (app, { identity, publicUrl }) => {
  const tags = ['identity'];

  // As in Keystone, the token acted on is always named in X-Subject-Token (the caller's own to sign
  // out): a stray DELETE to this path must never revoke the credential it was sent with.
  app.get('/v3/auth/tokens', { schema: { tags, summary: 'ValidateToken (X-Subject-Token; expired and revoked ones are 404)', querystring: TokenQuery } }, async (request, reply) => {
    const subject = header(request, 'x-subject-token');
    const info = await identity.validateToken(callerOf(request), subject);
    noStore(reply).header('X-Subject-Token', subject);
    return presentToken(info, publicUrl, withCatalog(request));
  });

  app.delete('/v3/auth/tokens', { schema: { tags, summary: 'RevokeToken (X-Subject-Token; the caller\'s own signs out)' } }, async (request, reply) => {
    const subject = header(request, 'x-subject-token');
    const info = await identity.revokeToken(callerOf(request), subject);
    request.audit = { target: info.user.id, projectId: info.user.projectId };
    return reply.status(204).send();
  });

  app.get('/v3/auth/projects', { schema: { tags, summary: 'ListAuthProjects (the projects the caller may scope a token to)', querystring: NameQuery } }, async (request) => {
    const { name } = request.query as { name?: string };
    const projects = await identity.listProjects(callerOf(request), name === undefined ? {} : { name });
    return { projects: projects.map((p) => presentProject(p, publicUrl)), links: { self: `${publicUrl}/v3/auth/projects` } };
  });

  const ctags = ['credentials'];
  app.post('/v3.0/OS-CREDENTIAL/credentials', { schema: { tags: ctags, summary: 'CreateCredential (the secret is returned only now)', body: CredentialCreateRequest } }, async (request, reply) => {
    const { key, user } = await identity.createCredential(callerOf(request), request.body);
    request.audit = { target: key.accessKey, projectId: user.projectId };
    noStore(reply).status(201);
    return { credential: presentCredential(key, true) };
  });

  app.get('/v3.0/OS-CREDENTIAL/credentials', { schema: { tags: ctags, summary: 'ListCredentials (the caller\'s, or user_id\'s)', querystring: CredentialQuery } }, async (request) => {
    const { user_id } = request.query as { user_id?: string };
    const keys = await identity.listCredentials(callerOf(request), user_id || undefined);
    return { credentials: keys.map((k) => presentCredential(k, false)) };
  });

  app.get('/v3.0/OS-CREDENTIAL/credentials/:access_key', { schema: { tags: ctags, summary: 'ShowCredential', params: CredentialParams } }, async (request) => {
    const { access_key } = request.params as { access_key: string };
    return { credential: presentCredential(await identity.showCredential(callerOf(request), access_key), false) };
  });

  app.put('/v3.0/OS-CREDENTIAL/credentials/:access_key', { schema: { tags: ctags, summary: 'UpdateCredential (status active|inactive, description)', params: CredentialParams, body: CredentialUpdateRequest } }, async (request) => {
    const { access_key } = request.params as { access_key: string };
    return { credential: presentCredential(await identity.updateCredential(callerOf(request), access_key, request.body), false) };
  });

  app.delete('/v3.0/OS-CREDENTIAL/credentials/:access_key', { schema: { tags: ctags, summary: 'DeleteCredential', params: CredentialParams } }, async (request, reply) => {
    const { access_key } = request.params as { access_key: string };
    await identity.deleteCredential(callerOf(request), access_key);
    return reply.status(204).send();
  });
};
