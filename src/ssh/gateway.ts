// The SSH gateway: one port for every instance. `ssh -p <port> <instance-id>@<host>` logs in with
// any key pair named by the instance's SSH endpoint, from an address its allow-list admits
// (checked per connection), and gets a shell (with a pty), exec, SFTP (Debian's sftp-server run
// inside the instance) and local port forwarding to ports the instance itself listens on.
// Everything runs through runtime.exec, i.e. in the instance's environment and sandbox.
import type { ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import ssh2, { type Connection, type ParsedKey, type ServerChannel, type Session } from 'ssh2';

// ssh2 is CommonJS: its named exports are read off the default export.
const { Server, utils: sshUtils } = ssh2;
import type { ActivitySink } from '../domain/activity.ts';
import type { KeyPair } from '../domain/keypair.ts';
import { normalizeAddress } from '../proxy/client-address.ts';
import type { Route, RouteTable } from '../proxy/route-table.ts';
import type { ExecRequest, Runtime, RuntimeHandle } from '../runtime/runtime.ts';

export const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

export interface SshLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface SshGatewayDeps {
  routes: RouteTable;
  /** The key pairs of a project with these names (missing ones are left out). */
  keyPairs: (projectId: string, names: readonly string[]) => Promise<KeyPair[]>;
  runtime: Runtime;
  activity: ActivitySink;
  /** PEM/OpenSSH private host key. */
  hostKey: string;
  /** Non-interactive sessions and forwards report activity this often while open. Default 30 s. */
  heartbeatMs?: number;
  log?: SshLog;
}

export interface SshGateway {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  address(): { host: string; port: number } | null;
  close(): Promise<void>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '0:0:0:0:0:0:0:1']);

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

function keyMatches(kp: KeyPair, algo: string, data: Buffer): ParsedKey | null {
  const parsed = sshUtils.parseKey(kp.publicKey);
  if (parsed instanceof Error) return null;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.getPublicSSH().equals(data)) return null;
  // The client names the signature algorithm (rsa-sha2-256 for an ssh-rsa key): compare the key type.
  return key.type === algo || (key.type === 'ssh-rsa' && /^rsa-sha2-(256|512)$/.test(algo)) ? key : null;
}

