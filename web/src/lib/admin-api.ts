// The identity engineer's administration API (Keystone-shaped /v3 projects, users and roles;
// /v1/{project_id}/quotas), called through the SDK's request function with the server's own
// presenter types.
import type { presentLimits, presentProject, presentUsage, presentUser } from '../../../src/api/identity-presenters.ts';
import type { BrowserClient } from '../../../src/sdk/browser.ts';

export type AdminUser = ReturnType<typeof presentUser>;
export type AdminProject = ReturnType<typeof presentProject>;
export type Limits = ReturnType<typeof presentLimits>;
export type Usage = ReturnType<typeof presentUsage>;

export interface Quotas {
  project: { limits: Limits; usage: Usage };
  user_default: { limits: Limits };
  user: { user_id: string; limits: Limits; usage: Usage };
}
export interface UserQuota {
  user_id: string;
  limits: Limits;
  usage: Usage;
  own_limits: unknown;
}

export const QUOTA_KEYS = [
  ['instances', 'Instances'],
  ['running_instances', 'Running instances'],
  ['vcpus', 'vCPUs'],
  ['gpus', 'GPUs'],
  ['storage_gb', 'Storage (GB)'],
] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number][0];

const enc = encodeURIComponent;

export function adminApi(client: BrowserClient) {
  const r = client.request;
  return {
    listProjects: async () => (await r<{ projects: AdminProject[] }>('GET', '/v3/projects')).projects,
    createProject: async (name: string) => (await r<{ project: AdminProject }>('POST', '/v3/projects', { body: { project: { name } } })).project,
    deleteProject: (id: string) => r<void>('DELETE', `/v3/projects/${enc(id)}`),
    listUsers: async (projectId?: string) => (await r<{ users: AdminUser[] }>('GET', '/v3/users', { query: { project_id: projectId } })).users,
    createUser: async (u: { name: string; password?: string; default_project_id?: string; role: string }) =>
      (await r<{ user: AdminUser }>('POST', '/v3/users', { body: { user: u } })).user,
    updateUser: async (id: string, patch: { password?: string; name?: string }) => (await r<{ user: AdminUser }>('PATCH', `/v3/users/${enc(id)}`, { body: { user: patch } })).user,
    deleteUser: (id: string) => r<void>('DELETE', `/v3/users/${enc(id)}`),
    assignRole: (projectId: string, userId: string, role: string) => r<void>('PUT', `/v3/projects/${enc(projectId)}/users/${enc(userId)}/roles/${enc(role)}`),
    quotas: (projectId: string) => r<Quotas>('GET', `/v1/${enc(projectId)}/quotas`),
    setProjectQuotas: (projectId: string, body: { project?: Partial<Limits>; user_default?: Partial<Limits> }) => r<Quotas>('PUT', `/v1/${enc(projectId)}/quotas`, { body }),
    userQuota: (projectId: string, userId: string) => r<UserQuota>('GET', `/v1/${enc(projectId)}/quotas/users/${enc(userId)}`),
    setUserQuota: (projectId: string, userId: string, limits: Partial<Limits>) => r<UserQuota>('PUT', `/v1/${enc(projectId)}/quotas/users/${enc(userId)}`, { body: limits }),
    clearUserQuota: (projectId: string, userId: string) => r<void>('DELETE', `/v1/${enc(projectId)}/quotas/users/${enc(userId)}`),
  };
}
