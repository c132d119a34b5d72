// Hostile input, property-based (fast-check), over every endpoint the server publishes in
// /openapi.json (so routes added later are covered without touching this file).
//
// The rules, stated precisely:
//   - A write (POST/PUT/PATCH/DELETE) with hostile input answers 4xx in the error format
//     {error_code: "ModelArts.xxxx" | "APIGW.xxxx", error_msg} and changes nothing in the store
//     (every table but the audit log is compared before and after each request).
//   - A read (GET) with hostile path or query values answers 2xx or 4xx, never 5xx, with JSON,
//     and changes nothing.
//   - Nothing hangs: every request is answered within REQUEST_TIMEOUT_MS.
// "Hostile" here is always invalid: malformed JSON, JSON of the wrong type (top level or per
// field, from the route's own schema), bodies over limits.bodyBytes, deeply nested JSON, ids and
// names with path traversal, unicode, NUL and control characters, script and SQL fragments,
// absurd numbers, and per-endpoint values that the ModelArts rules refuse.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import fc from 'fast-check';
import { AK, createBody, PROJECT, startTestService, TOKEN, waitForNotebook, type TestService } from '../support/service.ts';

const REQUEST_TIMEOUT_MS = 10_000;
const BODY_LIMIT = 64 * 1024;
const RUNS = Number(process.env.HOSTILE_RUNS ?? 150);
const NB = `/v1/${PROJECT}/notebooks`;
/** Logs of requests, not state: they legitimately grow with every call. */
const LOG_TABLES = new Set(['audit_log']);

// ---- Generators ----

const nastyStrings = [
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '....//....//etc/passwd',
  '/etc/shadow',
  'C:\\Windows\\System32\\cmd.exe',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'; DROP TABLE notebooks; --",
  "' OR '1'='1",
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  '$(reboot)',
  '`id`',
  'a\u0000b',
  '\r\nX-Injected: 1',
  '\u202egnp.exe',
  '\uFEFFname',
  '\uD800',
  '😀'.repeat(40),
  'Ａｄｍｉｎ',
  'ﷺ'.repeat(20),
  ' ',
  '',
  'x'.repeat(5_000),
];

/** A string that no identifier, name or enum of the API accepts. */
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...nastyStrings) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((s) => s + '/../\u0000') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map((s) => `<${s}>/..`) },
);

/** Numbers outside every range of the API (durations, sizes, limits), or not integers. */
const absurdNumber = fc.oneof(
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -(2 ** 63), 1e21, 1e12, -1e12, 0.5, 4096.5, -2, Number.MIN_VALUE),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => Math.abs(x) >= 1e12 || (!Number.isInteger(x) && x !== 0)),
);

/** Query-string numbers that are not acceptable integers in any range. */
const absurdQueryNumber = fc.oneof(
  fc.constantFrom('1e9', 'NaN', 'Infinity', '0x10', '-5', '3.5', '99999999999999999999', '１２', '1 0', '', '--1', '+-1'),
  hostileString,
);

type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'null';

const valuesByType: Record<JsonType, fc.Arbitrary<unknown>> = {
  string: hostileString,
  integer: fc.integer(),
  number: fc.constantFrom(1.5, -0.25, 1e300),
  boolean: fc.boolean(),
  array: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  object: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  null: fc.constant(null),
};

/** The JSON types a schema (OpenAPI 3.0 as @fastify/swagger writes it) accepts; null = anything. */
function allowedTypes(schema: any, doc: any): Set<JsonType> | null {
  if (!schema) return null;
  if (schema.$ref) return allowedTypes(resolveRef(schema.$ref, doc), doc);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const all = new Set<JsonType>();
    for (const alt of alternatives) {
      const t = allowedTypes(alt, doc);
      if (t === null) return null;
      for (const x of t) all.add(x);
    }
    if (schema.nullable) all.add('null');
    return all;
  }
  if (schema.type === undefined) return null;
  const types = new Set<JsonType>((Array.isArray(schema.type) ? schema.type : [schema.type]) as JsonType[]);
  if (types.has('number')) types.add('integer');
  if (schema.nullable) types.add('null');
  return types;
}

