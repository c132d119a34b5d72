// The proxy's short-lived signed credential: HMAC-SHA256 over the instance id, the instance
// token's generation and an expiry, keyed by a server secret kept in the data directory. It is
// what the per-instance cookie holds, so the hot path checks a MAC instead of querying the store.
// A new start gives the instance a new token, hence a new generation: old cookies stop working.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { readOrCreate } from './secret-file.ts';

export interface AccessCredential {
  instanceId: string;
  /** tokenGeneration() of the instance token it was issued for. */
  generation: string;
  expiresAt: number;
}

const VERSION = 'v1';
const MAC_CHARS = 32; // 192 bits of base64url

/** A short, non-reversible name for "this run's token": the first 64 bits of its sha256. */
export const tokenGeneration = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);

const mac = (secret: Buffer, instanceId: string, generation: string, expiresAt: number) =>
  createHmac('sha256', secret).update(`${VERSION}|${instanceId}|${generation}|${expiresAt}`).digest('base64url').slice(0, MAC_CHARS);

/** "v1.<generation>.<expiresAt base36>.<mac>": cookie-safe, no instance id (the cookie path carries it). */
export function signCredential(secret: Buffer, c: AccessCredential): string {
  return `${VERSION}.${c.generation}.${c.expiresAt.toString(36)}.${mac(secret, c.instanceId, c.generation, c.expiresAt)}`;
}

/** The credential if `value` is one we signed for `instanceId` and it has not expired at `now`. */
export function verifyCredential(secret: Buffer, instanceId: string, value: string, now: number): AccessCredential | null {
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return null;
  const [, generation, expiresRaw, given] = parts as [string, string, string, string];
  if (!/^[0-9a-f]{16}$/.test(generation) || !/^[0-9a-z]{1,11}$/.test(expiresRaw) || given.length !== MAC_CHARS) return null;
  const expiresAt = parseInt(expiresRaw, 36);
  const expected = mac(secret, instanceId, generation, expiresAt);
  if (!timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return null;
  if (expiresAt <= now) return null;
  return { instanceId, generation, expiresAt };
}

/** The server secret under the data dir (mode 0600), created on first use; replicas share it by sharing the file. */
export async function loadOrCreateSecret(dataDir: string, fileName = 'proxy-secret'): Promise<Buffer> {
  const hex = await readOrCreate(join(dataDir, fileName), () => randomBytes(32).toString('hex') + '\n', (c) => /^[0-9a-f]{64,}\s*$/.test(c));
  return Buffer.from(hex.trim(), 'hex');
}
