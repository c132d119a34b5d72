// Identity use cases: IAM-style tokens (password login, validation, revocation), AK/SK
// credentials, and the administration of projects, users and roles. Authorization rules come from
// auth/authorize.ts; secrets are generated and hashed by auth/; nothing here logs a secret.
import { randomBytes } from 'node:crypto';
import {
  authorizeProjectAdmin,
  authorizeSystemAdmin,
  authorizeUserAccount,
  canSeeUser,
  checkProject,
} from '../auth/authorize.ts';
import { hashPassword, needsRehash, verifyPassword } from '../auth/password.ts';
import { hashToken, newAccessKey, newSecretKey, newToken } from '../auth/secrets.ts';
import { createSignatureLockout, type SignatureLockout } from '../auth/signature-lockout.ts';
import type { Clock } from '../clock.ts';
import type { AuditRecord } from '../domain/audit.ts';
import { DomainError, errors } from '../domain/errors.ts';
import type { AccessKey, AuthToken, Caller, Project, Role, User } from '../domain/identity.ts';
import {
  parseRole,
  validateId,
  validateIdentityDescription,
  validatePassword,
  validateProjectName,
  validateUserName,
} from '../domain/identity-rules.ts';
import { expectArray, expectObject, expectString } from '../domain/validation.ts';
import type { Page, Store } from '../store/store.ts';

export interface IdentityServiceDeps {
  store: Store;
  clock: Clock;
  tokenLifetimeMs: number;
  maxAccessKeysPerUser: number;
  /** Password failures per user before a lock (default: 5 failures, 5 minutes, as for AK/SK). */
  loginLockout?: SignatureLockout;
}

export interface IssuedToken {
  /** The token itself: shown once (X-Subject-Token), stored only as a hash. */
  token: string;
  record: AuthToken;
  user: User;
  project: Project;
  methods: string[];
}

export interface TokenInfo {
  record: AuthToken;
  user: User;
  project: Project;
}

const newId = () => randomBytes(16).toString('hex');
const MAX_ISSUED_LIFETIME_MS = 366 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

// Compared against when the user does not exist, so a wrong name costs as long as a wrong password.
let dummyHash: Promise<string> | undefined;

const field = (obj: Record<string, unknown>, key: string, path: string): unknown => {
  const v = obj[key];
  if (v === undefined || v === null) throw errors.required(path ? `${path}.${key}` : key);
  return v;
};

function queryInteger(name: string, raw: unknown, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const s = String(raw);
  if (!/^-?\d{1,16}$/.test(s)) throw errors.wrongType(name, 'integer');
  const n = Number(s);
  if (n < min || n > max) throw errors.incorrectValue(name, `Between ${min} and ${max}.`);
  return n;
}

