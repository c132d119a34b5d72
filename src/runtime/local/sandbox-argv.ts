// The command lines that put an instance's processes into its cgroup and its bubblewrap sandbox.
// Pure, so every flag is unit-tested; sandbox.ts runs them.
//
// One sandbox per instance run: bwrap's own init is pid 1 of a new PID namespace and the Jupyter
// server is its only child. Everything else of the instance (hooks, SSH sessions) enters that
// sandbox's namespaces with nsenter, so killing the init kills the whole instance, and the
// sandbox ends by itself when Jupyter does. Inside, the instance user is ma-user (uid 1000,
// group users), mapped to an unprivileged host uid of its own; /usr and /etc are read-only,
// HOME and /tmp are private tmpfs, and the volume is bound at /home/ma-user/work.
//
// Launch chain, as root:  sh (join cgroups) → unshare -m (stage the volume) → setpriv (drop to
// the instance's host uid) → bwrap → [gate] → jupyter. The staging step exists because an
// unprivileged bwrap must reach the volume by path, and the data directory is usually not
// traversable by other users (mkdtemp, /root): a private mount namespace binds the volume onto a
// fresh tmpfs at /tmp (opened by fd first, as that tmpfs hides whatever was under /tmp).

export const SANDBOX = {
  user: 'ma-user',
  uid: 1000,
  group: 'users',
  gid: 100,
  home: '/home/ma-user',
  /** The documented mount_path of the instance's volume. */
  work: '/home/ma-user/work',
  tokenFile: '/run/notebookd/token',
} as const;

/** Where the staging namespace binds the volume for bwrap to pick up. */
const STAGED_VOLUME = '/tmp/work';

/** A top-level entry of / re-created inside (/bin → usr/bin on merged-/usr hosts). */
export interface RootEntry {
  path: string;
  /** The link target for a symlink; absent for a directory bound read-only. */
  symlink?: string;
}

export interface SandboxFds {
  /** bwrap writes {"child-pid": …} here once the namespaces exist. */
  info: number;
  /** Read by the gate: the server starts only after "go\n" arrives. */
  gate: number;
  /** Files copied into the sandbox (read-only): the Jupyter token, passwd, group, hosts. */
  token: number;
  passwd: number;
  group: number;
  hosts: number;
}

export interface BwrapInput {
  bwrapPath: string;
  hostname: string;
  rootEntries: readonly RootEntry[];
  /** The volume as bwrap sees it (staged by the launch chain). */
  volumeSource: string;
  fds: SandboxFds;
  /** Size cap of the private /tmp and HOME tmpfs (their pages count against the memory limit too). */
  tmpfsBytes: number;
  command: readonly string[];
}

/** bwrap's argv (without the program itself) for an instance's sandbox. */
export function bwrapArgs(input: BwrapInput): string[] {
  const args: string[] = ['--ro-bind', '/usr', '/usr'];
  for (const entry of input.rootEntries) {
    if (entry.symlink !== undefined) args.push('--symlink', entry.symlink, entry.path);
    else args.push('--ro-bind', entry.path, entry.path);
  }
  const size = String(Math.max(1 << 20, Math.round(input.tmpfsBytes)));
  args.push(
    '--ro-bind', '/etc', '/etc',
    '--ro-bind-data', String(input.fds.passwd), '/etc/passwd',
    '--ro-bind-data', String(input.fds.group), '/etc/group',
    '--ro-bind-data', String(input.fds.hosts), '/etc/hosts',
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', size, '--tmpfs', '/tmp',
    '--size', size, '--tmpfs', SANDBOX.home,
    '--bind', input.volumeSource, SANDBOX.work,
    '--perms', '0400', '--ro-bind-data', String(input.fds.token), SANDBOX.tokenFile,
    // The sandbox's own root (bwrap's tmpfs) read-only too: only the volume, /tmp and HOME take writes.
    '--remount-ro', '/',
    '--chdir', SANDBOX.work,
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--unshare-user', '--uid', String(SANDBOX.uid), '--gid', String(SANDBOX.gid),
    '--disable-userns',
    '--hostname', input.hostname,
    '--new-session',
    '--info-fd', String(input.fds.info),
    '--',
    ...gatedCommand(input.command, input.fds.gate),
  );
  return args;
}

/**
 * Waits for "go" on `fd` before exec'ing the command, so that BLOCK pre_start hooks run inside
 * the sandbox before the server. EOF (notebookd died meanwhile) ends the sandbox with 125.
 */
export function gatedCommand(command: readonly string[], fd: number): string[] {
  if (!Number.isInteger(fd) || fd < 3 || fd > 9) throw new Error(`the gate fd must be 3..9 for sh, got ${fd}`);
  const script = `read -r go <&${fd} || exit 125; exec ${fd}<&-; [ "$go" = go ] || exit 125; exec "$@"`;
  return ['/bin/sh', '-c', script, 'notebookd-gate', ...command];
}

/** Writes its own pid into each cgroup.procs file given first, then execs the rest. */
const JOIN_CGROUPS = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done';

