// What pino must never print: credentials in request headers and secrets in logged objects.
// Request logging is off, but errors and debug lines may carry a request or a body; these paths
// are censored wherever they appear at the first two levels.

const SECRET_HEADERS = ['authorization', 'x-auth-token', 'x-subject-token', 'x-security-token', 'cookie', 'set-cookie'];
const SECRET_KEYS = ['password', 'original_password', 'secret', 'secretKey', 'secret_key', 'token', 'passwordHash', 'adminPassword'];

export const SECRET_LOG_PATHS: readonly string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `request.headers["${h}"]`, `headers["${h}"]`, `res.headers["${h}"]`]),
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
  // A Keystone login body, should one ever be logged whole.
  'auth.identity.password.user.password',
  '*.auth.identity.password.user.password',
];

/** pino's `redact` option. */
export const LOG_REDACTION: { paths: string[]; censor: string } = { paths: [...SECRET_LOG_PATHS], censor: '[redacted]' };
