// Server-side verification of Huawei Cloud "SDK-HMAC-SHA256" AK/SK signatures
// (reference/modelarts-notebook-api.md §4.1–4.2). Pure apart from hashing: the caller passes `now`.
//
// The canonical request is rebuilt from the raw request as it arrived. The official SDKs disagree in
// small ways (Node signs the un-decoded path, Go/Python decode it; Go emits one header line per value),
// so after the primary form fails a few alternative forms are tried; each is still an exact HMAC.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { errors } from '../domain/errors.ts';

export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';
/** APIG rejects X-Sdk-Date more than 15 minutes away from its clock (HW api-sign-0001). */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;
export const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SignedRequest {
  method: string;
  /** Path + ?query exactly as received. */
  rawUrl: string;
  /** Lower-case names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer | string | undefined;
}

export interface ParsedAuthorization {
  accessKey: string;
  /** Lower-case header names in the order the client listed them (which is the order it signed them). */
  signedHeaders: string[];
  /** 64 lower-case hex digits. */
  signature: string;
}

const AUTHORIZATION_RE =
  /^SDK-HMAC-SHA256 +Access=([^,\s]+), *SignedHeaders=([^,\s]+), *Signature=([0-9a-fA-F]{64})$/;
const HEADER_NAME_RE = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
// Bounds the work an unauthenticated caller can ask for.
const MAX_SIGNED_HEADERS = 64;

export function parseAuthorization(header: string): ParsedAuthorization | null {
  const m = AUTHORIZATION_RE.exec(header.trim());
  if (!m) return null;
  const signedHeaders = m[2]!.split(';');
  if (signedHeaders.length > MAX_SIGNED_HEADERS || !signedHeaders.every((h) => HEADER_NAME_RE.test(h))) return null;
  return { accessKey: m[1]!, signedHeaders, signature: m[3]!.toLowerCase() };
}

// ---- encoding -------------------------------------------------------------------------------------

const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[c.charCodeAt(0)] = 1;
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => '%' + i.toString(16).toUpperCase().padStart(2, '0'));

/** The SDKs' strict percent-encoding: only A-Za-z0-9-_.~ stay literal, everything else is %XX of its UTF-8 bytes. */
export function strictEncode(input: string | Uint8Array): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let out = '';
  for (const b of bytes) out += UNRESERVED[b] ? String.fromCharCode(b) : HEX_BYTE[b]!;
  return out;
}

const hexValue = (c: number) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

/**
 * Percent-decodes to bytes (not a string, so non-UTF-8 escapes survive the round trip as Go's do).
 * A `%` not followed by two hex digits stays literal. `keep` decides which decoded bytes to leave escaped.
 */
function percentDecode(s: string, opts: { plusAsSpace?: boolean; keep?: (byte: number) => boolean } = {}): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]!);
      const lo = hexValue(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        const byte = hi * 16 + lo;
        if (!opts.keep?.(byte)) {
          out[n++] = byte;
          i += 2;
          continue;
        }
      }
    }
    out[n++] = c === 0x2b && opts.plusAsSpace ? 0x20 : c;
  }
  return out.subarray(0, n);
}

const SLASH = 0x2f;

