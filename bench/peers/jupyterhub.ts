// The peer: JupyterHub 3.0 from Debian (apt-get install jupyterhub) with its local-process
// spawner and its own proxy (Debian's configurable-http-proxy). SimpleLocalProcessSpawner runs
// every user's server as the hub's own user with a home under this run's data directory: no
// system accounts to create (LocalProcessSpawner would need 20 real users on the host) and no
// isolation, limits or volumes at all, so JupyterHub does strictly less work per start than
// notebookd; the comparison leans its way. DummyAuthenticator; the bench talks to the REST API
// with a service token (admin:users, admin:servers, access:servers).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerCgroups } from './cgroup.ts';
import { answers200, Fatal, freePort, sleep, track, until } from './common.ts';

export interface Hub {
  version: string;
  createUsers(names: string[]): Promise<void>;
  /** (In the cgroup `peer-hub-{name}`, which the caller makes first.) POST …/server, then GET /user/{name}/api/status through the hub's proxy until 200; ms. */
  startServer(name: string, pollMs: number): Promise<number>;
  /** DELETE …/server until the user has no server (the spawner waits for the process to exit); ms. */
  stopServer(name: string, pollMs: number): Promise<number>;
  close(): Promise<void>;
}

export async function startJupyterHub(dataDir: string, cgroups: PeerCgroups): Promise<Hub> {
  const version = spawnSync('/usr/bin/jupyterhub', ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`JupyterHub does not run here (one-time setup: apt-get install jupyterhub): ${version.stderr || version.error}`);
  await mkdir(join(dataDir, 'home'), { recursive: true });
  const token = randomBytes(24).toString('hex');
  const [port, hubPort, proxyApiPort] = [await freePort(), await freePort(), await freePort()];
  const py = JSON.stringify;
  // Each user's server joins the cgroup the bench made for it (cgroup.ts) before it execs.
  const joinCgroup = cgroups.parents.map((d) => `echo $$ > ${d}/peer-hub-"$JUPYTERHUB_USER"/cgroup.procs || exit 1; `).join('');
  const config = `
c = get_config()  # noqa
c.JupyterHub.bind_url = ${py(`http://127.0.0.1:${port}`)}
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = ${hubPort}
c.ConfigurableHTTPProxy.api_url = ${py(`http://127.0.0.1:${proxyApiPort}`)}
c.ConfigurableHTTPProxy.pid_file = ${py(join(dataDir, 'proxy.pid'))}
c.JupyterHub.db_url = ${py(`sqlite:///${join(dataDir, 'jupyterhub.sqlite')}`)}
c.JupyterHub.cookie_secret_file = ${py(join(dataDir, 'cookie_secret'))}
c.JupyterHub.pid_file = ${py(join(dataDir, 'jupyterhub.pid'))}
c.JupyterHub.log_level = 'WARN'
c.JupyterHub.authenticator_class = 'dummy'
c.JupyterHub.spawner_class = 'simple'
c.SimpleLocalProcessSpawner.home_dir_template = ${py(join(dataDir, 'home', '{username}'))}
c.Spawner.cmd = ['/bin/sh', '-c', ${py(`${joinCgroup}exec jupyterhub-singleuser "$@"`)}, 'peer-cgroup']
c.Spawner.args = ['--allow-root']
c.JupyterHub.cleanup_servers = True
c.JupyterHub.services = [{'name': 'bench', 'api_token': ${py(token)}}]
c.JupyterHub.load_roles = [{'name': 'bench', 'scopes': ['admin:users', 'admin:servers', 'list:users', 'read:users', 'access:servers'], 'services': ['bench']}]
`;
  const configFile = join(dataDir, 'jupyterhub_config.py');
  await writeFile(configFile, config);
  let output = '';
  // Debian's configurable-http-proxy needs Debian's node modules under NodeSource's Node.
  const env = { ...process.env, NODE_PATH: process.env.NODE_PATH ?? '/usr/share/nodejs' };
  const hub = track('jupyterhub', '/usr/bin/jupyterhub', ['-f', configFile], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [hub.stdout!, hub.stderr!]) s.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-8_000)));
  const base = `http://127.0.0.1:${port}`;
  const auth = { Authorization: `token ${token}` };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/hub/api${path}`, { method, headers: { ...auth, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as any) : null };
  };
  await until('JupyterHub to answer', 60_000, 100, async () => {
    if (hub.exitCode !== null) throw new Fatal(`jupyterhub exited with ${hub.exitCode}:\n${output}`);
    return (await api('GET', '/')).status === 200;
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n${output}`);
  });

  const hasNoServer = async (name: string) => {
    const user = await api('GET', `/users/${name}`);
    return user.status === 200 && !user.body.pending && Object.keys(user.body.servers ?? {}).length === 0;
  };

  return {
    version: version.stdout.trim(),
    async createUsers(names) {
      const res = await api('POST', '/users', { usernames: names });
      if (res.status !== 201) throw new Error(`JupyterHub: creating users answered ${res.status} ${JSON.stringify(res.body)}`);
    },
    async startServer(name, pollMs) {
      const began = Date.now();
      const res = await api('POST', `/users/${name}/server`);
      if (res.status !== 201 && res.status !== 202) throw new Error(`JupyterHub: start of ${name} answered ${res.status} ${JSON.stringify(res.body)}`);
      await until(`JupyterHub server of ${name}`, 120_000, pollMs, async () => {
        if (hub.exitCode !== null) throw new Fatal(`jupyterhub exited:\n${output}`);
        return answers200(`${base}/user/${name}/api/status`, auth);
      });
      return Date.now() - began;
    },
    async stopServer(name, pollMs) {
      const began = Date.now();
      const res = await api('DELETE', `/users/${name}/server`);
      if (res.status !== 204 && res.status !== 202) throw new Error(`JupyterHub: stop of ${name} answered ${res.status} ${JSON.stringify(res.body)}`);
      if (res.status === 202) await until(`JupyterHub to stop the server of ${name}`, 120_000, pollMs, () => hasNoServer(name));
      return Date.now() - began;
    },
    async close() {
      // The hub stops its proxy and (cleanup_servers) every user's server on SIGTERM.
      hub.kill('SIGTERM');
      const deadline = Date.now() + 30_000;
      while (hub.exitCode === null && hub.signalCode === null && Date.now() < deadline) await sleep(50);
    },
  };
}
