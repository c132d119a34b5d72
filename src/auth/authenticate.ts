// Turns a request's credentials into a Caller: an IAM-style X-Auth-Token, or an AK/SK signature
// (SDK-HMAC-SHA256) verified against the raw request. Missing or wrong credentials are 401.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { errors } from '../domain/errors.ts';
import type { Caller } from '../domain/identity.ts';
import type { Store } from '../store/store.ts';
import { parseAuthorization, verifySignature, type SignedRequest } from './aksk-signature.ts';
import type { CredentialCache } from './credential-cache.ts';
import { hashToken } from './secrets.ts';
import { createSignatureLockout, type SignatureLockout } from './signature-lockout.ts';

export interface AuthenticatorDeps {
  store: Store;
  clock: Clock;
  /** Signature failures are logged at debug with the AK and the reason, never the SK or the signature. */
  log?: Logger;
  /** Default: 5 failures lock an AK for 5 minutes. */
  lockout?: SignatureLockout;
  /** Callers by token hash for a few seconds (credential-cache.ts); none: the store on every request. */
  cache?: CredentialCache;
}

const header = (req: SignedRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export function createAuthenticator({ store, clock, log, lockout = createSignatureLockout({}), cache }: AuthenticatorDeps) {

  async function byToken(token: string): Promise<Caller> {
    const hash = hashToken(token);
    const cached = cache?.get<Caller>(`t:${hash}`);
    if (cached) return cached;
    const readAt = cache?.generation() ?? 0;
    const stored = await store.identity.getToken(hash);
    if (!stored || stored.revoked || stored.expiresAt <= clock.now()) throw errors.tokenInvalid();
    const user = await store.identity.getUser(stored.userId);
    if (!user) throw errors.tokenInvalid();
    const caller: Caller = { user, projectId: stored.projectId, method: 'token' };
    cache?.set(`t:${hash}`, caller, stored.expiresAt, readAt);
    return caller;
  }

  async function bySignature(req: SignedRequest, authorization: string): Promise<Caller> {
    const parsed = parseAuthorization(authorization);
    if (!parsed) throw errors.signatureInvalid('malformed Authorization header');
    const now = clock.now();
    if (lockout.isLocked(parsed.accessKey, now)) {
      throw errors.signatureInvalid('the access key is locked for 5 minutes after repeated signature failures');
    }
    const key = await store.identity.getAccessKey(parsed.accessKey);
    if (!key || key.status !== 'active') throw errors.signatureInvalid(`Get secretKey failed, ak: ${parsed.accessKey}, err: ak not exist`);
    try {
      verifySignature(req, key.secretKey, now);
    } catch (e) {
      lockout.recordFailure(parsed.accessKey, now);
      log?.debug({ accessKey: parsed.accessKey, method: req.method, reason: (e as Error).message, locked: lockout.isLocked(parsed.accessKey, now) }, 'AK/SK signature rejected');
      throw e;
    }
    lockout.recordSuccess(parsed.accessKey);
    const user = await store.identity.getUser(key.userId);
    if (!user) throw errors.signatureInvalid('the access key has no user');
    return { user, projectId: user.projectId, method: 'aksk' };
  }

  /** A system administrator may name any project in the path, but only one that exists. */
  async function checkPathProject(caller: Caller, projectId: string | undefined): Promise<void> {
    if (projectId === undefined || projectId === caller.projectId) return;
    if (!caller.user.systemAdmin) throw errors.projectMismatch();
    if (!(await store.identity.getProject(projectId))) throw errors.identityNotFound('project', projectId);
  }

  return async function authenticate(req: SignedRequest & { pathProjectId?: string }): Promise<Caller> {
    const authorization = header(req, 'authorization');
    let caller: Caller;
    if (authorization && /^SDK-HMAC-SHA256\s/i.test(authorization)) caller = await bySignature(req, authorization);
    else {
      const token = header(req, 'x-auth-token');
      if (!token) throw errors.noAuthHeader();
      caller = await byToken(token);
    }
    const projectHeader = header(req, 'x-project-id');
    if (projectHeader && projectHeader !== caller.projectId && !caller.user.systemAdmin) throw errors.projectMismatch();
    await checkPathProject(caller, req.pathProjectId);
    return caller;
  };
}

export type Authenticate = ReturnType<typeof createAuthenticator>;
