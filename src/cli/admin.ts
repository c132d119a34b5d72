// `notebookd admin ...`: bootstrap-style administration that works on the store directly (no
// server needed, nor any credential but access to the data directory or database): projects,
// users and roles, passwords, access keys, tokens, quotas and the audit trail. Each command goes
// through the same services as the API, as a system administrator, and leaves an audit record.
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { systemClock } from '../clock.ts';
import { ConfigError, loadConfig, type Config, type ConfigFlags } from '../config/config.ts';
import { DomainError } from '../domain/errors.ts';
import type { Caller, Project, User } from '../domain/identity.ts';
import { QUOTA_RESOURCES, QUOTA_WIRE_NAMES, type QuotaLimits, type Usage } from '../domain/quota.ts';
import { createIdentityService, type IdentityService } from '../service/identity-service.ts';
import { createQuotaService, parseLimitsPatch, type QuotaService } from '../service/quota-service.ts';
import type { Store } from '../store/store.ts';
import { CliError } from './client-commands.ts';
import { table, time } from './output.ts';

interface AdminOptions extends ConfigFlags {
  json?: boolean;
}

interface Context {
  store: Store;
  identity: IdentityService;
  quotas: QuotaService;
  caller: Caller;
  json: boolean;
  /** Records what the command did in the audit trail. */
  audit(operation: string, projectId: string | null, target: string | null): Promise<void>;
}

const print = (text: string) => process.stdout.write(text.endsWith('\n') ? text : text + '\n');

