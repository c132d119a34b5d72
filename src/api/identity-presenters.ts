// Identity records → IAM/Keystone wire objects. Times in Keystone's ISO form with microseconds
// ("2026-11-23T09:00:00.000000Z"), as IAM sends them. Secrets appear only where a create returns
// them once (the token in X-Subject-Token, the SK in CreateCredential).
import type { AuditRecord } from '../domain/audit.ts';
import type { AccessKey, Project, User } from '../domain/identity.ts';
import { QUOTA_RESOURCES, QUOTA_WIRE_NAMES, type ProjectQuotaLimits, type QuotaLimits, type Usage } from '../domain/quota.ts';
import type { IssuedToken, TokenInfo } from '../service/identity-service.ts';

export const keystoneTime = (epochMs: number) => new Date(epochMs).toISOString().replace(/Z$/, '000Z');

export const presentRole = (role: string) => ({ id: role, name: role });

function rolesOf(user: User) {
  return [presentRole(user.role), ...(user.systemAdmin ? [presentRole('system_admin')] : [])];
}

export function presentProject(p: Project, publicUrl: string) {
  return {
    id: p.id,
    name: p.name,
    description: '',
    domain_id: p.id,
    parent_id: p.id,
    enabled: true,
    is_domain: false,
    create_time: keystoneTime(p.createAt),
    links: { self: `${publicUrl}/v3/projects/${p.id}` },
  };
}

export function presentUser(u: User, publicUrl: string) {
  return {
    id: u.id,
    name: u.name,
    domain_id: u.domainId,
    default_project_id: u.projectId,
    enabled: true,
    // notebookd extensions
    role: u.role,
    system_admin: u.systemAdmin,
    password_set: u.passwordHash !== null,
    create_time: keystoneTime(u.createAt),
    links: { self: `${publicUrl}/v3/users/${u.id}` },
  };
}

/** The Keystone token body; `catalog` points ModelArts clients at this server. */
export function presentToken(t: TokenInfo | IssuedToken, publicUrl: string, withCatalog: boolean) {
  const { record, user, project } = t;
  return {
    token: {
      methods: 'methods' in t ? t.methods : ['password'],
      expires_at: keystoneTime(record.expiresAt),
      issued_at: keystoneTime(record.createAt),
      user: { id: user.id, name: user.name, domain: { id: user.domainId, name: user.domainName }, password_expires_at: null },
      project: { id: project.id, name: project.name, domain: { id: project.id, name: project.name } },
      roles: rolesOf(user),
      ...(withCatalog && {
        catalog: [
          { id: 'modelarts', type: 'modelarts', name: 'modelarts', endpoints: [{ id: 'modelarts-public', interface: 'public', region: 'local', region_id: 'local', url: `${publicUrl}/v1/${project.id}` }] },
          { id: 'identity', type: 'identity', name: 'iam', endpoints: [{ id: 'iam-public', interface: 'public', region: 'local', region_id: 'local', url: `${publicUrl}/v3` }] },
        ],
      }),
    },
  };
}

/** IAM's credential object; `secret` only on create. */
export function presentCredential(k: AccessKey, withSecret: boolean) {
  return {
    user_id: k.userId,
    access: k.accessKey,
    ...(withSecret && { secret: k.secretKey }),
    status: k.status,
    create_time: keystoneTime(k.createAt),
    description: k.description,
  };
}

export function presentLimits(l: QuotaLimits | ProjectQuotaLimits) {
  const out: Record<string, number | null | string[]> = {};
  for (const r of QUOTA_RESOURCES) out[QUOTA_WIRE_NAMES[r]] = l[r];
  if ('flavors' in l) out.flavors = l.flavors;
  return out;
}

export function presentUsage(u: Usage) {
  const out: Record<string, number> = {};
  for (const r of QUOTA_RESOURCES) out[QUOTA_WIRE_NAMES[r]] = r === 'vcpus' ? Math.round(u[r] * 1000) / 1000 : u[r];
  return out;
}

export function presentAudit(r: AuditRecord) {
  return {
    id: r.id,
    time: r.at,
    project_id: r.projectId,
    user: r.actorId === null && r.actorName === null ? null : { id: r.actorId, name: r.actorName },
    source_ip: r.sourceIp,
    method: r.method,
    path: r.path,
    operation: r.operation,
    target: r.target,
    status_code: r.statusCode,
    error_code: r.errorCode,
    request_id: r.requestId,
  };
}
