// exec for the fake runtime: a real process (bash, sftp-server, ...) in a per-instance temporary
// directory with a minimal environment, so SSH gateway tests run real sessions without Jupyter.
import type { ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExecLaunch, INSTANCE_MARKER, spawnExec } from '../exec-process.ts';
import { listeningPorts } from '../process-ports.ts';
import type { ExecRequest } from '../runtime.ts';

export interface FakeExec {
  /** The instance's working directory for exec'd processes (created on first use). */
  dirOf(instanceId: string): string;
  exec(instanceId: string, req: ExecRequest): Promise<ChildProcess>;
  /** Ports exec'd processes of the instance listen on. */
  ports(instanceId: string): Promise<number[]>;
  /** Kills what is still running and removes the directories. */
  cleanup(instanceId?: string): Promise<void>;
}

export function createFakeExec(root = join(tmpdir(), `notebookd-fake-exec-${process.pid}`)): FakeExec {
  const live = new Map<string, Set<ChildProcess>>();
  const dirOf = (instanceId: string) => join(root, instanceId.replace(/[^A-Za-z0-9._-]/g, '_'));

  return {
    dirOf,
    async exec(instanceId, req) {
      const cwd = dirOf(instanceId);
      await mkdir(cwd, { recursive: true });
      const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: cwd, SHELL: '/bin/bash', LANG: 'C.UTF-8' };
      const child = await spawnExec(buildExecLaunch({ instanceId, cwd, env, pythonPath: '/usr/bin/python3' }, req));
      const set = live.get(instanceId) ?? new Set();
      set.add(child);
      live.set(instanceId, set);
      child.once('exit', () => set.delete(child));
      return child;
    },
    ports: (instanceId) => listeningPorts({ rootPids: [], marker: { name: INSTANCE_MARKER, value: instanceId }, netnsPid: process.pid }),
    async cleanup(instanceId) {
      const ids = instanceId ? [instanceId] : [...live.keys()];
      for (const id of ids) {
        for (const child of live.get(id) ?? []) {
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        live.delete(id);
        await rm(dirOf(id), { recursive: true, force: true });
      }
    },
  };
}