/** The CLI acts as a system administrator who is nobody in particular; the trail names the OS user. */
function cliCaller(): Caller {
  let osUser = 'unknown';
  try {
    osUser = userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  const user: User = { id: 'cli', projectId: '', name: `cli:${osUser}`, domainId: '', domainName: '', role: 'admin', systemAdmin: true, passwordHash: null, createAt: 0 };
  return { user, projectId: '', method: 'token' };
}

async function withContext(cmd: Command, run: (ctx: Context) => Promise<void>): Promise<void> {
  const flags = cmd.optsWithGlobals() as AdminOptions;
  let config: Readonly<Config>;
  try {
    config = loadConfig({ ...(flags.config && { config: flags.config }), ...(flags.dataDir && { dataDir: flags.dataDir }), ...(flags.databaseUrl && { databaseUrl: flags.databaseUrl }) });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  // Loaded on use, as `serve` does, so the other CLI commands stay light.
  const { openStore } = await import('../main.ts');
  const store = await openStore(config);
  try {
    await store.migrate();
    const clock = systemClock;
    const caller = cliCaller();
    const ctx: Context = {
      store,
      caller,
      json: flags.json === true,
      identity: createIdentityService({ store, clock, tokenLifetimeMs: config.identity.tokenLifetimeMs, maxAccessKeysPerUser: config.identity.maxAccessKeysPerUser }),
      quotas: createQuotaService({ store, clock, defaults: config.quotas, flavorOf: (id) => config.flavors.find((f) => f.id === id) }),
      audit: (operation, projectId, target) =>
        store.audit.append({
          at: clock.now(),
          projectId,
          actorId: null,
          actorName: caller.user.name,
          sourceIp: 'local',
          method: 'CLI',
          path: `admin ${cmd.parent?.name() ?? ''} ${cmd.name()}`.replace(/\s+/g, ' ').trim(),
          operation,
          target,
          statusCode: 200,
          errorCode: null,
          requestId: randomBytes(16).toString('hex'),
        }),
    };
    await run(ctx);
  } catch (e) {
    if (e instanceof DomainError) throw new CliError(`${e.code}: ${e.message}`, 1);
    throw e;
  } finally {
    await store.close();
  }
}

// ---- references: ids or names ---------------------------------------------------------------

async function projectRef(ctx: Context, ref: string): Promise<Project> {
  const p = (await ctx.store.identity.getProject(ref)) ?? (await ctx.store.identity.getProjectByName(ref));
  if (!p) throw new CliError(`no project with id or name '${ref}'`, 1);
  return p;
}

/** A user id, or <project>/<name> with the project by id or name. */
async function userRef(ctx: Context, ref: string): Promise<User> {
  const slash = ref.lastIndexOf('/');
  if (slash < 0) {
    const byId = await ctx.store.identity.getUser(ref);
    if (byId) return byId;
    const byName = await ctx.store.identity.listUsers({ name: ref });
    if (byName.length === 1) return byName[0]!;
    throw new CliError(byName.length > 1 ? `several users are named '${ref}': write <project>/${ref}` : `no user with id or name '${ref}'`, 1);
  }
  const project = await projectRef(ctx, ref.slice(0, slash));
  const user = await ctx.store.identity.getUserByName(project.id, ref.slice(slash + 1));
  if (!user) throw new CliError(`no user '${ref.slice(slash + 1)}' in project ${project.name}`, 1);
  return user;
}

/** A user of the project `p`: by id, or by name. */
async function userInProject(ctx: Context, p: Project, ref: string): Promise<User> {
  const byId = await ctx.store.identity.getUser(ref);
  const user = byId?.projectId === p.id ? byId : await ctx.store.identity.getUserByName(p.id, ref);
  if (!user) throw new CliError(`no user '${ref}' in project ${p.name}`, 1);
  return user;
}

async function readLine(what: string): Promise<string> {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.replace(/\r$/, '');
  }
  throw new CliError(`no ${what} on standard input`, 2);
}

/** --password-stdin reads one line; --password takes the value; neither generates one (shown once). */
async function passwordFrom(opts: { password?: string; passwordStdin?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (opts.password !== undefined && opts.passwordStdin) throw new CliError('give --password or --password-stdin, not both', 2);
  if (opts.password !== undefined) return { password: opts.password, generated: false };
  if (opts.passwordStdin) return { password: await readLine('password'), generated: false };
  return { password: randomBytes(12).toString('base64url'), generated: true };
}

function parseLimitFlag(name: string, raw: string): number | null {
  if (raw === 'none' || raw === 'unlimited') return null;
  if (!/^\d{1,10}$/.test(raw)) throw new CliError(`--${name} takes a whole number or 'none'`, 2);
  return Number(raw);
}

const userRow = (u: User) => ({ id: u.id, name: u.name, project: u.projectId, role: u.role, system_admin: u.systemAdmin, password_set: u.passwordHash !== null, created: time(u.createAt) });
const limitsRow = (l: QuotaLimits & { flavors?: string[] | null }) =>
  Object.fromEntries([...QUOTA_RESOURCES.map((r) => [QUOTA_WIRE_NAMES[r], l[r]]), ...('flavors' in l ? [['flavors', l.flavors]] : [])]);
const usageRow = (u: Usage) => Object.fromEntries(QUOTA_RESOURCES.map((r) => [QUOTA_WIRE_NAMES[r], u[r]]));

function show(ctx: Context, value: unknown, human: () => string): void {
  print(ctx.json ? JSON.stringify(value, null, 2) : human());
}

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description('administer projects, users, credentials, tokens and quotas directly on the store')
    .option('--config <file>', 'JSON config file (env NOTEBOOKD_CONFIG)')
    .option('--data-dir <dir>', 'data directory (env NOTEBOOKD_DATA_DIR, default ./data)')
    .option('--database-url <url>', 'SQLite file path or postgres://... (env NOTEBOOKD_DATABASE_URL)')
    .option('--json', 'print JSON instead of tables');

  const act =
    (run: (ctx: Context, ...args: any[]) => Promise<void>) =>
    async (...args: any[]) => {
      const cmd = args[args.length - 1] as Command;
      await withContext(cmd, (ctx) => run(ctx, ...args.slice(0, -1)));
    };

  // ---- projects ----
  const project = admin.command('project').description('projects');
  project
    .command('create <name>')
    .option('--id <id>', 'choose the project id (8-64 of [0-9a-z]); default: generated')
    .action(act(async (ctx, name: string, opts: { id?: string }) => {
      const p = await ctx.identity.createProject(ctx.caller, { name, ...(opts.id && { id: opts.id }) });
      await ctx.audit('CreateProject', p.id, p.id);
      show(ctx, { id: p.id, name: p.name }, () => `created project ${p.name} (${p.id})`);
    }));
  project.command('list').action(act(async (ctx) => {
    const projects = await ctx.identity.listProjects(ctx.caller);
    show(ctx, projects.map((p) => ({ id: p.id, name: p.name, created: time(p.createAt) })), () =>
      table(projects, [{ header: 'ID', value: (p) => p.id }, { header: 'NAME', value: (p) => p.name }, { header: 'CREATED', value: (p) => time(p.createAt) }]));
  }));
  project.command('rename <project> <new-name>').action(act(async (ctx, ref: string, name: string) => {
    const p = await ctx.identity.updateProject(ctx.caller, (await projectRef(ctx, ref)).id, { name });
    await ctx.audit('UpdateProject', p.id, p.id);
    show(ctx, { id: p.id, name: p.name }, () => `renamed project ${p.id} to ${p.name}`);
  }));
  project.command('delete <project>').description('delete a project with its users (refused while it has instances)').action(act(async (ctx, ref: string) => {
    const p = await ctx.identity.deleteProject(ctx.caller, (await projectRef(ctx, ref)).id);
    await ctx.audit('DeleteProject', p.id, p.id);
    show(ctx, { id: p.id, deleted: true }, () => `deleted project ${p.name} (${p.id})`);
  }));

  // ---- users ----
  const user = admin.command('user').description('users and roles (a user is <id> or <project>/<name>)');
  user
    .command('create <name>')
    .requiredOption('--project <project>', 'project id or name')
    .addOption(new Option('--role <role>', 'role in the project').choices(['admin', 'member', 'viewer']).default('member'))
    .option('--system-admin', 'make the user a system administrator')
    .option('--password <password>', 'the password (visible in the process list; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--no-password', 'no password: the user signs requests with AK/SK or uses issued tokens')
    .action(act(async (ctx, name: string, opts: { project: string; role: string; systemAdmin?: boolean; password?: string | false; passwordStdin?: boolean }) => {
      const p = await projectRef(ctx, opts.project);
      const pw = opts.password === false ? null : await passwordFrom({ ...(typeof opts.password === 'string' && { password: opts.password }), ...(opts.passwordStdin && { passwordStdin: true }) });
      const u = await ctx.identity.createUser(ctx.caller, { name, projectId: p.id, role: opts.role, systemAdmin: opts.systemAdmin === true, ...(pw && { password: pw.password }) });
      await ctx.audit('CreateUser', p.id, u.id);
      show(ctx, { ...userRow(u), ...(pw?.generated && { password: pw.password }) }, () =>
        [`created user ${u.name} (${u.id}) in ${p.name} as ${u.role}${u.systemAdmin ? ', system administrator' : ''}`, ...(pw?.generated ? [`  password (shown only now): ${pw.password}`] : [])].join('\n'));
    }));
  user
    .command('list')
    .option('--project <project>', 'only this project')
    .action(act(async (ctx, opts: { project?: string }) => {
      const projectId = opts.project === undefined ? undefined : (await projectRef(ctx, opts.project)).id;
      const users = await ctx.identity.listUsers(ctx.caller, projectId === undefined ? {} : { projectId });
      show(ctx, users.map(userRow), () =>
        table(users, [
          { header: 'ID', value: (u) => u.id },
          { header: 'NAME', value: (u) => u.name },
          { header: 'PROJECT', value: (u) => u.projectId },
          { header: 'ROLE', value: (u) => u.role + (u.systemAdmin ? ' +system-admin' : '') },
          { header: 'PASSWORD', value: (u) => (u.passwordHash ? 'set' : '-') },
        ]));
    }));
  user.command('show <user>').action(act(async (ctx, ref: string) => {
    const u = await userRef(ctx, ref);
    show(ctx, userRow(u), () => Object.entries(userRow(u)).map(([k, v]) => `${k.padEnd(13)} ${v}`).join('\n'));
  }));
  user.command('set-role <user> <role>').action(act(async (ctx, ref: string, role: string) => {
    const u = await userRef(ctx, ref);
    const next = await ctx.identity.assignRole(ctx.caller, u.projectId, u.id, role);
    await ctx.audit('AssignRole', u.projectId, u.id);
    show(ctx, userRow(next), () => `${next.name} is now ${next.role} in ${next.projectId}`);
  }));
  user
    .command('set-system-admin <user> <yes|no>')
    .action(act(async (ctx, ref: string, flag: string) => {
      if (!['yes', 'no'].includes(flag)) throw new CliError('answer yes or no', 2);
      const u = await userRef(ctx, ref);
      const next = await ctx.identity.updateUser(ctx.caller, u.id, { systemAdmin: flag === 'yes' });
      await ctx.audit('UpdateUser', u.projectId, u.id);
      show(ctx, userRow(next), () => `${next.name} is ${next.systemAdmin ? 'now' : 'no longer'} a system administrator`);
    }));
  user
    .command('reset-password <user>')
    .description('set a new password (generated unless given) and revoke the user\'s tokens')
    .option('--password <password>', 'the password (visible in the process list; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(act(async (ctx, ref: string, opts: { password?: string; passwordStdin?: boolean }) => {
      const u = await userRef(ctx, ref);
      const pw = await passwordFrom(opts);
      await ctx.identity.updateUser(ctx.caller, u.id, { password: pw.password });
      await ctx.audit('ResetPassword', u.projectId, u.id);
      show(ctx, { id: u.id, ...(pw.generated && { password: pw.password }) }, () =>
        [`reset the password of ${u.name}; their tokens are revoked`, ...(pw.generated ? [`  password (shown only now): ${pw.password}`] : [])].join('\n'));
    }));
  user.command('delete <user>').description('delete a user (refused while they own instances)').action(act(async (ctx, ref: string) => {
    const u = await userRef(ctx, ref);
    await ctx.identity.deleteUser(ctx.caller, u.id);
    await ctx.audit('DeleteUser', u.projectId, u.id);
    show(ctx, { id: u.id, deleted: true }, () => `deleted user ${u.name} (${u.id})`);
  }));

  // ---- access keys ----
  const credential = admin.command('credential').description('AK/SK access keys');
  credential
    .command('create <user>')
    .option('--description <text>', 'what the key is for')
    .action(act(async (ctx, ref: string, opts: { description?: string }) => {
      const u = await userRef(ctx, ref);
      const { key } = await ctx.identity.createCredential(ctx.caller, { credential: { user_id: u.id, ...(opts.description !== undefined && { description: opts.description }) } });
      await ctx.audit('CreateCredential', u.projectId, key.accessKey);
      show(ctx, { access: key.accessKey, secret: key.secretKey, user_id: u.id, project_id: u.projectId }, () =>
        [`created an access key for ${u.name} (shown only now):`, `  AK: ${key.accessKey}`, `  SK: ${key.secretKey}`, `  project_id: ${u.projectId}`].join('\n'));
    }));
  credential.command('list <user>').action(act(async (ctx, ref: string) => {
    const u = await userRef(ctx, ref);
    const keys = await ctx.identity.listCredentials(ctx.caller, u.id);
    const rows = keys.map((k) => ({ access: k.accessKey, status: k.status, description: k.description, created: time(k.createAt) }));
    show(ctx, rows, () => table(rows, [{ header: 'AK', value: (r) => r.access }, { header: 'STATUS', value: (r) => r.status }, { header: 'CREATED', value: (r) => r.created }, { header: 'DESCRIPTION', value: (r) => r.description }]));
  }));
  for (const [verb, status] of [['disable', 'inactive'], ['enable', 'active']] as const) {
    credential.command(`${verb} <access-key>`).action(act(async (ctx, ak: string) => {
      const k = await ctx.identity.updateCredential(ctx.caller, ak, { credential: { status } });
      await ctx.audit('UpdateCredential', (await ctx.store.identity.getUser(k.userId))?.projectId ?? null, ak);
      show(ctx, { access: k.accessKey, status: k.status }, () => `${k.accessKey} is ${k.status}`);
    }));
  }
  credential.command('delete <access-key>').action(act(async (ctx, ak: string) => {
    const k = await ctx.identity.deleteCredential(ctx.caller, ak);
    await ctx.audit('DeleteCredential', (await ctx.store.identity.getUser(k.userId))?.projectId ?? null, ak);
    show(ctx, { access: ak, deleted: true }, () => `deleted access key ${ak}`);
  }));

  // ---- tokens ----
  const token = admin.command('token').description('X-Auth-Token tokens');
  token
    .command('issue <user>')
    .option('--lifetime-ms <ms>', 'lifetime in milliseconds (default: identity.tokenLifetimeMs, 24 h)')
    .action(act(async (ctx, ref: string, opts: { lifetimeMs?: string }) => {
      const u = await userRef(ctx, ref);
      const lifetime = opts.lifetimeMs === undefined ? undefined : Number(opts.lifetimeMs);
      if (lifetime !== undefined && !Number.isSafeInteger(lifetime)) throw new CliError('--lifetime-ms takes milliseconds', 2);
      const issued = await ctx.identity.issueTokenFor(ctx.caller, u.id, lifetime);
      await ctx.audit('IssueToken', u.projectId, u.id);
      show(ctx, { token: issued.token, user_id: u.id, project_id: issued.project.id, expires_at: new Date(issued.record.expiresAt).toISOString() }, () =>
        [`X-Auth-Token for ${u.name} in ${issued.project.name}, valid until ${time(issued.record.expiresAt)} (shown only now):`, issued.token].join('\n'));
    }));
  token
    .command('revoke')
    .description('revoke one token, read from standard input (so it stays out of the process list)')
    .action(act(async (ctx) => {
      const info = await ctx.identity.revokeToken(ctx.caller, (await readLine('token')).trim());
      await ctx.audit('RevokeToken', info.user.projectId, info.user.id);
      show(ctx, { revoked: 1, user_id: info.user.id }, () => `revoked a token of ${info.user.name}`);
    }));
  token.command('revoke-all <user>').action(act(async (ctx, ref: string) => {
    const u = await userRef(ctx, ref);
    const n = await ctx.identity.revokeUserTokens(ctx.caller, u.id);
    await ctx.audit('RevokeUserTokens', u.projectId, u.id);
    show(ctx, { revoked: n, user_id: u.id }, () => `revoked ${n} token(s) of ${u.name}`);
  }));

  // ---- quotas ----
  const quota = admin.command('quota').description('quotas (a limit is a whole number or "none")');
  quota
    .command('show <project>')
    .option('--user <user>', 'one user\'s limits and usage')
    .action(act(async (ctx, ref: string, opts: { user?: string }) => {
      const p = await projectRef(ctx, ref);
      if (opts.user) {
        const u = await userInProject(ctx, p, opts.user);
        const q = await ctx.quotas.showUser(ctx.caller, p.id, u.id);
        show(ctx, { user_id: u.id, limits: limitsRow(q.limits), usage: usageRow(q.usage), own_limits: q.own }, () =>
          table(QUOTA_RESOURCES.map((r) => ({ r, limit: q.limits[r], used: q.usage[r] })), [{ header: 'RESOURCE', value: (x) => QUOTA_WIRE_NAMES[x.r] }, { header: 'USED', value: (x) => x.used }, { header: 'LIMIT', value: (x) => x.limit ?? 'none' }]));
        return;
      }
      const q = await ctx.quotas.show({ ...ctx.caller, projectId: p.id }, p.id);
      show(ctx, { project: { limits: limitsRow(q.project.limits), usage: usageRow(q.project.usage) }, user_default: limitsRow(q.userDefault.limits) }, () =>
        [
          table(QUOTA_RESOURCES.map((r) => ({ r, limit: q.project.limits[r], used: q.project.usage[r], perUser: q.userDefault.limits[r] })), [
            { header: 'RESOURCE', value: (x) => QUOTA_WIRE_NAMES[x.r] },
            { header: 'USED', value: (x) => x.used },
            { header: 'PROJECT LIMIT', value: (x) => x.limit ?? 'none' },
            { header: 'PER-USER DEFAULT', value: (x) => x.perUser ?? 'none' },
          ]),
          `flavors: ${q.project.limits.flavors === null ? 'all' : q.project.limits.flavors.join(', ') || '(none)'}`,
        ].join('\n'));
    }));
  const setQuota = quota
    .command('set <project>')
    .description('set the project\'s limits, the default for its users (--user-default) or one user\'s (--user)')
    .option('--user <user>', 'one user of the project')
    .option('--user-default', 'the default for the project\'s users')
    .option('--flavors <ids>', 'comma-separated flavor ids the project may use, or "all"');
  for (const r of QUOTA_RESOURCES) setQuota.option(`--${QUOTA_WIRE_NAMES[r].replace(/_/g, '-')} <n>`, `${QUOTA_WIRE_NAMES[r]} limit`);
  setQuota.action(act(async (ctx, ref: string, opts: Record<string, string | boolean | undefined>) => {
    const p = await projectRef(ctx, ref);
    const wire: Record<string, unknown> = {};
    for (const r of QUOTA_RESOURCES) {
      const key = QUOTA_WIRE_NAMES[r].replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      const raw = opts[key];
      if (typeof raw === 'string') wire[QUOTA_WIRE_NAMES[r]] = parseLimitFlag(QUOTA_WIRE_NAMES[r], raw);
    }
    if (typeof opts.flavors === 'string') {
      if (opts.user || opts.userDefault) throw new CliError('--flavors applies to the project only', 2);
      wire.flavors = opts.flavors === 'all' ? null : opts.flavors.split(',').map((f) => f.trim()).filter(Boolean);
    }
    if (Object.keys(wire).length === 0) throw new CliError('nothing to set: give at least one limit', 2);
    if (typeof opts.user === 'string') {
      const u = await userInProject(ctx, p, opts.user);
      const q = await ctx.quotas.setUser(ctx.caller, p.id, u.id, parseLimitsPatch(wire, 'user', false));
      await ctx.audit('UpdateUserQuota', p.id, u.id);
      show(ctx, { user_id: u.id, limits: limitsRow(q.limits) }, () => `limits of ${u.name}: ${JSON.stringify(limitsRow(q.limits))}`);
      return;
    }
    const patch = opts.userDefault ? { userDefault: parseLimitsPatch(wire, 'user_default', false) } : { project: parseLimitsPatch(wire, 'project', true) };
    const q = await ctx.quotas.setProject(ctx.caller, p.id, patch);
    await ctx.audit('UpdateProjectQuota', p.id, p.id);
    const limits = opts.userDefault ? q.userDefault.limits : q.project.limits;
    show(ctx, limitsRow(limits), () => `${opts.userDefault ? 'default limits for users of' : 'limits of'} ${p.name}: ${JSON.stringify(limitsRow(limits))}`);
  }));

  // ---- audit ----
  admin
    .command('audit <project>')
    .description('the project\'s audit trail, newest first')
    .option('--limit <n>', 'how many records (1..1000)', '50')
    .option('--operation <name>', 'only this operation, e.g. CreateNotebook')
    .action(act(async (ctx, ref: string, opts: { limit: string; operation?: string }) => {
      const p = await projectRef(ctx, ref);
      const page = await ctx.identity.listAudit(ctx.caller, p.id, { limit: opts.limit, ...(opts.operation && { operation: opts.operation }) });
      show(ctx, page.items, () =>
        table(page.items, [
          { header: 'TIME', value: (r) => time(r.at) },
          { header: 'USER', value: (r) => r.actorName ?? '-' },
          { header: 'FROM', value: (r) => r.sourceIp },
          { header: 'OPERATION', value: (r) => r.operation },
          { header: 'TARGET', value: (r) => r.target ?? '-' },
          { header: 'RESULT', value: (r) => (r.errorCode ? `${r.statusCode} ${r.errorCode}` : String(r.statusCode)) },
        ]));
    }));
}