function resolveRef(ref: string, doc: any): any {
  return ref.replace(/^#\//, '').split('/').reduce((o: any, k: string) => o?.[k], doc);
}

/** A value of a JSON type the schema refuses (undefined when it accepts every type). */
function wrongTypeValue(schema: any, doc: any): fc.Arbitrary<unknown> | undefined {
  const allowed = allowedTypes(schema, doc);
  if (allowed === null) return undefined;
  const wrong = (Object.keys(valuesByType) as JsonType[]).filter((t) => !allowed.has(t) && !(t === 'integer' && allowed.has('number')));
  if (wrong.length === 0) return undefined;
  return fc.oneof(...wrong.map((t) => valuesByType[t]));
}

function objectSchema(schema: any, doc: any): any | undefined {
  if (!schema) return undefined;
  if (schema.$ref) return objectSchema(resolveRef(schema.$ref, doc), doc);
  if (schema.type === 'object' && schema.properties) return schema;
  for (const alt of schema.anyOf ?? schema.oneOf ?? []) {
    const found = objectSchema(alt, doc);
    if (found) return found;
  }
  return undefined;
}

/** Bodies that are not JSON at all. */
const malformedJson = fc.oneof(
  fc.constantFrom('{', '{"a":}', '{"name": "x",}', "{'name': 'x'}", '[1,2', 'NaN', 'undefined', '{"a":1}{"b":2}', '\uFEFF{"a":1', '{"a":"\\x41"}', 'nul', '{"a" 1}', '0x10', '{"a":01}'),
  fc.string({ minLength: 1, maxLength: 200 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ v }).slice(0, -1)), // truncated
);

/** Nesting deep enough to overflow naive recursive parsers or validators, within the size limit. */
const nestingDepth = fc.integer({ min: 1_000, max: 25_000 });
const nestedArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const nestedObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** Percent-encodes anything, lone surrogates included (as U+FFFD: URLs carry UTF-8 only). */
const encodePart = (s: string) => encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));

// ---- The service under attack ----

interface Route {
  method: string;
  path: string;
  params: string[];
  bodySchema: any | undefined;
  query: string[];
}

interface Outcome {
  status: number;
  text: string;
  json: any;
  contentType: string;
}

