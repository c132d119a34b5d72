// How to run an image's Jupyter program: argv, environment and working directory. Pure, so the
// exact command line is unit-tested without starting anything.
import type { ImageProgram } from '../../domain/catalog.ts';
import type { InstancePaths } from './layout.ts';
import { SANDBOX } from './sandbox-argv.ts';

export interface ProgramInfo {
  /** python -m <module> */
  module: string;
  /** The traitlets class that owns the server options. */
  appClass: 'NotebookApp' | 'ServerApp';
  /** Option (under appClass) naming the directory served. */
  rootDirOption: 'notebook_dir' | 'root_dir';
  displayName: string;
  /** Debian packages providing the program and a Python kernel. */
  aptPackages: string[];
}

const PROGRAMS: Record<ImageProgram, ProgramInfo> = {
  // Classic UI (notebook 6.x ships its own server, options under NotebookApp).
  notebook: {
    module: 'notebook',
    appClass: 'NotebookApp',
    rootDirOption: 'notebook_dir',
    displayName: 'Jupyter Notebook',
    aptPackages: ['jupyter-notebook', 'python3-ipykernel'],
  },
  jupyter_server: {
    module: 'jupyter_server',
    appClass: 'ServerApp',
    rootDirOption: 'root_dir',
    displayName: 'Jupyter Server',
    aptPackages: ['python3-jupyter-server', 'python3-ipykernel'],
  },
};

export function programInfo(program: ImageProgram): ProgramInfo {
  const info = PROGRAMS[program];
  if (!info) throw new Error(`unknown Jupyter program ${JSON.stringify(program)}`);
  return info;
}

/** The message for a host that lacks the program: what is missing, then how to install it. */
export function missingProgramMessage(program: ImageProgram, detail?: string): string {
  const info = programInfo(program);
  const what = `${info.displayName} is not installed on this host${detail ? ` (${detail})` : ''}`;
  return `${what}; install it with: apt-get install ${info.aptPackages.join(' ')}`;
}

/** A fixed PATH: notebookd's own PATH may lead to another Python (pyenv shims) than the one the server runs. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// Only these reach user code from notebookd's environment: anything else (database URLs,
// cloud credentials) must not leak into kernels and terminals.
const INHERITED = ['LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'] as const;

/** The environment of everything run for an instance: the server, its kernels, and hooks. */
export function instanceEnv(paths: InstancePaths, hostEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = hostEnv[key];
    if (value) env[key] = value;
  }
  env.LANG ??= 'C.UTF-8';
  return {
    ...env,
    PATH: SANDBOX_PATH,
    HOME: paths.volumeDir,
    SHELL: '/bin/bash',
    JUPYTER_RUNTIME_DIR: paths.runtimeDir,
    JUPYTER_CONFIG_DIR: paths.configDir,
    JUPYTER_DATA_DIR: paths.jupyterDataDir,
    IPYTHONDIR: paths.ipythonDir,
    // Silences the debugger's "frozen modules" warning in every kernel start.
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    PYTHONUNBUFFERED: '1',
  };
}

/**
 * The environment inside a sandbox: ma-user with a private HOME (a tmpfs, as in ModelArts only
 * the volume at /home/ma-user/work persists), so Jupyter's own state stays under HOME too.
 */
export function sandboxEnv(hostEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = hostEnv[key];
    if (value) env[key] = value;
  }
  env.LANG ??= 'C.UTF-8';
  return {
    ...env,
    PATH: SANDBOX_PATH,
    HOME: SANDBOX.home,
    USER: SANDBOX.user,
    LOGNAME: SANDBOX.user,
    SHELL: '/bin/bash',
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    PYTHONUNBUFFERED: '1',
  };
}

export interface JupyterLaunchInput {
  program: ImageProgram;
  pythonPath: string;
  host: string;
  port: number;
  basePath: string;
  paths: InstancePaths;
  hostEnv: Readonly<Record<string, string | undefined>>;
  /** Inside a sandbox: paths as the sandbox sees them (volume at /home/ma-user/work). */
  sandboxed?: boolean;
}

export interface JupyterLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/**
 * The server command. The token is not on the command line (any local user can read argv with
 * ps) nor in the environment (kernels inherit it): Jupyter reads it from JUPYTER_TOKEN_FILE.
 * XSRF checks stay on: requests carrying the token are exempt from them anyway.
 */
export function buildJupyterLaunch(input: JupyterLaunchInput): JupyterLaunch {
  const info = programInfo(input.program);
  const app = info.appClass;
  const rootDir = input.sandboxed ? SANDBOX.work : input.paths.volumeDir;
  const env = input.sandboxed
    ? { ...sandboxEnv(input.hostEnv), JUPYTER_TOKEN_FILE: SANDBOX.tokenFile }
    : { ...instanceEnv(input.paths, input.hostEnv), JUPYTER_TOKEN_FILE: input.paths.tokenFile };
  return {
    command: input.pythonPath,
    args: [
      '-m',
      info.module,
      '--no-browser',
      `--ip=${input.host}`,
      `--port=${input.port}`,
      '--port-retries=0',
      '--allow-root',
      `--${app}.base_url=${input.basePath}`,
      `--${app}.${info.rootDirOption}=${rootDir}`,
      // Only loopback Host headers are accepted: the proxy must send Host: 127.0.0.1:<port>.
      `--${app}.allow_remote_access=False`,
    ],
    env,
    // Kernels start in the server's cwd unless told otherwise: make that the volume.
    cwd: rootDir,
  };
}

/** Why start refuses a spec before touching anything. */
export function specProblem(spec: { basePath: string; jupyterToken: string }): string | null {
  if (!/^\/(?:[A-Za-z0-9._~-]+\/)*$/.test(spec.basePath)) {
    return `basePath ${JSON.stringify(spec.basePath)} must start and end with '/' and hold only URL-safe segments`;
  }
  // An empty token would switch Jupyter's authentication off; whitespace would not survive the token file.
  if (spec.jupyterToken.length < 8 || /[\s\u0000-\u001f]/.test(spec.jupyterToken)) {
    return 'jupyterToken must be at least 8 characters without whitespace';
  }
  return null;
}
