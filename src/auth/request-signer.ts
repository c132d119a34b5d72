// Client-side SDK-HMAC-SHA256 signing for our SDK and CLI. For the requests the official Node core
// makes (JSON bodies, plain paths) it yields the same Authorization header, byte for byte; see
// test/unit/aksk-signature.test.ts.
import {
  SIGNING_ALGORITHM,
  canonicalQuery,
  canonicalRequestString,
  canonicalUri,
  computeSignature,
  formatSdkDate,
  sha256Hex,
} from './aksk-signature.ts';

export interface SignRequestInput {
  method: string;
  url: URL;
  /** Headers that will be sent unchanged; all of them are signed, as the official core does. */
  headers: Record<string, string>;
  /** Exactly the bytes that will be sent. */
  body?: string | Uint8Array;
  accessKey: string;
  secretKey: string;
  /** Epoch ms; becomes X-Sdk-Date. */
  now: number;
}

/**
 * Returns the headers to send: the given ones plus X-Sdk-Date and Authorization. Host is signed as
 * url.host (what fetch and node:http send) unless a host header is given. Unlike the core, a
 * non-JSON body is hashed rather than sent as UNSIGNED-PAYLOAD, so it stays authenticated.
 */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const sdkDate = formatSdkDate(input.now);
  const out: Record<string, string> = {};
  const signed = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers)) {
    const lower = name.toLowerCase();
    // A stale date or signature from a previous attempt must not be carried over.
    if (lower === 'authorization' || lower === 'x-sdk-date') continue;
    out[name] = value;
    // The core leaves a multipart content-type unsigned because the boundary is added later.
    if (lower === 'content-type' && value.toLowerCase().startsWith('multipart/form-data')) continue;
    signed.set(lower, value.trim());
  }
  if (!signed.has('host')) signed.set('host', input.url.host);
  signed.set('x-sdk-date', sdkDate);

  const names = [...signed.keys()].sort();
  const body = input.body ?? '';
  const canonical = canonicalRequestString({
    method: input.method.toUpperCase(),
    uri: canonicalUri(input.url.pathname),
    query: canonicalQuery(input.url.search.replace(/^\?/, '')),
    headers: names.map((n) => `${n}:${signed.get(n)}\n`).join(''),
    signedHeaders: names,
    payloadHash: signed.get('x-sdk-content-sha256') ?? sha256Hex(body),
  });
  const signature = computeSignature(input.secretKey, sdkDate, canonical);
  out['X-Sdk-Date'] = sdkDate;
  out['Authorization'] = `${SIGNING_ALGORITHM} Access=${input.accessKey}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return out;
}
