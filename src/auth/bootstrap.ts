// First start with an empty store: a project, a system administrator, an X-Auth-Token and an
// AK/SK pair, from the NOTEBOOKD_BOOTSTRAP_* settings or generated. Generated secrets are printed
// once and written to <data-dir>/bootstrap-credentials.json (mode 0600).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';
import { hashPassword } from './password.ts';
import { hashToken, newAccessKey, newSecretKey, newToken } from './secrets.ts';

export interface BootstrapSettings {
  projectId: string;
  token: string;
  accessKey: string;
  secretKey: string;
  adminName: string;
  adminPassword: string;
}

export interface BootstrapResult {
  projectId: string;
  userId: string;
  userName: string;
  token: string;
  accessKey: string;
  secretKey: string;
  password: string;
  /** Which of the values above were generated (and so must be shown to the operator once). */
  generated: string[];
  file: string;
}

/** The bootstrap token is the operator's key to a fresh installation; it does not expire on its own. */
const BOOTSTRAP_TOKEN_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

const newId = () => randomBytes(16).toString('hex');

export async function bootstrapIfEmpty(store: Store, clock: Clock, dataDir: string, s: BootstrapSettings): Promise<BootstrapResult | null> {
  if ((await store.identity.countProjects()) > 0) return null;
  const generated: string[] = [];
  const pick = (name: string, given: string, make: () => string) => {
    if (given) return given;
    generated.push(name);
    return make();
  };
  const now = clock.now();
  const projectId = pick('project_id', s.projectId, newId);
  const token = pick('token', s.token, newToken);
  const accessKey = pick('access_key', s.accessKey, newAccessKey);
  const secretKey = pick('secret_key', s.secretKey, newSecretKey);
  const password = pick('password', s.adminPassword, () => randomBytes(12).toString('base64url'));
  const userId = newId();

  await store.identity.insertProject({ id: projectId, name: 'default', createAt: now });
  await store.identity.insertUser({
    id: userId,
    projectId,
    name: s.adminName,
    domainId: projectId,
    domainName: 'default',
    role: 'admin',
    systemAdmin: true,
    passwordHash: await hashPassword(password),
    createAt: now,
  });
  await store.identity.insertToken({ tokenHash: hashToken(token), userId, projectId, expiresAt: now + BOOTSTRAP_TOKEN_LIFETIME_MS, revoked: false, createAt: now });
  await store.identity.insertAccessKey({ accessKey, secretKey, userId, description: 'bootstrap', status: 'active', createAt: now });

  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, 'bootstrap-credentials.json');
  const content = { project_id: projectId, user_id: userId, user_name: s.adminName, password, token, access_key: accessKey, secret_key: secretKey };
  await writeFile(file, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
  return { projectId, userId, userName: s.adminName, token, accessKey, secretKey, password, generated, file };
}