function splitBytes(buf: Buffer, sep: number): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === sep) {
      parts.push(buf.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

const withTrailingSlash = (p: string) => (p.endsWith('/') ? p : p + '/');

// Characters legacy url.parse() escapes before the Node core signs the path (and which axios then
// sends unescaped or escapes itself).
const LEGACY_AUTO_ESCAPE = new Set(Array.from('\t\n\v\f\r "\'<>\\^`{|}', (c) => c.charCodeAt(0)));

/**
 * Canonical URI forms a client may have signed for this wire path, most likely first:
 * per-segment decode + re-encode (APIG, Python, Go); whole-path decode then split (Go and Python
 * when a segment holds %2F); and the Node core's form, which signs url.parse()'s pathname without
 * decoding it, so ASCII escapes on the wire were signed as `%25XX` while non-ASCII ones were signed once.
 */
export function canonicalUriCandidates(rawPath: string): string[] {
  const forms = [canonicalUri(rawPath)];
  if (/%2f/i.test(rawPath)) {
    forms.push(withTrailingSlash(splitBytes(percentDecode(rawPath), SLASH).map(strictEncode).join('/')));
  }
  if (rawPath.includes('%') || Array.from(rawPath).some((c) => LEGACY_AUTO_ESCAPE.has(c.charCodeAt(0)))) {
    const segments = rawPath.split('/').map((seg) => {
      const bytes = percentDecode(seg, { keep: (b) => b < 0x80 });
      let legacy = '';
      for (const b of bytes) legacy += LEGACY_AUTO_ESCAPE.has(b) ? HEX_BYTE[b]! : String.fromCharCode(b);
      // `legacy` is now ASCII plus raw high bytes written as latin1 chars; re-read it as bytes.
      return strictEncode(Buffer.from(legacy, 'latin1'));
    });
    forms.push(withTrailingSlash(segments.join('/')));
  }
  return [...new Set(forms)];
}

/** Path segments percent-decoded then strictly re-encoded, always with a trailing `/`. */
export function canonicalUri(rawPath: string): string {
  return withTrailingSlash(
    rawPath
      .split('/')
      .map((seg) => strictEncode(percentDecode(seg)))
      .join('/'),
  );
}

/**
 * Query pairs decoded, sorted by key then value (byte order, as Go does; the same as the Node and
 * Python cores for anything but astral characters), strictly re-encoded and joined with `&`.
 * `plusAsSpace` follows form encoding (Go's url.Query()); the Node core never sends a raw `+`.
 */
export function canonicalQuery(rawQuery: string, plusAsSpace = true): string {
  const pairs: [Buffer, Buffer][] = [];
  for (const piece of rawQuery.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const key = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([percentDecode(key, { plusAsSpace }), percentDecode(value, { plusAsSpace })]);
  }
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]) || Buffer.compare(a[1], b[1]));
  return pairs.map(([k, v]) => `${strictEncode(k)}=${strictEncode(v)}`).join('&');
}

// ---- date -----------------------------------------------------------------------------------------

const SDK_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** `YYYYMMDDTHHmmssZ` (UTC) → epoch ms, or null when malformed or not a real date. */
export function parseSdkDate(value: string): number | null {
  const m = SDK_DATE_RE.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return formatSdkDate(ms) === value ? ms : null;
}

