// TypeBox schemas of the IAM-shaped identity API (Keystone v3 bodies, IAM OS-CREDENTIAL) and of
// our quota and audit extensions. They check JSON types and feed /openapi.json; value rules live
// in domain/identity-rules.ts and the services.
import { Type } from '@sinclair/typebox';

const Str = (description?: string) => Type.String(description ? { description } : {});
const Opt = Type.Optional;

const Named = Type.Object({ id: Opt(Str()), name: Opt(Str()) });

export const TokenRequest = Type.Object({
  auth: Type.Object({
    identity: Type.Object({
      methods: Type.Array(Str(), { description: '["password"] or ["token"]' }),
      password: Opt(Type.Object({
        user: Type.Object({ id: Opt(Str()), name: Opt(Str()), password: Str(), domain: Opt(Named) }),
      })),
      token: Opt(Type.Object({ id: Str('an existing token, to re-scope or renew') })),
    }),
    scope: Opt(Type.Object({ project: Opt(Named), domain: Opt(Named) })),
  }),
});

export const TokenQuery = Type.Object({ nocatalog: Opt(Str('true leaves the catalog out')) });

export const CredentialCreateRequest = Type.Object({
  credential: Type.Object({ user_id: Opt(Str('default: the caller')), description: Opt(Str()) }),
});
export const CredentialUpdateRequest = Type.Object({
  credential: Type.Object({ status: Opt(Str('active | inactive')), description: Opt(Str()) }),
});
export const CredentialParams = Type.Object({ access_key: Str('AK') });
export const CredentialQuery = Type.Object({ user_id: Opt(Str()) });

export const ProjectIdParams = Type.Object({ project_id: Str() });
export const UserIdParams = Type.Object({ user_id: Str() });
export const RoleParams = Type.Object({ project_id: Str(), user_id: Str(), role_id: Str('admin | member | viewer') });
export const ProjectUserParams = Type.Object({ project_id: Str(), user_id: Str() });
export const NameQuery = Type.Object({ name: Opt(Str()) });
export const UserListQuery = Type.Object({ project_id: Opt(Str()), name: Opt(Str()) });

export const ProjectCreateRequest = Type.Object({
  project: Type.Object({
    name: Str('1-64 of letters, digits, _ . -'),
    id: Opt(Str('notebookd extension: choose the id (8-64 of [0-9a-z])')),
    description: Opt(Str()),
    domain_id: Opt(Str()),
    enabled: Opt(Type.Boolean()),
  }),
});
export const ProjectUpdateRequest = Type.Object({ project: Type.Object({ name: Opt(Str()), description: Opt(Str()), enabled: Opt(Type.Boolean()) }) });

export const UserCreateRequest = Type.Object({
  user: Type.Object({
    name: Str(),
    password: Opt(Str('8-128 characters; without one the user has AK/SK or admin-issued tokens only')),
    default_project_id: Opt(Str('the project the user belongs to (default: the caller\'s)')),
    role: Opt(Str('notebookd extension: admin | member (default) | viewer')),
    system_admin: Opt(Type.Boolean({ description: 'notebookd extension; system administrators only' })),
    domain_id: Opt(Str()),
    description: Opt(Str()),
    email: Opt(Str()),
    enabled: Opt(Type.Boolean()),
  }),
});
export const UserUpdateRequest = Type.Object({
  user: Type.Object({
    name: Opt(Str()),
    password: Opt(Str('an administrator\'s reset; revokes the user\'s tokens')),
    role: Opt(Str()),
    system_admin: Opt(Type.Boolean()),
    description: Opt(Str()),
    email: Opt(Str()),
    enabled: Opt(Type.Boolean()),
  }),
});
export const PasswordChangeRequest = Type.Object({
  user: Type.Object({ password: Str(), original_password: Str() }),
});
export const IssueTokenRequest = Type.Object({ lifetime_ms: Opt(Type.Integer({ minimum: 1000 })) });

const LimitValue = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);
const LimitsBody = {
  instances: Opt(LimitValue),
  running_instances: Opt(LimitValue),
  vcpus: Opt(LimitValue),
  gpus: Opt(LimitValue),
  storage_gb: Opt(LimitValue),
};
export const UserLimits = Type.Object(LimitsBody, { additionalProperties: false });
export const ProjectQuotaRequest = Type.Object({
  project: Opt(Type.Object({ ...LimitsBody, flavors: Opt(Type.Union([Type.Array(Str()), Type.Null()])) }, { additionalProperties: false })),
  user_default: Opt(UserLimits),
});

export const AuditQuery = Type.Object({
  limit: Opt(Str('1..1000, default 100')),
  offset: Opt(Str()),
  operation: Opt(Str('e.g. CreateNotebook')),
  user_id: Opt(Str('the actor')),
  since: Opt(Str('epoch ms, inclusive')),
  until: Opt(Str('epoch ms, inclusive')),
});