const STAGE_VOLUME = [
  'exec 9<"$1" || exit 125',
  'shift',
  `mount -t tmpfs -o mode=0711,size=64k notebookd-stage /tmp || exit 125`,
  `mkdir ${STAGED_VOLUME} || exit 125`,
  `mount --no-canonicalize --bind /proc/self/fd/9 ${STAGED_VOLUME} || exit 125`,
  'exec 9<&-',
  'exec "$@"',
].join('\n');

export interface Command {
  command: string;
  args: string[];
}

export interface LaunchChainInput {
  cgroupProcs: readonly string[];
  volumeDir: string;
  /** The instance's own host uid/gid, which the sandbox user maps to. */
  hostIds: { uid: number; gid: number };
  bwrap: Omit<BwrapInput, 'volumeSource'>;
}

/**
 * The whole launch chain for the sandbox's first process, run as root (an unprivileged
 * notebookd could start a sandbox but not enter it: bwrap nests the user namespace, and the
 * outer one that owns the mount and IPC namespaces cannot be joined by nsenter).
 */
export function sandboxLaunch(input: LaunchChainInput): Command {
  const join = [String(input.cgroupProcs.length), ...input.cgroupProcs];
  const bwrap = [input.bwrap.bwrapPath, ...bwrapArgs({ ...input.bwrap, volumeSource: STAGED_VOLUME })];
  const drop = ['setpriv', `--reuid=${input.hostIds.uid}`, `--regid=${input.hostIds.gid}`, '--clear-groups', '--'];
  return {
    command: '/bin/sh',
    args: [
      '-c',
      `${JOIN_CGROUPS}; s=$1; shift; exec unshare --mount --propagation private -- /bin/sh -c "$s" notebookd-stage "$@"`,
      'notebookd-launch',
      ...join,
      STAGE_VOLUME,
      input.volumeDir,
      ...drop,
      ...bwrap,
    ],
  };
}

/**
 * A process inside a running sandbox: joins the instance's cgroup, then enters every namespace
 * of the sandbox's init (its root and working directory too) as ma-user. nsenter forks, so the
 * process is really in the PID namespace and dies with the instance.
 */
export function enterSandbox(input: { cgroupProcs: readonly string[]; initPid: number; command: readonly string[] }): Command {
  if (!Number.isInteger(input.initPid) || input.initPid <= 1) throw new Error(`bad sandbox init pid ${input.initPid}`);
  if (input.command.length === 0) throw new Error('a command is required');
  return {
    command: '/bin/sh',
    args: [
      '-c',
      `${JOIN_CGROUPS}; exec "$@"`,
      'notebookd-enter',
      String(input.cgroupProcs.length),
      ...input.cgroupProcs,
      'nsenter',
      `--target=${input.initPid}`,
      '--user', '--mount', '--uts', '--ipc', '--pid',
      '--root', '--wd',
      `--setuid=${SANDBOX.uid}`,
      `--setgid=${SANDBOX.gid}`,
      '--',
      ...input.command,
    ],
  };
}

/** A process on the host (no sandbox) that still joins the instance's cgroup. */
export function inCgroup(cgroupProcs: readonly string[], command: readonly string[]): Command {
  if (cgroupProcs.length === 0) return { command: command[0]!, args: command.slice(1) };
  return { command: '/bin/sh', args: ['-c', `${JOIN_CGROUPS}; exec "$@"`, 'notebookd-cgroup', String(cgroupProcs.length), ...cgroupProcs, ...command] };
}

/** The host's passwd with ma-user as uid 1000 (whoever held 1000 or the name is dropped). */
export function sandboxPasswd(hostPasswd: string): string {
  const kept = hostPasswd.split('\n').filter((line) => {
    const [name, , uid] = line.split(':');
    return line.trim() !== '' && name !== SANDBOX.user && uid !== String(SANDBOX.uid);
  });
  return [...kept, `${SANDBOX.user}:x:${SANDBOX.uid}:${SANDBOX.gid}:ModelArts user:${SANDBOX.home}:/bin/bash`, ''].join('\n');
}

/** The host's group file, with group 100 (users) present. */
export function sandboxGroup(hostGroup: string): string {
  const lines = hostGroup.split('\n').filter((l) => l.trim() !== '');
  if (!lines.some((l) => l.split(':')[2] === String(SANDBOX.gid))) lines.push(`${SANDBOX.group}:x:${SANDBOX.gid}:`);
  return [...lines, ''].join('\n');
}

/** The host's hosts file plus the sandbox's own hostname, so name lookups of it do not stall. */
export function sandboxHosts(hostHosts: string, hostname: string): string {
  return `${hostHosts.trimEnd()}\n127.0.1.1\t${hostname}\n`;
}

/** A hostname (UTS namespace) for an instance: notebook-<first id characters>. */
export function sandboxHostname(instanceId: string): string {
  const tail = instanceId.toLowerCase().replace(/[^a-z0-9-]/g, '').slice(0, 12).replace(/-+$/, '');
  return tail ? `notebook-${tail}` : 'notebook';
}