export function formatSdkDate(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

// ---- signing primitives (shared with request-signer.ts) -------------------------------------------

export const sha256Hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

export interface CanonicalParts {
  method: string;
  uri: string;
  query: string;
  /** `name:value\n` lines, already ending with `\n`. */
  headers: string;
  signedHeaders: string[];
  payloadHash: string;
}

export const canonicalRequestString = (p: CanonicalParts) =>
  [p.method, p.uri, p.query, p.headers, p.signedHeaders.join(';'), p.payloadHash].join('\n');

/** hex(HMAC-SHA256(SK, "SDK-HMAC-SHA256\n" + date + "\n" + hex(sha256(canonical)))). No key derivation. */
export function computeSignature(secretKey: string, sdkDate: string, canonicalRequest: string): string {
  const stringToSign = `${SIGNING_ALGORITHM}\n${sdkDate}\n${sha256Hex(canonicalRequest)}`;
  return createHmac('sha256', secretKey).update(stringToSign).digest('hex');
}

// ---- verification ---------------------------------------------------------------------------------

function singleHeader(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function headerValues(headers: SignedRequest['headers'], name: string): string[] {
  const v = headers[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** `name:trim(value)` per signed header, with repeated headers joined as Node joins them. */
function joinedHeaderLines(headers: SignedRequest['headers'], names: string[]): string {
  return names.map((n) => `${n}:${headerValues(headers, n).join(', ').trim()}\n`).join('');
}

/**
 * Go's form: one `name:value` line per value, sorted, none when absent. Node joins repeated header
 * lines with ", " for most names, so a joined value is split back.
 */
function perValueHeaderLines(headers: SignedRequest['headers'], names: string[]): string {
  return names
    .flatMap((n) =>
      headerValues(headers, n)
        .flatMap((v) => v.split(', '))
        .sort()
        .map((v) => `${n}:${v.trim()}\n`),
    )
    .join('');
}

function hasRepeatedValues(headers: SignedRequest['headers'], names: string[]): boolean {
  return names.some((n) => {
    const v = headers[n];
    return Array.isArray(v) ? v.length > 1 || v.some((x) => x.includes(', ')) : v?.includes(', ') === true;
  });
}

function splitRawUrl(rawUrl: string): { path: string; query: string } {
  let url = rawUrl;
  // Absolute-form request targets (from proxies) carry scheme and authority; only the path is signed.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  if (abs) url = url.slice(abs[0].length) || '/';
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function payloadHash(req: SignedRequest, signedHeaders: string[]): string {
  const body = req.rawBody ?? '';
  const bodyHash = body.length === 0 ? EMPTY_PAYLOAD_SHA256 : sha256Hex(body);
  // Honoured only when signed: otherwise anyone could swap the body and add the original hash.
  const declared = signedHeaders.includes('x-sdk-content-sha256')
    ? singleHeader(req.headers, 'x-sdk-content-sha256')?.trim()
    : undefined;
  if (!declared) return bodyHash;
  // A declared digest must describe the body we got; UNSIGNED-PAYLOAD (the Node core's choice for
  // non-JSON bodies) leaves the body unauthenticated, as on the real gateway.
  if (/^[0-9a-f]{64}$/i.test(declared) && declared.toLowerCase() !== bodyHash) {
    throw errors.signatureInvalid('verify aksk signature fail: X-Sdk-Content-Sha256 does not match the request body');
  }
  return declared;
}

/** Every canonical request a supported SDK could have produced for this request, most likely first. */
function* canonicalRequestCandidates(req: SignedRequest, signedHeaders: string[]): Generator<string> {
  const { path, query } = splitRawUrl(req.rawUrl);
  const method = req.method.toUpperCase();
  const hash = payloadHash(req, signedHeaders);
  const uris = canonicalUriCandidates(path);
  const queries = [canonicalQuery(query)];
  if (query.includes('+')) queries.push(canonicalQuery(query, false));
  const headerForms = [joinedHeaderLines(req.headers, signedHeaders)];
  if (hasRepeatedValues(req.headers, signedHeaders) || signedHeaders.some((n) => req.headers[n] === undefined)) {
    headerForms.push(perValueHeaderLines(req.headers, signedHeaders));
  }
  const seen = new Set<string>();
  for (const headers of headerForms) {
    for (const q of queries) {
      for (const uri of uris) {
        const c = canonicalRequestString({ method, uri, query: q, headers, signedHeaders, payloadHash: hash });
        if (!seen.has(c)) {
          seen.add(c);
          yield c;
        }
      }
    }
  }
}

/** The canonical request in its primary form, for debug logging on the server side. */
export function canonicalRequest(req: SignedRequest, signedHeaders: string[]): string {
  return canonicalRequestCandidates(req, signedHeaders).next().value as string;
}

/**
 * Throws errors.signatureInvalid (APIGW.0301, 401) unless `req` carries a valid SDK-HMAC-SHA256
 * signature by `secretKey` dated within 15 minutes of `now` (epoch ms). The caller has already
 * looked the SK up from parseAuthorization(...).accessKey.
 */
export function verifySignature(req: SignedRequest, secretKey: string, now: number): void {
  const header = singleHeader(req.headers, 'authorization');
  if (!header) throw errors.signatureInvalid('Authorization header is missing');
  const auth = parseAuthorization(header);
  if (!auth) {
    throw errors.signatureInvalid(
      'malformed Authorization header, expected "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>"',
    );
  }
  if (!auth.signedHeaders.includes('x-sdk-date')) {
    throw errors.signatureInvalid('x-sdk-date must be listed in SignedHeaders');
  }
  const date = singleHeader(req.headers, 'x-sdk-date')?.trim();
  if (!date) throw errors.signatureInvalid('X-Sdk-Date header is missing');
  const signedAt = parseSdkDate(date);
  if (signedAt === null) throw errors.signatureInvalid(`X-Sdk-Date '${date}' is not in the form YYYYMMDDTHHmmssZ`);
  if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw errors.signatureInvalid(
      `X-Sdk-Date ${date} is more than 15 minutes away from the server time ${formatSdkDate(now)}; check the client clock`,
    );
  }

  const given = Buffer.from(auth.signature, 'hex');
  for (const canonical of canonicalRequestCandidates(req, auth.signedHeaders)) {
    const expected = Buffer.from(computeSignature(secretKey, date, canonical), 'hex');
    if (timingSafeEqual(expected, given)) return;
  }
  throw errors.signatureInvalid('verify aksk signature fail');
}
