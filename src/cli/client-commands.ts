// The CLI's client commands: everything here talks to a running notebookd through the SDK.
// Exit codes: 0 success, 1 the API refused (its error_code is printed), 2 bad usage or local
// problem, 3 a --wait that ended in a failure status or timed out.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createClient, NotebookdError, type Notebook, type NotebookdClient } from '../sdk/index.ts';
import type { NotebookStatus } from '../domain/lifecycle.ts';
import { duration, parseDuration, table, time, type Column } from './output.ts';
import { loadProfile, profilePath, saveProfile, type Profile } from './profile.ts';

interface GlobalOptions {
  profile?: string;
  json?: boolean;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const print = (text: string) => process.stdout.write(text.endsWith('\n') ? text : text + '\n');

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

async function clientFor(cmd: Command): Promise<NotebookdClient> {
  let profile: Profile;
  try {
    profile = await loadProfile(globals(cmd).profile);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  return createClient({ endpoint: profile.endpoint, projectId: profile.projectId, credentials: profile.credentials });
}

/** Runs an action and prints its result as JSON or through `human`. */
function action<A extends unknown[]>(run: (client: NotebookdClient, cmd: Command, ...args: A) => Promise<unknown>, human: (result: any) => string) {
  return async (...args: unknown[]) => {
    const cmd = args.at(-1) as Command;
    const result = await run(await clientFor(cmd), cmd, ...(args.slice(0, -1) as A));
    print(globals(cmd).json ? JSON.stringify(result, null, 2) : human(result));
  };
}

const notebookColumns: Column<Notebook>[] = [
  { header: 'ID', value: (n) => n.id },
  { header: 'NAME', value: (n) => n.name },
  { header: 'STATUS', value: (n) => n.status },
  { header: 'FLAVOR', value: (n) => n.flavor },
  { header: 'LEASE', value: (n) => (n.status === 'RUNNING' ? `${n.lease.type} ${duration(n.lease.stop_at === null ? null : n.lease.stop_at - Date.now())} left` : '-') },
];

function describeNotebook(n: Notebook): string {
  const rows: [string, string][] = [
    ['id', n.id],
    ['name', n.name],
    ['status', n.status + (n.fail_reason ? ` (${n.fail_reason})` : '') + (n.stop_reason && n.status === 'STOPPED' ? ` (stopped: ${n.stop_reason})` : '')],
    ['flavor', n.flavor],
    ['image', `${n.image.name}:${n.image.tag} (${n.image.id})`],
    ['volume', `${n.volume.category} ${n.volume.capacity} GB ${n.volume.status}`],
    ['lease', `${n.lease.type}${n.lease.enable ? `, stops at ${time(n.lease.stop_at)}` : ', auto-stop off'}`],
    ['url', n.url],
    ['created', time(n.create_at)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n');
}

/** Waits with a one-line-per-change progress display on stderr. */
async function waitFor(client: NotebookdClient, id: string, statuses: NotebookStatus[], timeoutMs: number): Promise<Notebook | null> {
  let last = '';
  try {
    return await client.notebooks.waitFor(id, statuses, {
      timeoutMs,
      intervalMs: 500,
      onPoll: (n) => {
        const steps = n.action_progress.map((s) => `${s.step}:${s.status[0]}`).join(' ');
        const line = `${n.status}${n.status === 'CREATING' || n.status === 'STARTING' ? `  [${steps}]` : ''}`;
        if (line !== last) process.stderr.write(`  ${id.slice(0, 8)} ${line}\n`);
        last = line;
      },
    });
  } catch (e) {
    if (e instanceof NotebookdError && e.errorCode.startsWith('NOTEBOOKD.WAIT')) throw new CliError(e.errorMsg, 3);
    throw e;
  }
}

const WAIT_TIMEOUT_MS = 600_000;

async function readJsonArg(value: string | undefined): Promise<unknown> {
  if (value === undefined) return undefined;
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`not valid JSON: ${(e as Error).message}`, 2);
  }
}

export function registerClientCommands(program: Command): void {
  program.option('--profile <name>', 'profile to use (default: the last one logged in)').option('--json', 'print JSON instead of tables');

  program
    .command('login')
    .description('store an endpoint, project and credentials as a profile (file mode 0600)')
    .requiredOption('--endpoint <url>', 'e.g. http://127.0.0.1:8080')
    .requiredOption('--project-id <id>', 'project id')
    .option('--token <token>', 'an X-Auth-Token')
    .option('--ak <ak>', 'access key (with --sk)')
    .option('--sk <sk>', 'secret key (with --ak)')
    .option('--name <profile>', 'profile name', 'default')
    .action(async (o: { endpoint: string; projectId: string; token?: string; ak?: string; sk?: string; name: string }) => {
      const credentials = o.token ? { token: o.token } : o.ak && o.sk ? { accessKey: o.ak, secretKey: o.sk } : null;
      if (!credentials) throw new CliError('give --token, or --ak and --sk', 2);
      const profile: Profile = { endpoint: o.endpoint, projectId: o.projectId, credentials };
      // Prove the credentials work before saving them.
      await createClient({ ...profile }).flavors.list();
      await saveProfile(o.name, profile);
      print(`logged in to ${o.endpoint} (project ${o.projectId}); profile '${o.name}' saved in ${profilePath()}`);
    });

  const nb = program.command('notebooks').alias('nb').description('notebook instances');

  nb.command('list')
    .description("your notebooks (--all: the whole project, for admins)")
    .option('--all', 'the whole project')
    .option('--status <status>')
    .option('--name <substring>')
    .action(
      action(async (c, cmd) => {
        const o = cmd.opts() as { all?: boolean; status?: NotebookStatus; name?: string };
        const items: Notebook[] = [];
        for await (const n of c.notebooks.iterate({ ...(o.status && { status: o.status }), ...(o.name && { name: o.name }) }, o.all)) items.push(n);
        return items;
      }, (items: Notebook[]) => table(items, notebookColumns)),
    );

  nb.command('show <id>').description('one notebook').action(action((c, _cmd, id: string) => c.notebooks.show(id), describeNotebook));

  nb.command('create')
    .description('create a notebook')
    .requiredOption('--name <name>')
    .option('--flavor <flavor>', 'flavor id', 'modelarts.vm.cpu.2u')
    .requiredOption('--image <id>', 'image id (see: notebookd images list)')
    .option('--storage <gb>', 'EVS volume size in GB', '5')
    .option('--description <text>')
    .option('--lease <duration>', 'auto-stop after e.g. 2h (TIMING) or "off"')
    .option('--idle <duration>', 'auto-stop after this long idle (IDLE)')
    .option('--ssh-key <name...>', 'key pairs for the SSH endpoint')
    .option('--allow-ip <ip...>', 'allowed client addresses')
    .option('--hooks <json>', 'hooks object as JSON, or @file')
    .option('--wait', 'wait until RUNNING')
    .action(
      action(async (c, cmd) => {
        const o = cmd.opts() as Record<string, any>;
        const lease = o.idle ? { duration: parseDuration(o.idle), type: 'IDLE' } : o.lease === 'off' ? { duration: -1 } : o.lease ? { duration: parseDuration(o.lease), type: 'TIMING' } : undefined;
        const endpoints = o.sshKey || o.allowIp ? [{ service: o.sshKey ? 'SSH' : 'NOTEBOOK', key_pair_names: o.sshKey ?? [], allowed_access_ips: o.allowIp ?? [] }] : undefined;
        const created = await c.notebooks.create({
          name: o.name,
          flavor: o.flavor,
          image_id: o.image,
          volume: { category: 'EVS', ownership: 'MANAGED', capacity: Number(o.storage) },
          ...(o.description && { description: o.description }),
          ...(lease && { lease }),
          ...(endpoints && { endpoints }),
          ...(o.hooks && { hooks: (await readJsonArg(o.hooks)) as never }),
        });
        return o.wait ? waitFor(c, created.id, ['RUNNING'], WAIT_TIMEOUT_MS) : created;
      }, describeNotebook),
    );

  nb.command('update <id>')
    .description('change a notebook; flavor, image, endpoints and hooks need it stopped')
    .option('--name <name>')
    .option('--description <text>')
    .option('--flavor <flavor>')
    .option('--image <id>')
    .option('--storage <gb>', 'grow the volume to this many GB')
    .option('--endpoints <json>', 'endpoints array as JSON, or @file')
    .option('--hooks <json>', 'hooks object as JSON, or @file')
    .action(
      action(async (c, cmd, id: string) => {
        const o = cmd.opts() as Record<string, string | undefined>;
        return c.notebooks.update(id, {
          ...(o.name && { name: o.name }),
          ...(o.description !== undefined && { description: o.description }),
          ...(o.flavor && { flavor: o.flavor }),
          ...(o.image && { image_id: o.image }),
          ...(o.storage && { storage_new_size: Number(o.storage) }),
          ...(o.endpoints && { endpoints: (await readJsonArg(o.endpoints)) as never }),
          ...(o.hooks && { hooks: (await readJsonArg(o.hooks)) as never }),
        });
      }, describeNotebook),
    );

  const lifecycle = (name: 'start' | 'stop' | 'delete', target: NotebookStatus, describe: string) => {
    const command = nb.command(`${name} <id>`).description(describe).option('--wait', `wait until ${target}`);
    if (name === 'start') command.option('--lease <duration>', 'lease for this run, e.g. 2h, or "off"');
    command.action(
      action(async (c, cmd, id: string) => {
        const o = cmd.opts() as { wait?: boolean; lease?: string };
        const lease = o.lease === undefined ? {} : o.lease === 'off' ? { duration: -1 } : { duration: parseDuration(o.lease), type: 'TIMING' as const };
        const first = name === 'start' ? await c.notebooks.start(id, lease) : name === 'stop' ? await c.notebooks.stop(id) : await c.notebooks.delete(id);
        if (!o.wait) return first;
        return (await waitFor(c, id, [target], WAIT_TIMEOUT_MS)) ?? { ...first, status: 'DELETED' };
      }, describeNotebook),
    );
  };
  lifecycle('start', 'RUNNING', 'start a stopped notebook (it gets a new token)');
  lifecycle('stop', 'STOPPED', 'stop a notebook');
  lifecycle('delete', 'DELETED', 'delete a notebook and its volume');

  nb.command('prolong <id> [duration]')
    .description('reset the auto-stop to now + duration (default 1h)')
    .option('--idle', 'make it an IDLE lease: stop after this long without activity')
    .action(
      action(
        (c, cmd, id: string, d?: string) =>
          c.notebooks.renewLease(id, { duration: parseDuration(d ?? '1h'), type: (cmd.opts() as { idle?: boolean }).idle ? 'IDLE' : 'TIMING' }),
        (l) => `${l.type} lease: stops at ${time(l.stop_at)} (in ${duration(l.stop_at - Date.now())})`,
      ),
    );

  nb.command('lease <id>').description('show the lease').action(
    action((c, _cmd, id: string) => c.notebooks.showLease(id), (l) =>
      [
        `type        ${l.type}${l.enable ? '' : ' (auto-stop off)'}`,
        `stops at    ${time(l.stop_at)}${l.stop_at ? ` (in ${duration(l.stop_at - Date.now())})` : ''}`,
        `last active ${time(l.last_activity_at)}${l.last_activity_source ? ` (${l.last_activity_source})` : ''}`,
      ].join('\n'),
    ),
  );

  nb.command('events <id>').description('the instance event log').action(
    action((c, _cmd, id: string) => c.notebooks.events(id, { limit: 1000 }), (r) =>
      table(r.events as { at: number; type: string; message: string }[], [
        { header: 'AT', value: (e) => time(e.at) },
        { header: 'TYPE', value: (e) => e.type },
        { header: 'MESSAGE', value: (e) => e.message },
      ]),
    ),
  );

  nb.command('open <id>')
    .description('print the URL that opens the notebook (with its token)')
    .action(
      action(async (c, _cmd, id: string) => {
        const n = await c.notebooks.show(id);
        if (n.status !== 'RUNNING') throw new CliError(`the notebook is ${n.status}; start it first (notebookd notebooks start ${id} --wait)`, 1);
        return { url: `${n.url}?token=${encodeURIComponent(n.token)}` };
      }, (r) => r.url),
    );

  program.command('flavors').description('flavors').command('list').action(
    action((c) => c.flavors.list(), (r) =>
      table(r.flavors as any[], [
        { header: 'ID', value: (f) => f.id },
        { header: 'NAME', value: (f) => f.name },
        { header: 'VCPUS', value: (f) => f.vcpus },
        { header: 'MEMORY', value: (f) => `${Math.round(f.memory / 1024 / 1024)} GB` },
        { header: 'AVAILABLE', value: (f) => (f.sold_out ? 'sold out' : 'yes') },
      ]),
    ),
  );

  const images = program.command('images').description('images');
  const imageColumns: Column<any>[] = [
    { header: 'ID', value: (i) => i.id },
    { header: 'NAME', value: (i) => `${i.name}:${i.tag}` },
    { header: 'TYPE', value: (i) => i.type },
    { header: 'STATUS', value: (i) => i.status + (i.status_message ? ` (${i.status_message})` : '') },
  ];
  images.command('list').action(action((c) => c.images.list(), (r) => table(r.data, imageColumns)));
  images
    .command('register <swr_path>')
    .option('--description <text>')
    .option('--program <program>', 'NOTEBOOK (classic UI) or JUPYTER_SERVER')
    .action(
      action((c, cmd, swrPath: string) => {
        const o = cmd.opts() as { description?: string; program?: string };
        return c.images.register({ swr_path: swrPath, ...(o.description && { description: o.description }), ...(o.program && { program: o.program }) });
      }, (i) => table([i], imageColumns)),
    );
  images
    .command('delete <id>')
    .option('--force', 'also when notebooks use it')
    .action(action((c, cmd, id: string) => c.images.delete(id, Boolean((cmd.opts() as { force?: boolean }).force)), (i) => `deleted image ${i.id}`));

  registerKeyPairCommands(program);
}

function registerKeyPairCommands(program: Command): void {
  const keypairs = program.command('keypairs').description('SSH key pairs (KPS API)');
  const columns: Column<any>[] = [
    { header: 'NAME', value: (k) => k.name },
    { header: 'TYPE', value: (k) => k.type },
    { header: 'FINGERPRINT', value: (k) => k.fingerprint },
  ];
  keypairs.command('list').action(action((c) => c.keypairs.list(), (list) => table(list, columns)));
  keypairs
    .command('create <name>')
    .description('generate a key pair; the private key is printed once (or written to --out, mode 0600)')
    .option('--out <file>', 'write the private key to this file')
    .action(
      action(async (c, cmd, name: string) => {
        const created = await c.keypairs.create({ name });
        const out = (cmd.opts() as { out?: string }).out;
        if (out && created.private_key) {
          await writeFile(out, created.private_key, { mode: 0o600 });
          return { ...created, private_key: `(written to ${out})` };
        }
        return created;
      }, (k) => `${table([k], columns)}\n\n${k.private_key ?? ''}`),
    );
  keypairs
    .command('import <name> <public_key_file>')
    .description('import an existing public key (e.g. ~/.ssh/id_ed25519.pub)')
    .action(
      action(async (c, _cmd, name: string, file: string) => c.keypairs.create({ name, public_key: (await readFile(file, 'utf8')).trim() }), (k) => table([k], columns)),
    );
  keypairs.command('delete <name>').action(action(async (c, _cmd, name: string) => (await c.keypairs.delete(name), { deleted: name }), (r) => `deleted key pair ${r.deleted}`));
}

/** Prints an error the way a user can act on, and picks the exit code. */
export function reportCliError(e: unknown): number {
  if (e instanceof CliError) {
    process.stderr.write(`notebookd: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof NotebookdError) {
    process.stderr.write(`notebookd: ${e.errorCode}: ${e.errorMsg}${e.requestId ? ` (request ${e.requestId})` : ''}\n`);
    return 1;
  }
  const err = e as Error & { code?: string; cause?: { code?: string } };
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = err.cause as { code?: string; message?: string } | undefined;
    process.stderr.write(`notebookd: cannot reach the server (${cause?.code ?? cause?.message ?? 'network error'}); is 'notebookd serve' running there?\n`);
    return 2;
  }
  if (err?.code?.startsWith?.('commander.')) return (err as { exitCode?: number }).exitCode ?? 2;
  process.stderr.write(`notebookd: ${err?.message ?? String(e)}\n`);
  return 2;
}