export function createIdentityService(deps: IdentityServiceDeps) {
  const { store, clock } = deps;
  const loginLockout = deps.loginLockout ?? createSignatureLockout({});
  let lastPruneAt = -Infinity;

  async function project(id: string): Promise<Project> {
    const p = await store.identity.getProject(id);
    if (!p) throw errors.identityNotFound('project', id);
    return p;
  }

  /** A user the caller may see, else 404 (ids are not probed across projects). */
  async function visibleUser(caller: Caller, id: string): Promise<User> {
    const u = await store.identity.getUser(id);
    if (!u || !canSeeUser(caller, u)) throw errors.identityNotFound('user', id);
    return u;
  }

  async function accountOf(caller: Caller, userId: string, operation: string): Promise<User> {
    const u = await visibleUser(caller, userId);
    authorizeUserAccount(caller, u, operation);
    return u;
  }

  /** `notAfter` caps the expiry (a token issued from another never outlives it). */
  async function issue(user: User, projectId: string, lifetimeMs: number, methods: string[], notAfter = Infinity): Promise<IssuedToken> {
    const now = clock.now();
    const token = newToken();
    const record: AuthToken = { tokenHash: hashToken(token), userId: user.id, projectId, expiresAt: Math.min(now + lifetimeMs, notAfter), revoked: false, createAt: now };
    await store.identity.insertToken(record);
    // Opportunistic cleanup, at most hourly, keeps the table to live tokens (plus a day of history).
    if (now - lastPruneAt >= PRUNE_EVERY_MS) {
      lastPruneAt = now;
      await store.identity.deleteExpiredTokens(now - 24 * 3600_000);
    }
    return { token, record, user, project: await project(projectId), methods };
  }

  /** The project a login asks for: by id or by name; none means the user's own. */
  async function scopeOf(auth: Record<string, unknown>, user: User | undefined): Promise<Project | undefined> {
    if (auth.scope === undefined || auth.scope === null) return user && store.identity.getProject(user.projectId);
    const scope = expectObject('auth.scope', auth.scope);
    if (scope.project === undefined) {
      // A domain-scoped request: a notebookd user's domain is its project.
      if (scope.domain !== undefined) return user && store.identity.getProject(user.projectId);
      throw errors.required('auth.scope.project');
    }
    const p = expectObject('auth.scope.project', scope.project);
    if (p.id !== undefined) return store.identity.getProject(expectString('auth.scope.project.id', p.id));
    if (p.name !== undefined) return store.identity.getProjectByName(expectString('auth.scope.project.name', p.name));
    throw errors.required('auth.scope.project.id');
  }

  /** Finds the user named in a password login: by id, or by name (in the scoped project when several share it). */
  async function loginUser(u: Record<string, unknown>, scopeProjectId: string | undefined): Promise<User | undefined> {
    if (u.id !== undefined) return store.identity.getUser(expectString('auth.identity.password.user.id', u.id));
    const name = expectString('auth.identity.password.user.name', field(u, 'name', 'auth.identity.password.user'));
    const candidates = await store.identity.listUsers({ name });
    const domain = u.domain === undefined || u.domain === null ? undefined : expectObject('auth.identity.password.user.domain', u.domain);
    const inDomain = candidates.filter(
      (c) => !domain || (domain.id !== undefined ? c.domainId === domain.id : domain.name === undefined || c.domainName === domain.name || c.domainId === domain.name),
    );
    if (inDomain.length === 1) return inDomain[0];
    return inDomain.find((c) => c.projectId === scopeProjectId);
  }

  async function passwordLogin(auth: Record<string, unknown>, identity: Record<string, unknown>): Promise<IssuedToken> {
    const password = expectObject('auth.identity.password', field(identity, 'password', 'auth.identity'));
    const u = expectObject('auth.identity.password.user', field(password, 'user', 'auth.identity.password'));
    const secret = expectString('auth.identity.password.user.password', field(u, 'password', 'auth.identity.password.user'));
    const requested = await scopeOf(auth, undefined);
    const user = await loginUser(u, requested?.id);
    const now = clock.now();
    if (user && loginLockout.isLocked(user.id, now)) {
      throw new DomainError('ModelArts.0201', 'Too many failed logins for this user; try again in a few minutes.', 401);
    }
    const stored = user?.passwordHash ?? (await (dummyHash ??= hashPassword(randomBytes(16).toString('hex'))));
    const ok = (await verifyPassword(secret, stored)) && user?.passwordHash != null;
    if (!user || !ok) {
      if (user) loginLockout.recordFailure(user.id, now);
      throw errors.loginFailed();
    }
    loginLockout.recordSuccess(user.id);
    if (needsRehash(user.passwordHash!)) await store.identity.updateUser({ ...user, passwordHash: await hashPassword(secret) });
    const scope = requested ?? (await scopeOf(auth, user));
    if (!scope) throw errors.loginFailed();
    if (scope.id !== user.projectId && !user.systemAdmin) {
      throw new DomainError('ModelArts.0201', `The user has no role in project ${scope.id}.`, 401);
    }
    return issue(user, scope.id, deps.tokenLifetimeMs, ['password']);
  }

  /** Re-issues a token from a valid one (Keystone's "token" method): same user, its own project or, for system admins, another. */
  async function tokenLogin(auth: Record<string, unknown>, identity: Record<string, unknown>): Promise<IssuedToken> {
    const t = expectObject('auth.identity.token', field(identity, 'token', 'auth.identity'));
    const given = expectString('auth.identity.token.id', field(t, 'id', 'auth.identity.token'));
    const record = await store.identity.getToken(hashToken(given));
    const now = clock.now();
    if (!record || record.revoked || record.expiresAt <= now) throw errors.tokenInvalid();
    const user = await store.identity.getUser(record.userId);
    if (!user) throw errors.tokenInvalid();
    const scope = (await scopeOf(auth, user)) ?? (await store.identity.getProject(record.projectId));
    if (!scope || (scope.id !== user.projectId && !user.systemAdmin)) throw errors.tokenInvalid();
    return issue(user, scope.id, deps.tokenLifetimeMs, ['token'], record.expiresAt);
  }

  async function tokenByValue(caller: Caller, subjectToken: string | undefined, operation: string): Promise<TokenInfo> {
    if (!subjectToken) throw errors.required('X-Subject-Token');
    const record = await store.identity.getToken(hashToken(subjectToken));
    const user = record && (await store.identity.getUser(record.userId));
    if (!record || !user || !canSeeUser(caller, user)) throw errors.identityNotFound('token', 'X-Subject-Token');
    authorizeUserAccount(caller, user, operation);
    return { record, user, project: await project(record.projectId) };
  }

  return {
    /** POST /v3/auth/tokens: password (or token) method, project scope. Wrong credentials are 401. */
    async login(body: unknown): Promise<IssuedToken> {
      const auth = expectObject('auth', field(expectObject('body', body ?? {}), 'auth', ''));
      const identity = expectObject('auth.identity', field(auth, 'identity', 'auth'));
      const methods = expectArray('auth.identity.methods', field(identity, 'methods', 'auth.identity')).map((m) => String(m));
      if (methods.includes('password')) return passwordLogin(auth, identity);
      if (methods.includes('token')) return tokenLogin(auth, identity);
      throw errors.incorrectValue('auth.identity.methods', 'Supported methods: password, token.');
    },

    /** GET /v3/auth/tokens: a token's details, for its owner or an administrator. Expired and revoked ones are 404. */
    async validateToken(caller: Caller, subjectToken: string | undefined): Promise<TokenInfo> {
      const info = await tokenByValue(caller, subjectToken, 'ValidateToken');
      if (info.record.revoked || info.record.expiresAt <= clock.now()) throw errors.identityNotFound('token', 'X-Subject-Token');
      return info;
    },

    /** DELETE /v3/auth/tokens: revokes one token; revoking a revoked one is a no-op. */
    async revokeToken(caller: Caller, subjectToken: string | undefined): Promise<TokenInfo> {
      const info = await tokenByValue(caller, subjectToken, 'RevokeToken');
      if (!info.record.revoked) await store.identity.revokeToken(info.record.tokenHash);
      return info;
    },

    /** A token for another user, minted by a system administrator (the admin CLI, support cases). */
    async issueTokenFor(caller: Caller, userId: string, lifetimeMs = deps.tokenLifetimeMs): Promise<IssuedToken> {
      authorizeSystemAdmin(caller, 'IssueToken');
      if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 1000 || lifetimeMs > MAX_ISSUED_LIFETIME_MS) {
        throw errors.incorrectValue('lifetime', `Between 1 s and ${MAX_ISSUED_LIFETIME_MS / 86_400_000} days.`);
      }
      const user = await visibleUser(caller, userId);
      return issue(user, user.projectId, lifetimeMs, ['token']);
    },

    /** Revokes every live token of a user. */
    async revokeUserTokens(caller: Caller, userId: string): Promise<number> {
      const user = await accountOf(caller, userId, 'RevokeUserTokens');
      return store.identity.revokeUserTokens(user.id, clock.now());
    },

    // ---- AK/SK credentials (IAM /v3.0/OS-CREDENTIAL) ------------------------------------------

    async createCredential(caller: Caller, body: unknown): Promise<{ key: AccessKey; user: User }> {
      const credential = expectObject('credential', field(expectObject('body', body ?? {}), 'credential', ''));
      const userId = credential.user_id === undefined ? caller.user.id : expectString('credential.user_id', credential.user_id);
      const description = credential.description === undefined ? '' : validateIdentityDescription(credential.description, 'credential.description');
      const user = await accountOf(caller, userId, 'CreateCredential');
      const existing = await store.identity.listAccessKeys(user.id);
      if (existing.length >= deps.maxAccessKeysPerUser) {
        throw errors.quotaExhausted(`access keys of the user (at most ${deps.maxAccessKeysPerUser})`, 'Create Credential');
      }
      const key: AccessKey = { accessKey: newAccessKey(), secretKey: newSecretKey(), userId: user.id, description, status: 'active', createAt: clock.now() };
      await store.identity.insertAccessKey(key);
      return { key, user };
    },

    async listCredentials(caller: Caller, userId: string | undefined): Promise<AccessKey[]> {
      const user = await accountOf(caller, userId ?? caller.user.id, 'ListCredentials');
      return store.identity.listAccessKeys(user.id);
    },

    async showCredential(caller: Caller, accessKey: string): Promise<AccessKey> {
      return credentialOf(caller, accessKey, 'ShowCredential');
    },

    async updateCredential(caller: Caller, accessKey: string, body: unknown): Promise<AccessKey> {
      const credential = expectObject('credential', field(expectObject('body', body ?? {}), 'credential', ''));
      const key = await credentialOf(caller, accessKey, 'UpdateCredential');
      const status = credential.status === undefined ? key.status : expectString('credential.status', credential.status).toLowerCase();
      if (status !== 'active' && status !== 'inactive') throw errors.incorrectValue('credential.status', 'Allowed values: active, inactive.');
      const description = credential.description === undefined ? key.description : validateIdentityDescription(credential.description, 'credential.description');
      const next: AccessKey = { ...key, status, description };
      await store.identity.updateAccessKey(next);
      return next;
    },

    async deleteCredential(caller: Caller, accessKey: string): Promise<AccessKey> {
      const key = await credentialOf(caller, accessKey, 'DeleteCredential');
      await store.identity.deleteAccessKey(key.accessKey);
      return key;
    },

    // ---- projects -----------------------------------------------------------------------------

    /** System administrators see every project; everyone else their own. */
    async listProjects(caller: Caller, filter: { name?: string } = {}): Promise<Project[]> {
      const all = caller.user.systemAdmin ? await store.identity.listProjects() : [await project(caller.projectId)];
      return filter.name === undefined ? all : all.filter((p) => p.name === filter.name);
    },

    async showProject(caller: Caller, id: string): Promise<Project> {
      checkProject(caller, id);
      return project(id);
    },

    async createProject(caller: Caller, body: { name: unknown; id?: unknown }): Promise<Project> {
      authorizeSystemAdmin(caller, 'CreateProject');
      const name = validateProjectName(body.name);
      const id = body.id === undefined ? newId() : validateId(body.id, 'id');
      if (await store.identity.getProjectByName(name)) throw errors.identityExists('project', name);
      if (await store.identity.getProject(id)) throw errors.identityExists('project', id);
      const p: Project = { id, name, createAt: clock.now() };
      await store.identity.insertProject(p);
      return p;
    },

    async updateProject(caller: Caller, id: string, body: { name?: unknown }): Promise<Project> {
      authorizeSystemAdmin(caller, 'UpdateProject');
      const p = await project(id);
      if (body.name === undefined) return p;
      const name = validateProjectName(body.name);
      const clash = await store.identity.getProjectByName(name);
      if (clash && clash.id !== id) throw errors.identityExists('project', name);
      const next = { ...p, name };
      await store.identity.updateProject(next);
      return next;
    },

    /** Refused while the project has instances or holds a system administrator. */
    async deleteProject(caller: Caller, id: string): Promise<Project> {
      authorizeSystemAdmin(caller, 'DeleteProject');
      const p = await project(id);
      const live = (await store.notebooks.usageRows(id)).length;
      if (live > 0) throw errors.identityInUse(`The project ${id} still has ${live} instance(s); delete them first.`);
      const users = await store.identity.listUsers({ projectId: id });
      if (users.some((u) => u.systemAdmin)) throw errors.identityInUse(`The project ${id} holds a system administrator; delete or move that user first.`);
      await store.identity.deleteProject(id);
      return p;
    },

    // ---- users and roles ----------------------------------------------------------------------

    /** System administrators list any project's users (or all); project admins their project's. */
    async listUsers(caller: Caller, filter: { projectId?: string; name?: string }): Promise<User[]> {
      const projectId = filter.projectId ?? (caller.user.systemAdmin ? undefined : caller.projectId);
      if (projectId === undefined) authorizeSystemAdmin(caller, 'ListUsers');
      else authorizeProjectAdmin(caller, projectId, 'ListUsers');
      return store.identity.listUsers({ ...(projectId !== undefined && { projectId }), ...(filter.name !== undefined && { name: filter.name }) });
    },

    async showUser(caller: Caller, id: string): Promise<User> {
      return visibleUser(caller, id);
    },

    async createUser(
      caller: Caller,
      body: { name: unknown; password?: unknown; projectId?: unknown; role?: unknown; systemAdmin?: unknown },
    ): Promise<User> {
      const projectId = body.projectId === undefined ? caller.projectId : expectString('default_project_id', body.projectId);
      authorizeProjectAdmin(caller, projectId, 'CreateUser');
      const name = validateUserName(body.name);
      const role: Role = body.role === undefined ? 'member' : parseRole(body.role);
      const systemAdmin = body.systemAdmin === undefined ? false : body.systemAdmin === true;
      if (body.systemAdmin !== undefined && typeof body.systemAdmin !== 'boolean') throw errors.wrongType('system_admin', 'boolean');
      if (systemAdmin) authorizeSystemAdmin(caller, 'CreateSystemAdministrator');
      const password = body.password === undefined || body.password === null ? null : validatePassword(body.password, name);
      const p = await project(projectId);
      if (await store.identity.getUserByName(projectId, name)) throw errors.identityExists('user', name);
      const user: User = {
        id: newId(),
        projectId,
        name,
        domainId: p.id,
        domainName: p.name,
        role,
        systemAdmin,
        passwordHash: password === null ? null : await hashPassword(password),
        createAt: clock.now(),
      };
      await store.identity.insertUser(user);
      return user;
    },

    /**
     * Renames, resets the password (tokens are revoked), changes the role (project admins) or the
     * system-administrator flag (system administrators; the last one stays).
     */
    async updateUser(caller: Caller, id: string, body: { name?: unknown; password?: unknown; role?: unknown; systemAdmin?: unknown }): Promise<User> {
      const user = await visibleUser(caller, id);
      authorizeProjectAdmin(caller, user.projectId, 'UpdateUser');
      if (user.systemAdmin && !caller.user.systemAdmin) throw errors.notAuthorized('UpdateUser');
      let next = { ...user };
      if (body.name !== undefined) {
        next.name = validateUserName(body.name);
        const clash = next.name === user.name ? undefined : await store.identity.getUserByName(user.projectId, next.name);
        if (clash) throw errors.identityExists('user', next.name);
      }
      if (body.role !== undefined) next.role = parseRole(body.role);
      if (body.systemAdmin !== undefined) {
        if (typeof body.systemAdmin !== 'boolean') throw errors.wrongType('system_admin', 'boolean');
        authorizeSystemAdmin(caller, 'UpdateSystemAdministrator');
        if (user.systemAdmin && !body.systemAdmin && (await store.identity.countSystemAdmins()) <= 1) {
          throw errors.identityInUse('The last system administrator cannot be demoted.');
        }
        next.systemAdmin = body.systemAdmin;
      }
      const password = body.password === undefined ? undefined : validatePassword(body.password, next.name);
      if (password !== undefined) next = { ...next, passwordHash: await hashPassword(password) };
      await store.identity.updateUser(next);
      if (password !== undefined) await store.identity.revokeUserTokens(user.id, clock.now());
      return next;
    },

    /** A user changes their own password, proving the old one; every token of theirs is revoked. */
    async changeOwnPassword(caller: Caller, id: string, body: { original?: unknown; password?: unknown }): Promise<void> {
      if (caller.user.id !== id) throw errors.notAuthorized('ChangePassword');
      const user = await visibleUser(caller, id);
      if (body.original === undefined) throw errors.required('user.original_password');
      if (body.password === undefined) throw errors.required('user.password');
      const original = expectString('user.original_password', body.original);
      const password = validatePassword(body.password, user.name, 'user.password');
      if (!user.passwordHash || !(await verifyPassword(original, user.passwordHash))) throw errors.loginFailed();
      await store.identity.updateUser({ ...user, passwordHash: await hashPassword(password) });
      await store.identity.revokeUserTokens(user.id, clock.now());
    },

    /** Refused for the last system administrator and while the user owns instances. */
    async deleteUser(caller: Caller, id: string): Promise<User> {
      const user = await visibleUser(caller, id);
      authorizeProjectAdmin(caller, user.projectId, 'DeleteUser');
      if (user.systemAdmin && !caller.user.systemAdmin) throw errors.notAuthorized('DeleteUser');
      if (user.systemAdmin && (await store.identity.countSystemAdmins()) <= 1) throw errors.identityInUse('The last system administrator cannot be deleted.');
      const owned = (await store.notebooks.usageRows(user.projectId)).filter((r) => r.ownerId === id).length;
      if (owned > 0) throw errors.identityInUse(`The user ${id} still owns ${owned} instance(s); delete them first.`);
      await store.identity.deleteUser(id);
      return user;
    },

    /** PUT /v3/projects/{p}/users/{u}/roles/{role}: a user has exactly one role, in its own project. */
    async assignRole(caller: Caller, projectId: string, userId: string, roleRaw: unknown): Promise<User> {
      const role = parseRole(roleRaw, 'role_id');
      authorizeProjectAdmin(caller, projectId, 'AssignRole');
      const user = await visibleUser(caller, userId);
      if (user.projectId !== projectId) {
        throw errors.incorrectValue('project_id', `A user has a role only in its own project (${user.projectId}).`);
      }
      if (user.systemAdmin && !caller.user.systemAdmin) throw errors.notAuthorized('AssignRole');
      const next = { ...user, role };
      await store.identity.updateUser(next);
      return next;
    },

    async rolesOf(caller: Caller, projectId: string, userId: string): Promise<User> {
      checkProject(caller, projectId);
      const user = await visibleUser(caller, userId);
      if (user.projectId !== projectId) throw errors.identityNotFound('user', userId);
      return user;
    },

    // ---- audit ----------------------------------------------------------------------------------

    /** The project's audit trail, newest first: project admins and system administrators. */
    async listAudit(caller: Caller, projectId: string, query: Record<string, unknown>): Promise<Page<AuditRecord> & { limit: number; offset: number }> {
      authorizeProjectAdmin(caller, projectId, 'ListAuditRecords');
      const limit = queryInteger('limit', query.limit, 100, 1, 1000);
      const offset = queryInteger('offset', query.offset, 0, 0, Number.MAX_SAFE_INTEGER);
      const since = query.since === undefined ? undefined : queryInteger('since', query.since, 0, 0, Number.MAX_SAFE_INTEGER);
      const until = query.until === undefined ? undefined : queryInteger('until', query.until, 0, 0, Number.MAX_SAFE_INTEGER);
      const operation = query.operation === undefined || query.operation === '' ? undefined : expectString('operation', query.operation);
      const actorId = query.user_id === undefined || query.user_id === '' ? undefined : expectString('user_id', query.user_id);
      const page = await store.audit.list({
        projectId,
        offset,
        limit,
        ...(operation !== undefined && { operation }),
        ...(actorId !== undefined && { actorId }),
        ...(since !== undefined && { sinceAt: since }),
        ...(until !== undefined && { untilAt: until }),
      });
      return { ...page, limit, offset };
    },
  };

  async function credentialOf(caller: Caller, accessKey: string, operation: string): Promise<AccessKey> {
    const key = await store.identity.getAccessKey(accessKey);
    const owner = key && (await store.identity.getUser(key.userId));
    if (!key || !owner || !canSeeUser(caller, owner)) throw errors.identityNotFound('credential', accessKey);
    authorizeUserAccount(caller, owner, operation);
    return key;
  }
}

export type IdentityService = ReturnType<typeof createIdentityService>;
