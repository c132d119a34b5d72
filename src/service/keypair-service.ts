// Key pair use cases in the KPS API shape: create (server-generated ed25519 or RSA, the private
// key returned once and never stored), import (a public key), list, show, delete; and the lookup
// the notebook service uses to refuse endpoints naming key pairs that do not exist.
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { Clock } from '../clock.ts';
import { authorizeProjectWrite, checkProject, seesWholeProject } from '../auth/authorize.ts';
import { errors } from '../domain/errors.ts';
import type { Caller } from '../domain/identity.ts';
import { KEY_PAIR_NAME_RE, type KeyPair, type KeyPairAlgorithm } from '../domain/keypair.ts';
import { expectEnum, expectObject, expectString } from '../domain/validation.ts';
import type { Store } from '../store/store.ts';

// ssh2 is CommonJS: its named exports are read off the default export.
const sshUtils = ssh2.utils;

export interface KeyPairServiceDeps {
  store: Store;
  clock: Clock;
  /** RSA modulus size for generated RSA keys. Default 3072. */
  rsaBits?: number;
}

export interface CreatedKeyPair {
  keyPair: KeyPair;
  /** Only for server-generated pairs, and only in the create response. */
  privateKey?: string;
}

const MAX_PUBLIC_KEY_CHARS = 16_384;

/** The OpenSSH public key blob of a one-line public key, or null when it is not one we accept. */
export function parsePublicKey(text: string): { algorithm: string; blob: Buffer; line: string } | null {
  const trimmed = text.trim();
  if (!trimmed || trimmed.length > MAX_PUBLIC_KEY_CHARS || /[\r\n]/.test(trimmed)) return null;
  const parsed = sshUtils.parseKey(trimmed);
  if (parsed instanceof Error) return null;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  // A private key parses too: refuse it rather than storing a secret as a "public" key.
  if (!key || key.isPrivateKey()) return null;
  const blob = key.getPublicSSH();
  const [, , ...comment] = trimmed.split(/\s+/);
  return { algorithm: key.type, blob, line: [key.type, blob.toString('base64'), ...comment].join(' ') };
}

/** "SHA256:<base64, no padding>" of the key blob, as `ssh-keygen -l` prints it. */
export const fingerprintOf = (blob: Buffer): string => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

function generateOnce(algorithm: KeyPairAlgorithm, rsaBits: number, comment: string): Promise<{ public: string; private: string }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, keys: { public: string; private: string }) => (err ? reject(err) : resolve(keys));
    if (algorithm === 'rsa') sshUtils.generateKeyPair('rsa', { bits: rsaBits, comment }, done);
    else sshUtils.generateKeyPair('ed25519', { comment }, done);
  });
}

/** ssh2 now and then emits an ed25519 key its own parser rejects (about 1 in 250): hand out only keys that parse. */
async function generate(algorithm: KeyPairAlgorithm, rsaBits: number, comment: string): Promise<{ public: string; private: string }> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const keys = await generateOnce(algorithm, rsaBits, comment);
    if (!(sshUtils.parseKey(keys.private) instanceof Error)) return keys;
  }
  throw new Error('could not generate a key pair that parses');
}

export function createKeyPairService(deps: KeyPairServiceDeps) {
  const { store, clock } = deps;
  const rsaBits = deps.rsaBits ?? 3072;

  const mayManage = (caller: Caller, k: KeyPair) =>
    caller.user.systemAdmin || k.userId === caller.user.id || (caller.user.role === 'admin' && k.projectId === caller.projectId);

  async function visible(caller: Caller, projectId: string, name: string): Promise<KeyPair> {
    checkProject(caller, projectId);
    const k = await store.keypairs.get(projectId, name);
    if (!k || (!seesWholeProject(caller) && k.userId !== caller.user.id)) throw errors.keyPairNotFound(name);
    return k;
  }

  return {
    async create(caller: Caller, projectId: string, body: unknown): Promise<CreatedKeyPair> {
      checkProject(caller, projectId);
      authorizeProjectWrite(caller, 'CreateKeypair');
      const outer = expectObject('body', body ?? {});
      if (outer.keypair === undefined) throw errors.required('keypair');
      const req = expectObject('keypair', outer.keypair);
      if (req.name === undefined) throw errors.required('keypair.name');
      const name = expectString('keypair.name', req.name);
      if (!KEY_PAIR_NAME_RE.test(name)) throw errors.incorrectValue('keypair.name', 'Key pair names are 1-64 of [A-Za-z0-9_.-].');
      if (req.type !== undefined && expectEnum('keypair.type', req.type, ['SSH', 'X509'] as const) !== 'SSH') {
        throw errors.incorrectValue('keypair.type', 'Only ssh key pairs are offered.');
      }
      const algorithm = req.key_type === undefined ? 'ed25519' : (expectEnum('keypair.key_type', req.key_type, ['ED25519', 'RSA'] as const).toLowerCase() as KeyPairAlgorithm);
      if (await store.keypairs.get(projectId, name)) throw errors.keyPairExists(name);

      let publicKey: string;
      let privateKey: string | undefined;
      let blob: Buffer;
      // An empty public_key is a client's mistake (an empty file imported), never "generate one".
      if (req.public_key === '') throw errors.incorrectValue('keypair.public_key', 'The public key is empty: give one OpenSSH public key line, or leave public_key out to generate a key pair.');
      if (req.public_key !== undefined && req.public_key !== null) {
        if (req.key_type !== undefined) throw errors.incorrectValue('keypair.key_type', 'key_type applies only to generated key pairs, not to an imported public_key.');
        const parsed = parsePublicKey(expectString('keypair.public_key', req.public_key));
        if (!parsed) throw errors.incorrectValue('keypair.public_key', 'Expected one OpenSSH public key line, e.g. "ssh-ed25519 AAAA... comment".');
        publicKey = parsed.line;
        blob = parsed.blob;
      } else {
        const keys = await generate(algorithm, rsaBits, name);
        const parsed = parsePublicKey(keys.public);
        if (!parsed) throw errors.internal('The generated key pair could not be read back.');
        publicKey = parsed.line;
        blob = parsed.blob;
        privateKey = keys.private;
      }
      const keyPair: KeyPair = {
        projectId,
        name,
        userId: caller.user.id,
        type: 'ssh',
        publicKey,
        fingerprint: fingerprintOf(blob),
        createAt: clock.now(),
      };
      if (!(await store.keypairs.insert(keyPair))) throw errors.keyPairExists(name);
      return { keyPair, ...(privateKey && { privateKey }) };
    },

    async list(caller: Caller, projectId: string): Promise<KeyPair[]> {
      checkProject(caller, projectId);
      return store.keypairs.list(projectId, seesWholeProject(caller) ? undefined : caller.user.id);
    },

    show: (caller: Caller, projectId: string, name: string): Promise<KeyPair> => visible(caller, projectId, name),

    async remove(caller: Caller, projectId: string, name: string): Promise<void> {
      const k = await visible(caller, projectId, name);
      if (!mayManage(caller, k)) throw errors.notAuthorized('DeleteKeypair');
      if (!(await store.keypairs.delete(projectId, name))) throw errors.keyPairNotFound(name);
    },

    /** The names among `names` that the project has no key pair for. */
    async missing(projectId: string, names: readonly string[]): Promise<string[]> {
      const out: string[] = [];
      for (const name of new Set(names)) if (!(await store.keypairs.get(projectId, name))) out.push(name);
      return out;
    },
  };
}

export type KeyPairService = ReturnType<typeof createKeyPairService>;
