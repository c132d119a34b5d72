// Per-client request rate limit: a token bucket per credential (X-Auth-Token, or the access key of
// an AK/SK signature), else per client address. Checked in onRequest, before the body is read or
// the credential is verified, so a flood costs one map lookup per request. Past the limit the
// answer is 429 with APIGW.0308 (what the API gateway in front of ModelArts sends) and Retry-After.
import { hash } from 'node:crypto';
import { DomainError } from '../domain/errors.ts';

export interface RateLimitSettings {
  enabled: boolean;
  /** Sustained requests per second per client. */
  perSecond: number;
  /** Requests a client may send at once after being idle (the bucket's size). */
  burst: number;
}

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export interface RateLimitRequest {
  headers: Record<string, string | string[] | undefined>;
  ip: string;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** Keeps the map bounded: buckets that have refilled completely carry no state and are dropped. */
const SWEEP_EVERY = 10_000;

/** The client a request counts against. Credentials are hashed: the map never holds a secret. */
export function clientKey(req: RateLimitRequest): string {
  const token = first(req.headers['x-auth-token']);
  if (token) return 't:' + hash('sha256', token, 'base64url').slice(0, 22);
  const auth = first(req.headers.authorization);
  const access = auth ? /Access=([^,\s]+)/.exec(auth)?.[1] : undefined;
  if (access) return 'k:' + access.slice(0, 128);
  return 'ip:' + req.ip;
}

export function createRateLimiter(settings: RateLimitSettings, now: () => number) {
  const buckets = new Map<string, Bucket>();
  const ratePerMs = settings.perSecond / 1000;
  let sinceSweep = 0;

  function sweep(at: number): void {
    for (const [key, b] of buckets) if (b.tokens + (at - b.refilledAt) * ratePerMs >= settings.burst) buckets.delete(key);
  }

  return {
    /** Takes one token for the client; throws a 429 DomainError when its bucket is empty. */
    take(req: RateLimitRequest): void {
      if (!settings.enabled) return;
      const at = now();
      if (++sinceSweep >= SWEEP_EVERY) {
        sinceSweep = 0;
        sweep(at);
      }
      const key = clientKey(req);
      let b = buckets.get(key);
      if (!b) {
        b = { tokens: settings.burst, refilledAt: at };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(settings.burst, b.tokens + Math.max(0, at - b.refilledAt) * ratePerMs);
        b.refilledAt = at;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return;
      }
      const retryAfterS = Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
      throw Object.assign(
        new DomainError('APIGW.0308', `The throttling threshold has been reached: ${settings.perSecond} requests/s per client (burst ${settings.burst}). Retry after ${retryAfterS} s.`, 429),
        { retryAfterS },
      );
    },
    /** Number of clients with state (tests). */
    size: () => buckets.size,
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
