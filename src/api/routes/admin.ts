// Administration: Keystone-shaped projects, users and role assignments under /v3, and our quota
// and audit extensions under the ModelArts project path /v1/{project_id}/.
import type { FastifyPluginAsync } from 'fastify';
import type { IdentityService, IssuedToken } from '../../service/identity-service.ts';
import { parseLimitsPatch, type QuotaService } from '../../service/quota-service.ts';
import {
  presentAudit,
  presentLimits,
  presentProject,
  presentRole,
  presentToken,
  presentUsage,
  presentUser,
} from '../identity-presenters.ts';
import {
  AuditQuery,
  IssueTokenRequest,
  NameQuery,
  PasswordChangeRequest,
  ProjectCreateRequest,
  ProjectIdParams,
  ProjectQuotaRequest,
  ProjectUpdateRequest,
  ProjectUserParams,
  RoleParams,
  UserCreateRequest,
  UserIdParams,
  UserLimits,
  UserListQuery,
  UserUpdateRequest,
} from '../identity-schemas.ts';
import { errors } from '../../domain/errors.ts';
import { callerOf } from '../server.ts';

interface Opts {
  identity: IdentityService;
  quotas: QuotaService;
  publicUrl: string;
}

type Body<K extends string> = Record<K, Record<string, unknown>>;

/** Keystone fields we accept for compatibility but do not model: `enabled` must stay true. */
function checkEnabled(obj: Record<string, unknown>, field: string) {
  if (obj.enabled === false) throw errors.incorrectValue(`${field}.enabled`, 'Disabling is not supported; delete the entry or revoke its credentials instead.');
}

