// Password hashing with scrypt (memory-hard, built into node:crypto). Stored form:
// `scrypt$N$r$p$saltB64$hashB64`, so the cost can be raised later without breaking old hashes.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// N=2^15 costs ~70 ms and 32 MiB on a 2-core dev box: the "≤100 ms" budget with headroom.
const COST = { N: 32_768, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

function derive(password: string, salt: Buffer, keylen: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    // maxmem must exceed 128·N·r or Node refuses; the default (32 MiB) is exactly at that line for 2^15.
    scrypt(normalize(password), salt, keylen, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

// NFC so that the same password typed on different systems (composed vs decomposed accents) matches.
const normalize = (password: string) => password.normalize('NFC');

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a stored hash; rejects parameters outside sane bounds so a corrupt row cannot stall the process. */
function parseStored(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x!) ? Number(x) : NaN)) as [number, number, number];
  const powerOfTwo = Number.isInteger(Math.log2(N));
  if (!powerOfTwo || N < 1024 || N > 1_048_576 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  if (!B64_RE.test(parts[4]!) || !B64_RE.test(parts[5]!)) return null;
  const salt = Buffer.from(parts[4]!, 'base64');
  const key = Buffer.from(parts[5]!, 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 128) return null;
  return { params: { N, r, p }, salt, key };
}

/** True when `password` matches `stored`; false for a wrong password or a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) return false;
  try {
    const key = await derive(password, parsed.salt, parsed.key.length, parsed.params);
    return timingSafeEqual(key, parsed.key);
  } catch {
    return false;
  }
}

/** True when `stored` was made with weaker parameters than today's; callers may rehash after a login. */
export function needsRehash(stored: string): boolean {
  const parsed = parseStored(stored);
  return !parsed || parsed.params.N < COST.N || parsed.params.r < COST.r || parsed.params.p < COST.p;
}
