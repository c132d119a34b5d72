// Starting a process "inside an instance" the same way for every runtime that runs instances as
// host processes (local, fake): argv and environment decided purely, then one spawn. An
// interactive session gets a pseudo-terminal from a small Python helper (no native modules): it
// forks the program on a pty, copies bytes between the pty and its stdin/stdout, applies window
// sizes written to its fd 3 as "rows cols\n" lines, and exits with the program's status.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ExecRequest } from './runtime.ts';

/** Set in the environment of everything exec starts, so its processes can be attributed to the instance. */
export const INSTANCE_MARKER = 'NOTEBOOKD_INSTANCE_ID';

export const PTY_HELPER = `
import fcntl, os, pty, select, signal, struct, sys, termios
rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
def size(r, c):
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]
for s in (signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, lambda n, f: os.kill(pid, signal.SIGHUP))
size(rows, cols)
fds, ctl = [0, master, 3], b''
while True:
    try:
        ready = select.select(fds, [], [])[0]
    except InterruptedError:
        continue
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b''
        if not data:
            break
        write_all(1, data)
    # sizes first: keystrokes that follow a resize should see the new size
    if 3 in ready:
        data = os.read(3, 1024)
        if not data:
            fds.remove(3)
        ctl += data
        while b'\\n' in ctl:
            line, ctl = ctl.split(b'\\n', 1)
            try:
                r, c = (int(x) for x in line.split())
                size(r, c)
            except (ValueError, OSError):
                pass
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            write_all(master, data)
        else:
            fds.remove(0)
status = os.waitpid(pid, 0)[1]
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
`;

export interface ExecLaunch {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** A pty session reads window sizes on fd 3. */
  pty: boolean;
}

export interface ExecContext {
  instanceId: string;
  /** The instance's working directory (its volume). */
  cwd: string;
  /** The instance's environment (what its server and kernels get). */
  env: Record<string, string>;
  pythonPath: string;
}

/** The user's login shell when argv is empty. */
export const LOGIN_SHELL = ['/bin/bash', '-l'];

export function buildExecLaunch(ctx: ExecContext, req: ExecRequest): ExecLaunch {
  const argv = req.argv.length > 0 ? req.argv : LOGIN_SHELL;
  // The client's variables (ssh `env` requests) may not override what makes it the instance's environment.
  const env: Record<string, string> = { ...req.env, ...ctx.env, [INSTANCE_MARKER]: ctx.instanceId };
  if (!req.pty) return { command: argv[0]!, args: argv.slice(1), cwd: ctx.cwd, env, pty: false };
  env.TERM = req.pty.term || 'xterm';
  const rows = Math.max(1, Math.floor(req.pty.rows) || 24);
  const cols = Math.max(1, Math.floor(req.pty.cols) || 80);
  return { command: ctx.pythonPath, args: ['-c', PTY_HELPER, String(rows), String(cols), ...argv], cwd: ctx.cwd, env, pty: true };
}

/** Spawns in its own process group (the caller ends the whole session with a signal to -pid). */
export async function spawnExec(launch: ExecLaunch): Promise<ChildProcess> {
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: launch.env,
    detached: true,
    stdio: launch.pty ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}
