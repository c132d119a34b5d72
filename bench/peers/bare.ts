// The floor: Debian's Jupyter server on its own, with exactly the program, arguments and
// environment notebookd's local runtime gives it (buildJupyterLaunch), no sandbox, no cgroup, no
// volume: spawn → GET {base}api/status with its token answers 200. Then SIGTERM → exited.
import { randomBytes } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { buildJupyterLaunch } from '../../src/runtime/local/jupyter-command.ts';
import { instancePaths } from '../../src/runtime/local/layout.ts';
import { inCgroup } from '../../src/runtime/local/sandbox-argv.ts';
import type { PeerCgroups } from './cgroup.ts';
import { answers200, Fatal, freePort, signalChild, track, until } from './common.ts';

export interface BareRun {
  readyMs: number[];
  /** Start of the batch until every server answered. */
  allReadyMs: number;
  stopMs: number;
}

export async function bareBoot(dataDir: string, cgroups: PeerCgroups, tag: string, count: number, pollMs: number): Promise<BareRun> {
  const servers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const id = `bare-${tag}-${i}`;
      const paths = instancePaths(dataDir, id);
      for (const dir of [paths.volumeDir, paths.runtimeDir, paths.configDir, paths.jupyterDataDir, paths.ipythonDir]) await mkdir(dir, { recursive: true });
      const token = randomBytes(24).toString('hex');
      await writeFile(paths.tokenFile, token, { mode: 0o600 });
      const port = await freePort();
      const basePath = `/nb/${id}/`;
      const launch = buildJupyterLaunch({ program: 'notebook', pythonPath: '/usr/bin/python3', host: '127.0.0.1', port, basePath, paths, hostEnv: process.env });
      const procs = await cgroups.enter(id);
      return { id, launch, procs, paths, url: `http://127.0.0.1:${port}${basePath}api/status`, headers: { Authorization: `token ${token}` } };
    }),
  );
  const logs = await Promise.all(servers.map((s) => open(s.paths.jupyterLog, 'a')));
  const began = Date.now();
  const children = servers.map((s, i) => {
    const argv = inCgroup(s.procs, [s.launch.command, ...s.launch.args]);
    return track(`bare ${s.id}`, argv.command, argv.args, { cwd: s.launch.cwd, env: s.launch.env, detached: true, stdio: ['ignore', logs[i]!.fd, logs[i]!.fd] });
  });
  try {
    const readyMs = await Promise.all(
      servers.map(async (s, i) => {
        await until(`bare Jupyter ${s.id} (log ${s.paths.jupyterLog})`, 120_000, pollMs, async () => {
          if (children[i]!.exitCode !== null) throw new Fatal(`bare Jupyter ${s.id} exited with ${children[i]!.exitCode}; see ${s.paths.jupyterLog}`);
          return answers200(s.url, s.headers);
        });
        return Date.now() - began;
      }),
    );
    const allReadyMs = Date.now() - began;
    const stopBegan = Date.now();
    await Promise.all(children.map((c) => signalChild(c, 'SIGTERM', 30_000)));
    return { readyMs, allReadyMs, stopMs: Date.now() - stopBegan };
  } finally {
    await Promise.all(children.map((c) => signalChild(c, 'SIGKILL', 5_000)));
    await Promise.all(logs.map((l) => l.close()));
    await Promise.all(servers.map((s) => cgroups.leave(s.id)));
  }
}
