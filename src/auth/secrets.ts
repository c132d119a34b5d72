// Random credentials and their comparison. Tokens are stored only as hashes (domain/identity.ts).
import { createHash, hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'nbd_';

/** `nbd_` + 256 random bits in base64url; the prefix makes leaked tokens easy to grep and scan for. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * sha256 hex; tokens carry full entropy, so a fast unsalted hash is enough to look them up.
 * The one-shot crypto.hash: no Hash object per call (every authenticated request hashes its token).
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// randomInt is unbiased (rejection sampling), unlike byte % alphabet.length.
const randomString = (alphabet: string, length: number) =>
  Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');

/** 20 upper-case alphanumerics, the shape of a Huawei Cloud AK (~103 bits; AKs are identifiers, not secrets). */
export function newAccessKey(): string {
  return randomString(UPPER_ALNUM, 20);
}

/** 40 mixed-case alphanumerics, the shape of a Huawei Cloud SK (~238 bits). */
export function newSecretKey(): string {
  return randomString(ALNUM, 40);
}

/** Constant-time equality that also hides the lengths, by comparing fixed-size digests. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