describe('hostile input never gets a 5xx, a hang or a state change', () => {
  let svc: TestService;
  let doc: any;
  let routes: Route[];
  let db: SQLite.Database;
  const real: Record<string, string[]> = {};
  let running: string;
  let stopped: string;

  before(async () => {
    svc = await startTestService({
      overrides: { limits: { bodyBytes: BODY_LIMIT, rateLimit: { enabled: false, perSecond: 1, burst: 1 } } },
    });
    const a = await svc.api.post(NB, createBody({ name: 'target-running' }));
    const b = await svc.api.post(NB, createBody({ name: 'target-stopped' }));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    running = a.body.id;
    stopped = b.body.id;
    await waitForNotebook(svc.api, running, (nb) => nb.status === 'RUNNING');
    await waitForNotebook(svc.api, stopped, (nb) => nb.status === 'RUNNING');
    assert.equal((await svc.api.post(`${NB}/${stopped}/stop`)).status, 200);
    await waitForNotebook(svc.api, stopped, (nb) => nb.status === 'STOPPED');
    assert.equal((await svc.api.post(`${NB}/${running}/tags/create`, { tags: [{ key: 'team', value: 'ml' }] })).status, 200);
    const kp = await svc.api.post(`/v3/${PROJECT}/keypairs`, { keypair: { name: 'kp1' } });
    const users = await svc.api.get('/v3/users');
    const images = await svc.api.get(`/v1/${PROJECT}/images?limit=1`);

    real.project_id = [PROJECT];
    real.id = [running, stopped];
    real.resource_id = [running, stopped];
    if (kp.status === 200) real.keypair_name = ['kp1'];
    real.access_key = [AK];
    if (users.status === 200) real.user_id = (users.body.users ?? []).map((u: any) => u.id).filter(Boolean);
    if (images.status === 200) real.image_id = (images.body.data ?? []).map((i: any) => i.id);

    doc = (await svc.api.get('/openapi.json')).body;
    routes = [];
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        routes.push({
          method: method.toUpperCase(),
          path,
          params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
          bodySchema: op.requestBody?.content?.['application/json']?.schema,
          query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name),
        });
      }
    }
    assert.ok(routes.length >= 20, `the OpenAPI document lists the routes (${routes.length})`);
    // A separate read-only connection: the snapshot sees committed state only.
    db = new SQLite(join(svc.dataDir, 'notebookd.db'), { readonly: true, fileMustExist: true });
  });

  after(async () => {
    db?.close();
    await svc?.close();
  });

  function snapshot(): string {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%' ORDER BY name").all() as { name: string }[])
      .map((t) => t.name)
      .filter((t) => !LOG_TABLES.has(t));
    return JSON.stringify(tables.map((t) => [t, (db.prepare(`SELECT * FROM "${t}"`).all() as unknown[]).map((r) => JSON.stringify(r)).sort()]));
  }

  function diff(before: string, after: string): string {
    const b = new Map<string, string[]>(JSON.parse(before));
    const a = new Map<string, string[]>(JSON.parse(after));
    const out: string[] = [];
    for (const [t, rows] of a) {
      const old = new Set(b.get(t) ?? []);
      const now = new Set(rows);
      for (const r of rows) if (!old.has(r)) out.push(`+ ${t}: ${r.slice(0, 300)}`);
      for (const r of old) if (!now.has(r)) out.push(`- ${t}: ${r.slice(0, 300)}`);
    }
    return out.join('\n');
  }

  async function send(method: string, path: string, body?: string, contentType = 'application/json'): Promise<Outcome> {
    const headers: Record<string, string> = { 'X-Auth-Token': TOKEN };
    if (body !== undefined) headers['content-type'] = contentType;
    let res: Response;
    try {
      res = await fetch(svc.url + path, { method, headers, ...(body !== undefined && { body }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      throw new Error(`${method} ${path.slice(0, 200)}: no answer (${(e as Error).message})`);
    }
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, contentType: res.headers.get('content-type') ?? '' };
  }

  /** Sends one hostile request and checks the rules; writes are compared against a store snapshot. */
  async function attack(method: string, path: string, body?: string, contentType?: string): Promise<Outcome> {
    const write = method !== 'GET';
    const before = write ? snapshot() : '';
    const res = await send(method, path, body, contentType);
    const what = `${method} ${path.slice(0, 160)} ${body === undefined ? '' : `body ${body.length} B: ${body.slice(0, 160)}`}`;
    assert.ok(res.status < 500, `${what} → ${res.status} ${res.text.slice(0, 300)}`);
    assert.ok(res.json !== undefined || res.status === 204, `${what} → ${res.status} with a JSON body, got ${JSON.stringify(res.text.slice(0, 200))}`);
    if (write) assert.ok(res.status >= 400, `${what} → refused, got ${res.status} ${res.text.slice(0, 300)}`);
    if (res.status >= 400) {
      // ModelArts.xxxx, or the code of the API family a route follows (APIGW.xxxx at the gateway level, KPS.xxxx for key pairs).
      assert.match(String(res.json.error_code), /^(ModelArts|APIGW|KPS|IAM)\.\d{4}$/, `${what} → error format: ${res.text.slice(0, 300)}`);
      assert.equal(typeof res.json.error_msg, 'string', `${what} → error_msg`);
    }
    if (write) {
      const after = snapshot();
      if (after !== before) assert.fail(`${what} → ${res.status}, but the store changed:\n${diff(before, after)}`);
    }
    return res;
  }

  /** A path for a route with each parameter real or hostile; `hostileOne` forces one hostile. */
  function pathArb(route: Route, hostileOne: boolean): fc.Arbitrary<string> {
    if (route.params.length === 0) return fc.constant(route.path);
    const perParam = route.params.map((name) => {
      const reals = real[name] ?? [];
      const hostile = hostileString.map((s) => ({ hostile: true, value: encodePart(s) }));
      return reals.length ? fc.oneof(hostile, fc.constantFrom(...reals).map((value) => ({ hostile: false, value }))) : hostile;
    });
    return fc
      .tuple(...perParam, fc.nat({ max: route.params.length - 1 }), hostileString)
      .map((parts) => {
        const values = parts.slice(0, route.params.length) as { hostile: boolean; value: string }[];
        const forced = parts[route.params.length] as number;
        if (hostileOne && !values.some((v) => v.hostile)) values[forced] = { hostile: true, value: encodePart(parts[route.params.length + 1] as string) };
        let path = route.path;
        route.params.forEach((name, i) => (path = path.replace(`{${name}}`, values[i]!.value)));
        return path;
      });
  }

  const writes = () => routes.filter((r) => r.method !== 'GET');

  it('malformed JSON to every write endpoint', async () => {
    for (const route of writes()) {
      await fc.assert(
        fc.asyncProperty(pathArb(route, false), malformedJson, async (path, body) => {
          const res = await attack(route.method, path, body);
          assert.ok(res.status === 400 || res.status === 404 || res.status === 403 || res.status === 401, `${route.method} ${route.path}: ${res.status}`);
        }),
        { numRuns: Math.ceil(RUNS / 5) },
      );
    }
  });

  it('JSON of the wrong type, top level and per field, from each route\'s schema', async () => {
    for (const route of writes().filter((r) => r.bodySchema)) {
      const topWrong = wrongTypeValue(route.bodySchema, doc);
      const obj = objectSchema(route.bodySchema, doc);
      const fieldArbs = Object.entries<any>(obj?.properties ?? {}).flatMap(([name, schema]) => {
        const wrong = wrongTypeValue(schema, doc);
        return wrong ? [wrong.map((v) => ({ [name]: v }))] : [];
      });
      const bodies = [...(topWrong ? [topWrong] : []), ...fieldArbs];
      if (bodies.length === 0) continue;
      await fc.assert(
        fc.asyncProperty(pathArb(route, false), fc.oneof(...bodies), async (path, body) => {
          await attack(route.method, path, JSON.stringify(body));
        }),
        { numRuns: Math.ceil(RUNS / 4) },
      );
    }
  });

  it('hostile ids, names and paths in every route\'s path parameters', async () => {
    for (const route of routes.filter((r) => r.params.length > 0)) {
      await fc.assert(
        fc.asyncProperty(pathArb(route, true), async (path) => {
          await attack(route.method, path, route.bodySchema ? '{}' : undefined);
        }),
        { numRuns: Math.ceil(RUNS / 5) },
      );
    }
    // Raw traversal (not encoded) and overlong ids.
    for (const path of [`${NB}/../../../etc/passwd`, `${NB}/${'a'.repeat(300)}`, `${NB}/%00`, `${NB}/..%2f..%2f`, `/v1/${PROJECT}/../../v3/projects`, `${NB}/${running}/..%2f..%2fstop`]) {
      await attack('GET', path);
      await attack('DELETE', path);
    }
  });

  it('hostile query values on every endpoint', async () => {
    for (const route of routes.filter((r) => r.query.length > 0)) {
      await fc.assert(
        fc.asyncProperty(pathArb(route, route.method !== 'GET'), fc.subarray(route.query, { minLength: 1 }), fc.array(absurdQueryNumber, { minLength: 1, maxLength: route.query.length }), async (path, names, values) => {
          const qs = names.map((n, i) => `${encodeURIComponent(n)}=${encodePart(String(values[i % values.length]))}`).join('&');
          await attack(route.method, `${path}?${qs}`, route.bodySchema ? '{}' : undefined);
        }),
        { numRuns: Math.ceil(RUNS / 5) },
      );
    }
  });

  it('bodies over limits.bodyBytes are refused with 413, deeply nested ones with 400', async () => {
    for (const route of writes()) {
      const path = route.path.replace(/\{([^}]+)\}/g, (_m, name: string) => real[name]?.[0] ?? 'x');
      const huge = JSON.stringify({ name: 'x'.repeat(BODY_LIMIT + 1) });
      const res = await attack(route.method, path, huge);
      assert.equal(res.status, 413, `${route.method} ${route.path}: ${res.text.slice(0, 200)}`);
    }
    // Past the limit without a Content-Length (chunked): cut off while streaming.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new TextEncoder().encode('['.repeat(1024)));
        c.close();
      },
    });
    const res = await fetch(svc.url + NB, { method: 'POST', headers: { 'X-Auth-Token': TOKEN, 'content-type': 'application/json' }, body: stream, duplex: 'half', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error_code, 'ModelArts.6400');

    // Nested junk where the route's schema expects something else: the whole body, or one of its
    // declared fields (an undeclared field is ignored, and a route without a body schema ignores
    // any body that parses: DELETE /v3/auth/tokens would revoke the caller's token).
    for (const route of writes().filter((r) => r.bodySchema)) {
      const top = allowedTypes(route.bodySchema, doc);
      const fields = Object.entries<any>(objectSchema(route.bodySchema, doc)?.properties ?? {});
      const bodies: fc.Arbitrary<string>[] = [];
      if (top && !top.has('array')) bodies.push(nestingDepth.map(nestedArray));
      for (const [name, schema] of fields) {
        const t = allowedTypes(schema, doc);
        if (t && !t.has('array')) bodies.push(nestingDepth.map((n) => `{"${name}":${nestedArray(Math.min(n, 20_000))}}`));
        if (t && !t.has('object')) bodies.push(nestingDepth.map((n) => `{"${name}":${nestedObject(Math.min(n, 6_000))}}`));
      }
      if (bodies.length === 0) continue;
      await fc.assert(
        fc.asyncProperty(pathArb(route, false), fc.oneof(...bodies), async (path, body) => {
          await attack(route.method, path, body);
        }),
        { numRuns: 4 },
      );
    }
  });

  it('wrong content types and encodings', async () => {
    for (const [ct, body] of [
      ['text/plain', '{"name":"x"}'],
      ['application/x-www-form-urlencoded', 'name=x'],
      ['multipart/form-data; boundary=x', '--x\r\n\r\nname\r\n--x--'],
      ['application/xml', '<a/>'],
    ] as const) {
      await attack('POST', NB, body, ct);
      await attack('PUT', `${NB}/${stopped}`, body, ct);
      await attack('PATCH', `${NB}/${running}/lease`, body, ct);
    }
    await attack('POST', NB, Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]).toString('latin1'));
    // A request line over Node's header size limit is refused by the HTTP parser, in our format too.
    const overlong = await attack('GET', `${NB}?name=${'x'.repeat(20_000)}`);
    assert.equal(overlong.status, 431);
    const overlongWrite = await attack('PUT', `${NB}/${stopped}?x=${'y'.repeat(20_000)}`, JSON.stringify({ name: 'renamed' }));
    assert.equal(overlongWrite.status, 431);
  });

  // Right JSON types, values the ModelArts rules refuse.
  const createField: [string, fc.Arbitrary<unknown>][] = [
    ['name', hostileString],
    ['description', hostileString.map((s) => `${s}<${'&'.repeat(600)}`)],
    ['flavor', hostileString],
    ['image_id', hostileString],
    ['feature', hostileString],
    ['workspace_id', hostileString],
    ['pool_id', hostileString.filter((v) => v !== '')], // '' means none, as in the reference
    ['duration', absurdNumber],
    ['volume', fc.record({ category: fc.constantFrom('EVS', 'evs'), capacity: absurdNumber })],
    ['volume', fc.record({ category: hostileString, capacity: fc.constant(5) })],
    ['lease', fc.record({ duration: absurdNumber, type: fc.constant('TIMING') })],
    ['lease', fc.record({ duration: fc.constant(7_200_000), type: hostileString.filter((t) => t !== '') })], // '' means the default
    ['hooks', fc.record({ container_hooks: fc.record({ pre_start: fc.record({ script: fc.constantFrom('/home/ma-user/work/../../../etc/shadow', 'relative/path.sh', '/a/\u0000/b', '../x.sh'), type: fc.constant('SCRIPT') }) }) })],
    ['hooks', fc.record({ container_hooks: fc.record({ post_start: fc.record({ script: hostileString.map((s) => s + '!'), type: fc.constant('COMMAND') }) }) })],
    ['endpoints', fc.array(fc.record({ service: fc.constant('SSH'), key_pair_names: fc.array(hostileString, { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 2 })],
    ['endpoints', fc.array(fc.record({ service: fc.constant('NOTEBOOK'), allowed_access_ips: fc.array(hostileString, { minLength: 1, maxLength: 7 }) }), { minLength: 1, maxLength: 2 })],
    ['endpoints', fc.array(fc.record({ service: hostileString }), { minLength: 1, maxLength: 2 })],
  ];

  it('CreateNotebook and UpdateNotebook refuse hostile values field by field', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(...createField.map(([k, v]) => v.map((value) => ({ [k]: value })))), async (field) => {
        const res = await attack('POST', NB, JSON.stringify(createBody(field)));
        assert.equal(res.status, 400, res.text);
      }),
      { numRuns: RUNS },
    );
    const updateField: [string, fc.Arbitrary<unknown>][] = [
      ...createField.filter(([k]) => ['name', 'description', 'flavor', 'image_id', 'hooks', 'endpoints'].includes(k)),
      ['storage_new_size', fc.oneof(absurdNumber, fc.constantFrom(0, 1, 5, -5))],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(running, stopped), fc.oneof(...updateField.map(([k, v]) => v.map((value) => ({ [k]: value })))), async (id, field) => {
        await attack('PUT', `${NB}/${id}`, JSON.stringify(field));
      }),
      { numRuns: RUNS },
    );
  });

  it('RenewLease, StartNotebook, tags, images and key pairs refuse hostile values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ duration: absurdNumber }),
          // An empty type means "not given" (TIMING), as in the query string: not hostile.
          fc.record({ duration: fc.constant(7_200_000), type: hostileString.filter((t) => t !== '') }),
          fc.record({ duration: fc.constant(-1) }), // disabling is for create/start only
        ),
        async (body) => {
          await attack('PATCH', `${NB}/${running}/lease`, JSON.stringify(body));
        },
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    await fc.assert(
      // An empty query value means "not given".
      fc.asyncProperty(absurdQueryNumber.filter((d) => d !== ''), hostileString.filter((t) => t !== ''), async (duration, type) => {
        await attack('PATCH', `${NB}/${running}/lease?duration=${encodePart(duration)}`);
        await attack('POST', `${NB}/${stopped}/start?duration=${encodePart(duration)}`);
        await attack('POST', `${NB}/${stopped}/start?type=${encodePart(type)}`);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    const badTag = fc.oneof(
      fc.record({ key: hostileString.map((s) => `${s}=,|`), value: fc.constant('v') }),
      fc.record({ key: fc.constant('_sys_owner'), value: fc.constant('v') }),
      fc.record({ key: fc.constant('k'), value: fc.constant('v'.repeat(256)) }),
      fc.record({ key: fc.constant('x'.repeat(129)) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(badTag, { minLength: 1, maxLength: 5 }), fc.constantFrom('create', 'delete'), async (tags, op) => {
        await attack(op === 'create' ? 'POST' : 'DELETE', `${NB}/${running}/tags/${op}`, JSON.stringify({ tags }));
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    const tooMany = Array.from({ length: 21 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    await attack('POST', `${NB}/${running}/tags/create`, JSON.stringify({ tags: tooMany }));

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ swr_path: hostileString }),
          fc.record({ swr_path: fc.constantFrom('ns/x/../../etc:latest', 'ns/../etc:latest', '../ns/img:1', 'ns/img:../../x', 'ns//img:1', 'ns/img/..:1') }),
          fc.record({ swr_path: fc.constant('team/python:3.11'), program: hostileString }),
          fc.record({ swr_path: fc.constant('team/python:3.11'), arch: hostileString }),
        ),
        async (body) => {
          await attack('POST', `/v1/${PROJECT}/images`, JSON.stringify(body));
        },
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ keypair: fc.record({ name: hostileString }) }),
          fc.record({ keypair: fc.record({ name: fc.constant('kp-ok'), public_key: hostileString }) }),
          fc.record({ keypair: fc.record({ name: fc.constant('kp-ok'), key_type: hostileString }) }),
          fc.record({ keypair: fc.record({ name: fc.constant('kp1') }) }), // exists already
        ),
        async (body) => {
          await attack('POST', `/v3/${PROJECT}/keypairs`, JSON.stringify(body));
        },
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('the targets are still intact and the service still answers', async () => {
    const a = await svc.api.get(`${NB}/${running}`);
    assert.equal(a.status, 200);
    assert.equal(a.body.status, 'RUNNING');
    assert.equal(a.body.name, 'target-running');
    const b = await svc.api.get(`${NB}/${stopped}`);
    assert.equal(b.body.status, 'STOPPED');
    assert.equal((await svc.api.get(NB + '?limit=50')).body.total, 2);
  });
});

describe('per-client rate limit', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService({ overrides: { limits: { rateLimit: { enabled: true, perSecond: 0.5, burst: 10 } } } });
  });
  after(async () => svc?.close());

  it('answers 429 APIGW.0308 with Retry-After past the burst, per credential, and not on health', async () => {
    const statuses: number[] = [];
    let limited: any;
    for (let i = 0; i < 14; i++) {
      const res = await svc.api.get(`${NB}?limit=10`);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(200), 'the burst passes');
    assert.ok(statuses.slice(10).every((s) => s === 429), `then 429: ${statuses.join(',')}`);
    assert.equal(limited.body.error_code, 'APIGW.0308');
    assert.equal(typeof limited.body.error_msg, 'string');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // Health checks are never limited, and another client (no credential: its address) has its own bucket.
    assert.equal((await fetch(svc.url + '/readyz')).status, 200);
    const anonymous = await new (svc.api.constructor as any)(svc.url, {}).get(`${NB}`);
    assert.equal(anonymous.status, 401, 'a different client is not throttled by the first one');
    // A throttled write changes nothing.
    const write = await svc.api.post(NB, createBody({ name: 'throttled' }));
    assert.equal(write.status, 429);
    assert.equal((await svc.service.store.notebooks.list({ projectId: PROJECT, sortKey: 'create_at', sortDir: 'DESC', offset: 0, limit: 50 })).total, 0);
  });
});