export function createSshGateway(deps: SshGatewayDeps): SshGateway {
  const { routes, runtime, activity } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 30_000;
  const connections = new Set<Connection>();
  /** Sessions whose openness counts as activity (commands, SFTP, forwards), by instance. */
  const busy = new Map<string, number>();
  let bound: { host: string; port: number } | null = null;

  const heartbeat = setInterval(() => {
    for (const [id, n] of busy) if (n > 0) activity.record(id, 'ssh');
  }, heartbeatMs);
  heartbeat.unref();
  const hold = (id: string) => {
    busy.set(id, (busy.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (busy.get(id) ?? 1) - 1;
      if (n <= 0) busy.delete(id);
      else busy.set(id, n);
    };
  };

  /** The running instance's route, or a sentence saying why there is none. */
  async function runningRoute(id: string): Promise<Route | string> {
    const route = await routes.resolve(id);
    if (!route) return `notebookd: instance ${id} does not exist.`;
    if (route.status !== 'RUNNING' || !route.handle) return `notebookd: instance ${id} is ${route.status}, not RUNNING; start it and connect again.`;
    return route;
  }

  function refuseSession(channel: ServerChannel, message: string): void {
    channel.stderr.write(message + '\r\n');
    channel.exit(1);
    channel.end();
  }

  function onSession(client: Connection, id: string, acceptSession: () => Session): void {
    const session = acceptSession();
    const env: Record<string, string> = {};
    let pty: ExecRequest['pty'] | undefined;
    let child: ChildProcess | null = null;

    session.on('env', (accept, reject, info) => {
      if (ENV_NAME.test(info.key) && info.val.length <= 4096) {
        env[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    session.on('pty', (accept, _reject, info) => {
      pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (pty) pty = { ...pty, cols: info.cols, rows: info.rows };
      const control = child?.stdio[3] as NodeJS.WritableStream | undefined;
      control?.write(`${info.rows} ${info.cols}\n`);
      accept?.();
    });
    session.on('signal', (accept, _reject, info) => {
      if (child && /^[A-Z0-9]+$/.test(info.name)) killGroup(child, `SIG${info.name}` as NodeJS.Signals);
      accept?.();
    });

    // The channel is accepted at once (a client that sends EOF right away would otherwise close the
    // session before it exists); its input waits in the stream until the process is there.
    const run = async (channel: ServerChannel, kind: 'shell' | 'exec' | 'sftp', argv: string[]) => {
      const route = await runningRoute(id);
      if (typeof route === 'string') return refuseSession(channel, route);
      if (!runtime.exec) return refuseSession(channel, `notebookd: the ${runtime.kind} runtime cannot run sessions.`);
      const usePty = kind !== 'sftp' ? pty : undefined;
      let proc: ChildProcess;
      try {
        proc = await runtime.exec(route.handle as RuntimeHandle, { argv, env, ...(usePty && { pty: usePty }) });
      } catch (e) {
        deps.log?.warn({ id, err: (e as Error).message }, 'ssh session could not start');
        return refuseSession(channel, `notebookd: the session could not start: ${(e as Error).message}`);
      }
      child = proc;
      activity.record(id, 'ssh');
      // An interactive shell counts while it is used; a command, SFTP or a forward while it is open.
      const release = kind === 'shell' ? () => {} : hold(id);
      const touch = () => activity.record(id, 'ssh');
      channel.on('data', touch);
      proc.stdout!.on('data', touch);
      channel.pipe(proc.stdin!);
      proc.stdout!.pipe(channel, { end: false });
      proc.stderr!.pipe(usePty ? channel : channel.stderr, { end: false });
      proc.stdin!.on('error', () => {});
      proc.once('close', (code, signal) => {
        release();
        if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
        else channel.exit(code ?? 0);
        channel.end();
      });
      channel.once('close', () => {
        release();
        killGroup(proc, 'SIGHUP');
        const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 3_000);
        timer.unref();
        proc.once('exit', () => clearTimeout(timer));
      });
    };

    const start = (accept: () => ServerChannel | undefined, kind: 'shell' | 'exec' | 'sftp', argv: string[]) => {
      const channel = accept();
      if (!channel) return; // the client closed the session meanwhile
      run(channel, kind, argv).catch((e: Error) => {
        deps.log?.warn({ id, err: e.message }, 'ssh session failed');
        channel.destroy();
      });
    };
    session.on('shell', (accept) => start(accept, 'shell', []));
    session.on('exec', (accept, _reject, info) => start(accept, 'exec', ['/bin/bash', '-c', info.command]));
    session.on('subsystem', (accept, reject, info) => {
      if (info.name === 'sftp') start(accept, 'sftp', [SFTP_SERVER]);
      else reject();
    });
    client.once('close', () => child && killGroup(child, 'SIGHUP'));
  }

  async function onForward(id: string, accept: () => ServerChannel, reject: () => void, destIP: string, destPort: number): Promise<void> {
    const route = await runningRoute(id);
    if (typeof route === 'string' || !LOOPBACK.has(destIP) || !runtime.listeningPorts) return reject();
    const ports = await runtime.listeningPorts(route.handle as RuntimeHandle).catch(() => [] as number[]);
    if (!ports.includes(destPort)) {
      deps.log?.info({ id, destPort }, 'ssh forward refused: the instance does not listen on that port');
      return reject();
    }
    const socket = tcpConnect({ host: '127.0.0.1', port: destPort });
    socket.once('error', () => reject());
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      const channel = accept();
      const release = hold(id);
      activity.record(id, 'ssh');
      channel.pipe(socket).pipe(channel);
      const end = () => {
        release();
        socket.destroy();
        channel.destroy();
      };
      socket.on('error', end);
      socket.on('close', end);
      channel.on('close', end);
    });
  }

  const server = new Server({ hostKeys: [deps.hostKey], ident: 'notebookd' }, (client, info) => {
    connections.add(client);
    const address = normalizeAddress(info.ip);
    let instanceId: string | null = null;
    client.on('authentication', (ctx) => {
      const id = ctx.username;
      void (async () => {
        if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
        const route = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) ? await routes.resolve(id) : undefined;
        if (!route || route.status === 'DELETED' || !route.hasSshEndpoint) return ctx.reject(['publickey']);
        if (!route.sshAllow.matches(address)) {
          deps.log?.info({ id, address }, 'ssh connection refused by the allow-list');
          ctx.reject([]);
          client.end();
          return;
        }
        const pairs = await deps.keyPairs(route.projectId, route.sshKeyPairNames);
        const key = pairs.map((kp) => keyMatches(kp, ctx.key.algo, ctx.key.data)).find((k): k is ParsedKey => k !== null);
        if (!key) return ctx.reject(['publickey']);
        // Without a signature the client only asks whether this key would do.
        if (!ctx.signature || !ctx.blob) return ctx.accept();
        if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
        instanceId = id;
        ctx.accept();
      })().catch((e: Error) => {
        deps.log?.warn({ id, err: e.message }, 'ssh authentication failed');
        ctx.reject(['publickey']);
      });
    });
    client.on('ready', () => {
      const id = instanceId!;
      deps.log?.info({ id, address }, 'ssh session opened');
      activity.record(id, 'ssh');
      client.on('session', (accept) => onSession(client, id, accept));
      client.on('tcpip', (accept, reject, req) => {
        onForward(id, accept, reject, req.destIP, req.destPort).catch(() => reject());
      });
    });
    client.on('request', (_accept, reject) => reject?.()); // no remote forwarding
    client.on('error', () => {});
    client.on('close', () => connections.delete(client));
  });

  return {
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const a = server.address() as AddressInfo;
      bound = { host: a.address, port: a.port };
      return bound;
    },
    address: () => bound,
    async close() {
      clearInterval(heartbeat);
      for (const c of connections) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      bound = null;
    },
  };
}