export const adminRoutes: FastifyPluginAsync<Opts> = async (app, { identity, quotas, publicUrl }) => {
  const ptags = ['projects'];
  const utags = ['users'];

  // ---- projects ---------------------------------------------------------------------------------

  app.get('/v3/projects', { schema: { tags: ptags, summary: 'ListProjects (all for system administrators, else the caller\'s)', querystring: NameQuery } }, async (request) => {
    const { name } = request.query as { name?: string };
    const projects = await identity.listProjects(callerOf(request), name === undefined ? {} : { name });
    return { projects: projects.map((p) => presentProject(p, publicUrl)), links: { self: `${publicUrl}/v3/projects` } };
  });

  app.post('/v3/projects', { schema: { tags: ptags, summary: 'CreateProject (system administrators)', body: ProjectCreateRequest } }, async (request, reply) => {
    const { project } = request.body as Body<'project'>;
    checkEnabled(project, 'project');
    const created = await identity.createProject(callerOf(request), { name: project.name, ...(project.id !== undefined && { id: project.id }) });
    request.audit = { target: created.id, projectId: created.id };
    reply.status(201);
    return { project: presentProject(created, publicUrl) };
  });

  app.get('/v3/projects/:project_id', { schema: { tags: ptags, summary: 'ShowProject', params: ProjectIdParams } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    return { project: presentProject(await identity.showProject(callerOf(request), project_id), publicUrl) };
  });

  app.patch('/v3/projects/:project_id', { schema: { tags: ptags, summary: 'UpdateProject (rename; system administrators)', params: ProjectIdParams, body: ProjectUpdateRequest } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    const { project } = request.body as Body<'project'>;
    checkEnabled(project, 'project');
    const updated = await identity.updateProject(callerOf(request), project_id, project.name === undefined ? {} : { name: project.name });
    return { project: presentProject(updated, publicUrl) };
  });

  app.delete('/v3/projects/:project_id', { schema: { tags: ptags, summary: 'DeleteProject (with its users; refused while it has instances)', params: ProjectIdParams } }, async (request, reply) => {
    const { project_id } = request.params as { project_id: string };
    await identity.deleteProject(callerOf(request), project_id);
    return reply.status(204).send();
  });

  // ---- users ------------------------------------------------------------------------------------

  app.get('/v3/users', { schema: { tags: utags, summary: 'ListUsers (project admins: their project; system administrators: any)', querystring: UserListQuery } }, async (request) => {
    const { project_id, name } = request.query as { project_id?: string; name?: string };
    const users = await identity.listUsers(callerOf(request), { ...(project_id && { projectId: project_id }), ...(name !== undefined && { name }) });
    return { users: users.map((u) => presentUser(u, publicUrl)), links: { self: `${publicUrl}/v3/users` } };
  });

  app.post('/v3/users', { schema: { tags: utags, summary: 'CreateUser (project admins in their project; role and system_admin are extensions)', body: UserCreateRequest } }, async (request, reply) => {
    const { user } = request.body as Body<'user'>;
    checkEnabled(user, 'user');
    const created = await identity.createUser(callerOf(request), {
      name: user.name,
      ...(user.password !== undefined && { password: user.password }),
      ...(user.default_project_id !== undefined && { projectId: user.default_project_id }),
      ...(user.role !== undefined && { role: user.role }),
      ...(user.system_admin !== undefined && { systemAdmin: user.system_admin }),
    });
    request.audit = { target: created.id, projectId: created.projectId };
    reply.status(201);
    return { user: presentUser(created, publicUrl) };
  });

  app.get('/v3/users/:user_id', { schema: { tags: utags, summary: 'ShowUser', params: UserIdParams } }, async (request) => {
    const { user_id } = request.params as { user_id: string };
    return { user: presentUser(await identity.showUser(callerOf(request), user_id), publicUrl) };
  });

  app.patch('/v3/users/:user_id', { schema: { tags: utags, summary: 'UpdateUser (rename, reset password, role, system_admin)', params: UserIdParams, body: UserUpdateRequest } }, async (request) => {
    const { user_id } = request.params as { user_id: string };
    const { user } = request.body as Body<'user'>;
    checkEnabled(user, 'user');
    const updated = await identity.updateUser(callerOf(request), user_id, {
      ...(user.name !== undefined && { name: user.name }),
      ...(user.password !== undefined && { password: user.password }),
      ...(user.role !== undefined && { role: user.role }),
      ...(user.system_admin !== undefined && { systemAdmin: user.system_admin }),
    });
    request.audit = { projectId: updated.projectId };
    return { user: presentUser(updated, publicUrl) };
  });

  app.delete('/v3/users/:user_id', { schema: { tags: utags, summary: 'DeleteUser (refused while the user owns instances)', params: UserIdParams } }, async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    const deleted = await identity.deleteUser(callerOf(request), user_id);
    request.audit = { projectId: deleted.projectId };
    return reply.status(204).send();
  });

  app.post('/v3/users/:user_id/password', { schema: { tags: utags, summary: 'ChangePassword (the user, proving the old one; revokes their tokens)', params: UserIdParams, body: PasswordChangeRequest } }, async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    const { user } = request.body as Body<'user'>;
    await identity.changeOwnPassword(callerOf(request), user_id, { original: user.original_password, password: user.password });
    return reply.status(204).send();
  });

  app.post('/v3/users/:user_id/tokens', { schema: { tags: utags, summary: 'IssueUserToken (system administrators; the token is in X-Subject-Token)', params: UserIdParams, body: IssueTokenRequest } }, async (request, reply) => {
    const { user_id } = request.params as { user_id: string };
    const lifetime = (request.body as { lifetime_ms?: number } | undefined)?.lifetime_ms;
    const issued: IssuedToken = await identity.issueTokenFor(callerOf(request), user_id, lifetime);
    request.audit = { projectId: issued.user.projectId };
    reply.header('Cache-Control', 'no-store').header('X-Subject-Token', issued.token).status(201);
    return presentToken(issued, publicUrl, false);
  });

  app.delete('/v3/users/:user_id/tokens', { schema: { tags: utags, summary: 'RevokeUserTokens (every live token of the user)', params: UserIdParams } }, async (request) => {
    const { user_id } = request.params as { user_id: string };
    return { revoked: await identity.revokeUserTokens(callerOf(request), user_id) };
  });

  // ---- roles ------------------------------------------------------------------------------------

  app.get('/v3/roles', { schema: { tags: ['roles'], summary: 'ListRoles' } }, async () => ({
    roles: [
      { ...presentRole('admin'), description: 'every instance of the project; manages its users' },
      { ...presentRole('member'), description: 'their own instances' },
      { ...presentRole('viewer'), description: 'reads the project\'s instances, changes nothing' },
    ],
  }));

  app.get('/v3/projects/:project_id/users/:user_id/roles', { schema: { tags: ['roles'], summary: 'ListProjectUserRoles', params: ProjectUserParams } }, async (request) => {
    const { project_id, user_id } = request.params as { project_id: string; user_id: string };
    const user = await identity.rolesOf(callerOf(request), project_id, user_id);
    return { roles: [presentRole(user.role), ...(user.systemAdmin ? [presentRole('system_admin')] : [])] };
  });

  app.put('/v3/projects/:project_id/users/:user_id/roles/:role_id', { schema: { tags: ['roles'], summary: 'AssignRole (replaces the user\'s role in its project)', params: RoleParams } }, async (request, reply) => {
    const { project_id, user_id, role_id } = request.params as { project_id: string; user_id: string; role_id: string };
    await identity.assignRole(callerOf(request), project_id, user_id, role_id);
    request.audit = { target: user_id };
    return reply.status(204).send();
  });

  // ---- quotas (notebookd extension) -------------------------------------------------------------

  const qtags = ['quotas'];
  const presentQuotas = (q: Awaited<ReturnType<QuotaService['show']>>) => ({
    project: { limits: presentLimits(q.project.limits), usage: presentUsage(q.project.usage) },
    user_default: { limits: presentLimits(q.userDefault.limits) },
    user: { user_id: q.user.userId, limits: presentLimits(q.user.limits), usage: presentUsage(q.user.usage), own_limits: q.user.own },
  });
  const presentUserQuota = (q: Awaited<ReturnType<QuotaService['showUser']>>) => ({
    user_id: q.userId,
    limits: presentLimits(q.limits),
    usage: presentUsage(q.usage),
    own_limits: q.own,
  });

  app.get('/v1/:project_id/quotas', { schema: { tags: qtags, summary: 'ShowQuotas (the project\'s and the caller\'s limits and usage)', params: ProjectIdParams } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    return presentQuotas(await quotas.show(callerOf(request), project_id));
  });

  app.put('/v1/:project_id/quotas', { schema: { tags: qtags, summary: 'UpdateProjectQuota (system administrators; null lifts a limit)', params: ProjectIdParams, body: ProjectQuotaRequest } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    const body = (request.body ?? {}) as Record<string, unknown>;
    const patch = {
      ...(body.project !== undefined && { project: parseLimitsPatch(body.project, 'project', true) }),
      ...(body.user_default !== undefined && { userDefault: parseLimitsPatch(body.user_default, 'user_default', false) }),
    };
    return presentQuotas(await quotas.setProject(callerOf(request), project_id, patch));
  });

  app.get('/v1/:project_id/quotas/users/:user_id', { schema: { tags: qtags, summary: 'ShowUserQuota', params: ProjectUserParams } }, async (request) => {
    const { project_id, user_id } = request.params as { project_id: string; user_id: string };
    return presentUserQuota(await quotas.showUser(callerOf(request), project_id, user_id));
  });

  app.put('/v1/:project_id/quotas/users/:user_id', { schema: { tags: qtags, summary: 'UpdateUserQuota (project admins; null lifts a limit)', params: ProjectUserParams, body: UserLimits } }, async (request) => {
    const { project_id, user_id } = request.params as { project_id: string; user_id: string };
    const patch = parseLimitsPatch(request.body ?? {}, 'body', false);
    return presentUserQuota(await quotas.setUser(callerOf(request), project_id, user_id, patch));
  });

  app.delete('/v1/:project_id/quotas/users/:user_id', { schema: { tags: qtags, summary: 'DeleteUserQuota (back to the project\'s default for users)', params: ProjectUserParams } }, async (request, reply) => {
    const { project_id, user_id } = request.params as { project_id: string; user_id: string };
    await quotas.clearUser(callerOf(request), project_id, user_id);
    return reply.status(204).send();
  });

  // ---- audit (notebookd extension) --------------------------------------------------------------

  app.get('/v1/:project_id/audit', { schema: { tags: ['audit'], summary: 'ListAuditRecords (project admins; newest first)', params: ProjectIdParams, querystring: AuditQuery } }, async (request) => {
    const { project_id } = request.params as { project_id: string };
    const page = await identity.listAudit(callerOf(request), project_id, request.query as Record<string, unknown>);
    return { total: page.total, count: page.items.length, limit: page.limit, offset: page.offset, records: page.items.map(presentAudit) };
  });
};
