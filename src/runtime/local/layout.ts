// Where an instance lives under the data directory. Pure: paths only, no I/O.
//   volumes/<id>/     the instance's working tree (its volume): Jupyter's root dir and cwd;
//                     the mount point of volumes/<id>.img when volumes are filesystem images
//                     (volume.ts), whose host uid is in instances/<id>/sandbox.json (sandbox.ts)
//   instances/<id>/   per-run Jupyter state (runtime/config/data/ipython dirs), logs, our records
import { join } from 'node:path';

export interface InstancePaths {
  volumeDir: string;
  instanceDir: string;
  runtimeDir: string;
  configDir: string;
  jupyterDataDir: string;
  ipythonDir: string;
  jupyterLog: string;
  hooksLog: string;
  /** The loopback port chosen by prepare (step 3), reused by start while it stays free. */
  portFile: string;
  /** The handle of the last server started, so destroy and a repeated start find it. */
  serverFile: string;
  /** The run's Jupyter token (mode 0600), read by Jupyter through JUPYTER_TOKEN_FILE. */
  tokenFile: string;
  /** The volume's recorded capacity and kind. */
  volumeFile: string;
  /** Identities of background hook processes of the current run, killed on stop. */
  hookPidsFile: string;
}

// Ids come from our own id generator, but they become path components of an `rm -rf`:
// refuse anything that could climb out of the data directory.
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertInstanceId(instanceId: string): void {
  if (!SAFE_ID.test(instanceId) || instanceId.includes('..')) {
    throw new Error(`invalid instance id ${JSON.stringify(instanceId)}: letters, digits, '.', '_' and '-' only`);
  }
}

export function instancePaths(dataDir: string, instanceId: string): InstancePaths {
  assertInstanceId(instanceId);
  const volumeDir = join(dataDir, 'volumes', instanceId);
  const instanceDir = join(dataDir, 'instances', instanceId);
  return {
    volumeDir,
    instanceDir,
    runtimeDir: join(instanceDir, 'runtime'),
    configDir: join(instanceDir, 'config'),
    jupyterDataDir: join(instanceDir, 'data'),
    ipythonDir: join(instanceDir, 'ipython'),
    jupyterLog: join(instanceDir, 'jupyter.log'),
    hooksLog: join(instanceDir, 'hooks.log'),
    portFile: join(instanceDir, 'port'),
    serverFile: join(instanceDir, 'server.json'),
    tokenFile: join(instanceDir, 'token'),
    volumeFile: join(instanceDir, 'volume.json'),
    hookPidsFile: join(instanceDir, 'hook-pids.json'),
  };
}
