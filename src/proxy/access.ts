// The access gateway assembled: the /nb/ proxy in front of the API and the SSH gateway, over one
// route table. main.ts makes the route table first and serves watchNotebookWrites(store) so that
// every notebook write reaches it at once; then it creates this and starts and closes it with the
// service.
import type { Clock } from '../clock.ts';
import type { ActivitySink } from '../domain/activity.ts';
import type { Caller } from '../domain/identity.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { createSshGateway, type SshGateway } from '../ssh/gateway.ts';
import { loadOrCreateHostKey } from '../ssh/host-key.ts';
import type { Store } from '../store/store.ts';
import { createClientAddressResolver, type ClientIpHeader } from './client-address.ts';
import { loadOrCreateSecret } from './credential.ts';
import { createProxy, type Proxy, type ProxyLog } from './proxy.ts';
import type { RouteTable } from './route-table.ts';

export interface AccessSettings {
  dataDir: string;
  publicUrl: string;
  access: { clientIpHeader: ClientIpHeader; trustedProxies: readonly string[]; credentialTtlMs: number; instanceBaseUrl: string };
  ssh: { enabled: boolean; host: string; port: number; publicHost: string };
  /** Where notebookd's HTTP listens (the SSH gateway's default listen address). */
  host: string;
}

export interface AccessDeps {
  settings: AccessSettings;
  store: Store;
  routes: RouteTable;
  runtime: Runtime;
  clock: Clock;
  activity: ActivitySink;
  /** Console tokens (X-Auth-Token) for users opening an instance without its token. */
  authenticateToken?: (token: string) => Promise<Caller>;
  sessionCookie?: string;
  log: ProxyLog & { child?: unknown };
}

export interface Access {
  proxy: Proxy;
  /** The SSH endpoint's host and port once the gateway listens (null without a gateway). */
  sshAddress(): { host: string; port: number } | null;
  /** Fills the route table and opens the SSH port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function createAccess(deps: AccessDeps): Promise<Access> {
  const { settings, store, routes, runtime, clock, activity, log } = deps;
  const proxy = createProxy({
    routes,
    secret: await loadOrCreateSecret(settings.dataDir),
    clock,
    activity,
    clientAddress: createClientAddressResolver(settings.access),
    credentialTtlMs: settings.access.credentialTtlMs,
    secureCookies: (settings.access.instanceBaseUrl || settings.publicUrl).startsWith('https:'),
    publicOrigin: new URL(settings.access.instanceBaseUrl || settings.publicUrl).origin,
    ...(deps.authenticateToken && { authenticateToken: deps.authenticateToken }),
    ...(deps.sessionCookie && { sessionCookie: deps.sessionCookie }),
    log,
  });
  let ssh: SshGateway | null = null;
  if (settings.ssh.enabled) {
    ssh = createSshGateway({
      routes,
      runtime,
      activity,
      hostKey: await loadOrCreateHostKey(settings.dataDir),
      keyPairs: async (projectId, names) => {
        const found = await Promise.all(names.map((name) => store.keypairs.get(projectId, name)));
        return found.filter((k) => k !== undefined);
      },
      log,
    });
  }
  const publicHost = settings.ssh.publicHost || new URL(settings.publicUrl).hostname.replace(/^\[|\]$/g, '');

  return {
    proxy,
    sshAddress: () => {
      const bound = ssh?.address();
      return bound ? { host: publicHost, port: bound.port } : null;
    },
    async start() {
      await routes.refresh();
      routes.start();
      if (ssh) {
        const bound = await ssh.listen(settings.ssh.host || settings.host, settings.ssh.port);
        log.info({ host: bound.host, port: bound.port }, 'SSH gateway is listening');
      }
    },
    async close() {
      proxy.close();
      await ssh?.close();
      await routes.stop();
    },
  };
}
