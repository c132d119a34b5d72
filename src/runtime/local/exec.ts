// exec for the local runtime: a process in the instance's environment, the way its Jupyter
// server and kernels run: working directory the volume, the instance's environment (instanceEnv,
// or sandboxEnv in a sandbox), never notebookd's own. The SSH gateway uses it for shells (with a
// pty), commands, SFTP (Debian's sftp-server) and the port check of forwarding.
//
// When the instance runs in a bubblewrap sandbox, a session enters that sandbox's namespaces and
// cgroup (sandbox-argv.ts enterSandbox), as ma-user in /home/ma-user/work with the sandbox's
// environment, so it sees what the notebook sees and dies with the instance. Without a sandbox
// it still joins the instance's cgroup. Paths and environment in, a ChildProcess out.
import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { buildExecLaunch, INSTANCE_MARKER, spawnExec } from '../exec-process.ts';
import { listeningPorts } from '../process-ports.ts';
import type { ExecRequest } from '../runtime.ts';
import { instanceEnv, sandboxEnv } from './jupyter-command.ts';
import { instancePaths } from './layout.ts';
import { liveness } from './process-identity.ts';
import type { ProcessIdentity } from './process-identity.ts';
import { enterSandbox, inCgroup, SANDBOX } from './sandbox-argv.ts';

export interface LocalExecTarget {
  dataDir: string;
  instanceId: string;
  pythonPath: string;
  /** The instance's cgroup.procs files: sessions count against its limits too. */
  cgroupProcs?: string[];
  /** The init of the instance's sandbox, when it runs in one: sessions enter its namespaces. */
  sandboxInit?: ProcessIdentity;
}

export async function execInInstance(t: LocalExecTarget, req: ExecRequest): Promise<ChildProcess> {
  const paths = instancePaths(t.dataDir, t.instanceId);
  const volume = await stat(paths.volumeDir).catch(() => null);
  if (!volume?.isDirectory()) throw new Error(`the volume of ${t.instanceId} does not exist (${paths.volumeDir})`);
  const procs = t.cgroupProcs ?? [];
  if (t.sandboxInit) {
    // Inside the sandbox, as ma-user, where the notebook's own processes run (sandbox-argv.ts).
    if ((await liveness(t.sandboxInit)).state !== 'alive') throw new Error(`the sandbox of ${t.instanceId} is not running`);
    const launch = buildExecLaunch({ instanceId: t.instanceId, cwd: SANDBOX.work, env: sandboxEnv(process.env), pythonPath: t.pythonPath }, req);
    const entered = enterSandbox({ cgroupProcs: procs, initPid: t.sandboxInit.pid, command: [launch.command, ...launch.args] });
    return spawnExec({ ...launch, command: entered.command, args: entered.args, cwd: '/' });
  }
  const launch = buildExecLaunch({ instanceId: t.instanceId, cwd: paths.volumeDir, env: instanceEnv(paths, process.env), pythonPath: t.pythonPath }, req);
  const wrapped = inCgroup(procs, [launch.command, ...launch.args]);
  return spawnExec({ ...launch, command: wrapped.command, args: wrapped.args });
}

/** Ports the server's process tree and the instance's exec sessions listen on. */
export function instanceListeningPorts(instanceId: string, serverPid: number): Promise<number[]> {
  return listeningPorts({ rootPids: [serverPid], marker: { name: INSTANCE_MARKER, value: instanceId } });
}
