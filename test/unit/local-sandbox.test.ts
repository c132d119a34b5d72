// The local runtime's isolation, pure parts: the bwrap sandbox's command lines, the files it
// gets, cgroup path resolution and limit files, mountinfo parsing, hook argv.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroupDirs, instanceCgroup, limitWrites, oomCounterFile, parentWeightWrite, parseCgroupRef, parseFlatKeyed, parseProcCgroup, resolveCgroupParents } from '../../src/runtime/local/cgroup-paths.ts';
import { hookArgv } from '../../src/runtime/local/hooks.ts';
import { buildJupyterLaunch } from '../../src/runtime/local/jupyter-command.ts';
import { instancePaths } from '../../src/runtime/local/layout.ts';
import { mountAt, parseMountinfo } from '../../src/runtime/local/mountinfo.ts';
import {
  bwrapArgs,
  enterSandbox,
  gatedCommand,
  inCgroup,
  SANDBOX,
  sandboxGroup,
  sandboxHostname,
  sandboxHosts,
  sandboxLaunch,
  sandboxPasswd,
} from '../../src/runtime/local/sandbox-argv.ts';

const FDS = { info: 3, gate: 4, token: 5, passwd: 6, group: 7, hosts: 8 };
const BWRAP = {
  bwrapPath: '/usr/bin/bwrap',
  hostname: 'notebook-abc',
  rootEntries: [{ path: '/bin', symlink: 'usr/bin' }, { path: '/lib64' }],
  fds: FDS,
  tmpfsBytes: 512 * 1024 * 1024,
  command: ['/usr/bin/python3', '-m', 'notebook'],
};

/** The values following each occurrence of `flag` in argv. */
function after(argv: string[], flag: string, count = 1): string[][] {
  const out: string[][] = [];
  argv.forEach((a, i) => {
    if (a === flag) out.push(argv.slice(i + 1, i + 1 + count));
  });
  return out;
}

describe('bwrapArgs', () => {
  const argv = bwrapArgs({ ...BWRAP, volumeSource: '/tmp/work' });
  const options = argv.slice(0, argv.indexOf('--'));

  it('binds only /usr and /etc read-only, recreates the root links, and nothing else of the host', () => {
    assert.deepEqual(after(options, '--ro-bind', 2), [
      ['/usr', '/usr'],
      ['/lib64', '/lib64'],
      ['/etc', '/etc'],
    ]);
    assert.deepEqual(after(options, '--symlink', 2), [['usr/bin', '/bin']]);
    assert.deepEqual(after(options, '--bind', 2), [['/tmp/work', SANDBOX.work]], 'the volume is the one writable bind');
  });

  it('gives it private /tmp and HOME of a bounded size, its own /proc and /dev', () => {
    assert.deepEqual(after(options, '--tmpfs'), [['/tmp'], ['/home/ma-user']]);
    assert.deepEqual(after(options, '--size'), [['536870912'], ['536870912']]);
    assert.deepEqual(after(options, '--proc'), [['/proc']]);
    assert.deepEqual(after(options, '--dev'), [['/dev']]);
    assert.deepEqual(after(options, '--remount-ro'), [['/']], 'the root itself takes no writes');
  });

  it('unshares PID, IPC, UTS and user namespaces; runs as ma-user (1000:100) with no way to nest namespaces', () => {
    for (const flag of ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-user', '--disable-userns', '--new-session']) {
      assert.ok(options.includes(flag), flag);
    }
    assert.deepEqual(after(options, '--uid'), [['1000']]);
    assert.deepEqual(after(options, '--gid'), [['100']]);
    assert.deepEqual(after(options, '--hostname'), [['notebook-abc']]);
    assert.ok(!options.includes('--die-with-parent'), 'servers outlive notebookd');
    assert.ok(!options.includes('--unshare-net'), 'the server listens on the host loopback');
  });

  it('copies the token, passwd, group and hosts in from fds (no host path of notebookd is visible)', () => {
    assert.deepEqual(after(options, '--ro-bind-data', 2), [
      ['6', '/etc/passwd'],
      ['7', '/etc/group'],
      ['8', '/etc/hosts'],
      ['5', '/run/notebookd/token'],
    ]);
    assert.deepEqual(after(options, '--perms'), [['0400']]);
    assert.deepEqual(after(options, '--info-fd'), [['3']]);
    assert.deepEqual(after(options, '--chdir'), [[SANDBOX.work]]);
  });

  it('holds the command at the gate', () => {
    assert.deepEqual(argv.slice(argv.indexOf('--') + 1), gatedCommand(BWRAP.command, 4));
  });
});

describe('gatedCommand', () => {
  it('execs the command only after reading "go" on its fd, and closes that fd first', () => {
    const argv = gatedCommand(['/usr/bin/python3', '-m', 'notebook'], 4);
    assert.deepEqual(argv.slice(0, 2), ['/bin/sh', '-c']);
    assert.equal(argv[2], 'read -r go <&4 || exit 125; exec 4<&-; [ "$go" = go ] || exit 125; exec "$@"');
    assert.deepEqual(argv.slice(3), ['notebookd-gate', '/usr/bin/python3', '-m', 'notebook']);
  });
  it('refuses an fd sh cannot name', () => {
    assert.throws(() => gatedCommand(['x'], 12), /3\.\.9/);
  });
});

describe('sandboxLaunch', () => {
  const procs = ['/sys/fs/cgroup/memory/nb/i/cgroup.procs', '/sys/fs/cgroup/pids/nb/i/cgroup.procs'];

  it('joins the cgroups, stages the volume in a private mount namespace, drops to the host uid, then bwrap', () => {
    const { command, args } = sandboxLaunch({ cgroupProcs: procs, volumeDir: '/srv/nb/volumes/i', hostIds: { uid: 912345, gid: 912345 }, bwrap: BWRAP });
    assert.equal(command, '/bin/sh');
    assert.match(args[1]!, /echo \$\$ > "\$1"/);
    assert.match(args[1]!, /exec unshare --mount --propagation private -- \/bin\/sh -c "\$s" notebookd-stage "\$@"$/);
    const rest = args.slice(2);
    assert.deepEqual(rest.slice(0, 4), ['notebookd-launch', '2', ...procs]);
    const stage = rest[4]!;
    assert.match(stage, /^exec 9<"\$1" \|\| exit 125$/m, 'the volume is opened before /tmp is covered');
    assert.match(stage, /mount --no-canonicalize --bind \/proc\/self\/fd\/9 \/tmp\/work/);
    assert.match(stage, /exec 9<&-/, 'the sandbox gets no fd of the host volume path');
    assert.equal(rest[5], '/srv/nb/volumes/i');
    assert.deepEqual(rest.slice(6, 11), ['setpriv', '--reuid=912345', '--regid=912345', '--clear-groups', '--']);
    assert.equal(rest[11], '/usr/bin/bwrap');
    assert.deepEqual(after(rest, '--bind', 2), [['/tmp/work', SANDBOX.work]]);
  });

});

describe('enterSandbox and inCgroup', () => {
  it('joins the cgroup, then nsenter into every namespace of the init, its root and cwd, as ma-user', () => {
    const { command, args } = enterSandbox({ cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs'], initPid: 4242, command: ['/bin/sh', '-c', 'id'] });
    assert.equal(command, '/bin/sh');
    const tail = args.slice(args.indexOf('nsenter'));
    assert.deepEqual(tail, [
      'nsenter', '--target=4242', '--user', '--mount', '--uts', '--ipc', '--pid', '--root', '--wd', '--setuid=1000', '--setgid=100', '--', '/bin/sh', '-c', 'id',
    ]);
    assert.deepEqual(args.slice(2, 5), ['notebookd-enter', '1', '/sys/fs/cgroup/pids/x/cgroup.procs']);
  });
  it('refuses pid 1 and an empty command', () => {
    assert.throws(() => enterSandbox({ cgroupProcs: [], initPid: 1, command: ['x'] }), /init pid/);
    assert.throws(() => enterSandbox({ cgroupProcs: [], initPid: 7, command: [] }), /command/);
  });
  it('inCgroup is the command itself without cgroups, and a joining wrapper with them', () => {
    assert.deepEqual(inCgroup([], ['/usr/bin/python3', '-V']), { command: '/usr/bin/python3', args: ['-V'] });
    const wrapped = inCgroup(['/a/cgroup.procs'], ['/usr/bin/python3', '-V']);
    assert.deepEqual(wrapped.args.slice(2), ['notebookd-cgroup', '1', '/a/cgroup.procs', '/usr/bin/python3', '-V']);
  });
});

describe('the files a sandbox gets', () => {
  it('passwd: ma-user is uid 1000 whoever holds it on the host', () => {
    const host = 'root:x:0:0:root:/root:/bin/bash\ncloudsdk:x:1000:1000::/home/cloudsdk:/bin/sh\nma-user:x:1234:1234::/x:/bin/sh\n';
    assert.equal(sandboxPasswd(host), 'root:x:0:0:root:/root:/bin/bash\nma-user:x:1000:100:ModelArts user:/home/ma-user:/bin/bash\n');
  });
  it('group: users (100) exists', () => {
    assert.equal(sandboxGroup('root:x:0:\nusers:x:100:\n'), 'root:x:0:\nusers:x:100:\n');
    assert.equal(sandboxGroup('root:x:0:\n'), 'root:x:0:\nusers:x:100:\n');
  });
  it('hosts: the sandbox hostname resolves locally', () => {
    assert.equal(sandboxHosts('127.0.0.1\tlocalhost\n\n', 'notebook-abc'), '127.0.0.1\tlocalhost\n127.0.1.1\tnotebook-abc\n');
  });
  for (const [id, name] of [
    ['5b1f7c1e-8a7d-4c1e-9d2a-000000000001', 'notebook-5b1f7c1e-8a7'],
    ['LT_1', 'notebook-lt1'],
    ['---', 'notebook'],
  ] as const) {
    it(`hostname of ${id} is ${name}`, () => assert.equal(sandboxHostname(id), name));
  }
});

describe('buildJupyterLaunch in a sandbox', () => {
  it('serves /home/ma-user/work, reads the token from the copied file, HOME is the private tmpfs', () => {
    const paths = instancePaths('/srv/nb', 'inst-1');
    const launch = buildJupyterLaunch({
      program: 'jupyter_server',
      pythonPath: '/usr/bin/python3',
      host: '127.0.0.1',
      port: 4000,
      basePath: '/nb/inst-1/',
      paths,
      hostEnv: { LANG: 'C.UTF-8', SECRET: 'x' },
      sandboxed: true,
    });
    assert.ok(launch.args.includes('--ServerApp.root_dir=/home/ma-user/work'));
    assert.equal(launch.cwd, '/home/ma-user/work');
    assert.equal(launch.env.HOME, '/home/ma-user');
    assert.equal(launch.env.USER, 'ma-user');
    assert.equal(launch.env.JUPYTER_TOKEN_FILE, '/run/notebookd/token');
    assert.equal(launch.env.SECRET, undefined);
    assert.ok(!Object.values(launch.env).some((v) => v.includes('/srv/nb')), 'no host path of notebookd');
  });
});

describe('hookArgv', () => {
  it('runs a COMMAND with /bin/sh -c', () => {
    assert.deepEqual(hookArgv({ type: 'COMMAND', mode: 'BLOCK', script: Buffer.from('echo hi').toString('base64') }), ['/bin/sh', '-c', 'echo hi']);
  });
  it('resolves a SCRIPT where it runs (inside the sandbox), not on the host', () => {
    const argv = hookArgv({ type: 'SCRIPT', mode: 'BLOCK', script: '/home/ma-user/work/setup.sh' });
    assert.deepEqual([argv[0], argv[1], argv[3], argv[4]], ['/bin/sh', '-c', 'notebookd-hook', '/home/ma-user/work/setup.sh']);
    assert.match(argv[2]!, /does not exist.*exit 127/);
  });
  it('refuses a relative SCRIPT path', () => {
    assert.throws(() => hookArgv({ type: 'SCRIPT', mode: 'BLOCK', script: 'setup.sh' }), /absolute/);
  });
});

// ---- cgroups ----

/** This host: hybrid, v1 controllers each in its own hierarchy, memory nested under a job's cgroup. */
const HYBRID_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
4:memory:/process_api/0901
2:cpuacct:/
1:cpu:/
0::/
`;
const HYBRID_MOUNTS = parseMountinfo(
  [
    '25 1 0:22 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755',
    '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
    '28 25 0:25 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu',
    '29 25 0:26 / /sys/fs/cgroup/cpuacct rw,nosuid - cgroup cgroup rw,cpuacct',
    '31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '34 25 0:31 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
  ].join('\n'),
);

describe('resolveCgroupParents', () => {
  it('v1 (hybrid host): nests under notebookd\'s own cgroup in every hierarchy, never at a root', () => {
    const r = resolveCgroupParents(parseProcCgroup(HYBRID_CGROUP), HYBRID_MOUNTS, '', []);
    assert.ok(!('error' in r));
    assert.deepEqual(r.layout, {
      version: 1,
      dirs: {
        memory: '/sys/fs/cgroup/memory/process_api/0901/notebookd',
        cpu: '/sys/fs/cgroup/cpu/notebookd',
        cpuacct: '/sys/fs/cgroup/cpuacct/notebookd',
        pids: '/sys/fs/cgroup/pids/notebookd',
      },
    });
    assert.deepEqual(r.missing, []);
    assert.deepEqual(instanceCgroup(r.layout, 'i-1'), {
      version: 1,
      dirs: {
        memory: '/sys/fs/cgroup/memory/process_api/0901/notebookd/i-1',
        cpu: '/sys/fs/cgroup/cpu/notebookd/i-1',
        cpuacct: '/sys/fs/cgroup/cpuacct/notebookd/i-1',
        pids: '/sys/fs/cgroup/pids/notebookd/i-1',
      },
    });
  });

  it('v1 with cpu,cpuacct co-mounted: one directory for both', () => {
    const mounts = parseMountinfo('28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n31 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory');
    const r = resolveCgroupParents(parseProcCgroup('3:cpu,cpuacct:/svc\n2:memory:/svc\n'), mounts, '', []);
    assert.ok(!('error' in r));
    assert.deepEqual(cgroupDirs(instanceCgroup(r.layout, 'x')), ['/sys/fs/cgroup/memory/svc/notebookd/x', '/sys/fs/cgroup/cpu,cpuacct/svc/notebookd/x']);
    assert.deepEqual(r.missing, ['pids']);
  });

  it('a mount of a sub-tree (container): paths are taken relative to the mount root', () => {
    const mounts = parseMountinfo('31 25 0:28 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory');
    const r = resolveCgroupParents(parseProcCgroup('4:memory:/docker/abc/svc\n'), mounts, '', []);
    assert.ok(!('error' in r));
    assert.deepEqual(r.layout, { version: 1, dirs: { memory: '/sys/fs/cgroup/memory/svc/notebookd' } });
  });

  it('an operator-chosen root is used as given in every hierarchy', () => {
    const r = resolveCgroupParents(parseProcCgroup(HYBRID_CGROUP), HYBRID_MOUNTS, '/batch/notebooks', []);
    assert.ok(!('error' in r));
    assert.equal(r.layout.version === 1 && r.layout.dirs.memory, '/sys/fs/cgroup/memory/batch/notebooks');
  });

  it('v2 when the unified hierarchy has memory, cpu and pids', () => {
    const mounts = parseMountinfo('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate');
    const r = resolveCgroupParents(parseProcCgroup('0::/system.slice/notebookd.service\n'), mounts, '', ['cpuset', 'cpu', 'io', 'memory', 'pids']);
    assert.ok(!('error' in r));
    assert.deepEqual(r.layout, { version: 2, dir: '/sys/fs/cgroup/system.slice/notebookd.service/notebookd' });
  });

  it('says why when no controller is mounted', () => {
    const r = resolveCgroupParents(parseProcCgroup('0::/\n'), parseMountinfo(''), '', []);
    assert.ok('error' in r && /no cgroup hierarchy/.test(r.error));
  });
});

describe('limitWrites', () => {
  const limits = { memoryMb: 512, vcpus: 1.5, pidsMax: 256 };
  it('v1: memory (and memory+swap) limit, CFS quota from vCPUs, pids.max', () => {
    const ref = { version: 1 as const, dirs: { memory: '/m', cpu: '/c', cpuacct: '/a', pids: '/p' } };
    assert.deepEqual(limitWrites(ref, limits), [
      { dir: '/m', file: 'memory.limit_in_bytes', value: '536870912' },
      { dir: '/m', file: 'memory.memsw.limit_in_bytes', value: '536870912', optional: true },
      { dir: '/c', file: 'cpu.cfs_period_us', value: '100000' },
      { dir: '/c', file: 'cpu.cfs_quota_us', value: '150000' },
      { dir: '/c', file: 'cpu.shares', value: '1536' },
      { dir: '/p', file: 'pids.max', value: '256' },
    ]);
  });
  it('v2: memory.max, no swap, cpu.max, pids.max', () => {
    assert.deepEqual(limitWrites({ version: 2, dir: '/g' }, limits), [
      { dir: '/g', file: 'memory.max', value: '536870912' },
      { dir: '/g', file: 'memory.swap.max', value: '0', optional: true },
      { dir: '/g', file: 'cpu.max', value: '150000 100000' },
      { dir: '/g', file: 'cpu.weight', value: '150' },
      { dir: '/g', file: 'pids.max', value: '256' },
    ]);
  });
  it('the parent weighs as much as all its instances together (at least one CPU)', () => {
    assert.deepEqual(parentWeightWrite({ version: 1, dirs: { cpu: '/c', memory: '/m' } }, 6.5), { dir: '/c', file: 'cpu.shares', value: '6656' });
    assert.deepEqual(parentWeightWrite({ version: 1, dirs: { cpu: '/c' } }, 0), { dir: '/c', file: 'cpu.shares', value: '1024' });
    assert.deepEqual(parentWeightWrite({ version: 2, dir: '/g' }, 3), { dir: '/g', file: 'cpu.weight', value: '300' });
    assert.equal(parentWeightWrite({ version: 1, dirs: { memory: '/m' } }, 3), null);
  });
  it('the OOM counter is memory.oom_control (v1) or memory.events (v2), key oom_kill', () => {
    assert.deepEqual(oomCounterFile({ version: 1, dirs: { memory: '/m' } }), { path: '/m/memory.oom_control', key: 'oom_kill' });
    assert.deepEqual(oomCounterFile({ version: 2, dir: '/g' }), { path: '/g/memory.events', key: 'oom_kill' });
    assert.equal(oomCounterFile({ version: 1, dirs: { pids: '/p' } }), null);
  });
});

describe('parseFlatKeyed', () => {
  it('reads memory.oom_control and cpu.stat', () => {
    assert.deepEqual(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), { oom_kill_disable: 0, under_oom: 0, oom_kill: 3 });
    assert.deepEqual(parseFlatKeyed('nr_periods 23\nnr_throttled 21\nthrottled_time 1932\n'), { nr_periods: 23, nr_throttled: 21, throttled_time: 1932 });
  });
});

describe('parseCgroupRef (from a stored handle)', () => {
  it('accepts absolute paths under /sys/fs/cgroup', () => {
    const ref = { version: 1, dirs: { memory: '/sys/fs/cgroup/memory/nb/x', pids: '/sys/fs/cgroup/pids/nb/x' } };
    assert.deepEqual(parseCgroupRef(ref), ref);
    assert.deepEqual(parseCgroupRef({ version: 2, dir: '/sys/fs/cgroup/nb/x' }), { version: 2, dir: '/sys/fs/cgroup/nb/x' });
  });
  for (const bad of [
    null,
    { version: 3 },
    { version: 2, dir: '/etc' },
    { version: 2, dir: '/sys/fs/cgroup/../../etc' },
    { version: 1, dirs: { memory: 'relative' } },
    { version: 1, dirs: { memory: 7 } },
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseCgroupRef(bad), null));
  }
});

describe('parseMountinfo', () => {
  it('parses optional fields and unescapes spaces in paths', () => {
    const [m] = parseMountinfo('120 106 7:3 / /srv/nb/volumes/my\\040vol rw,nosuid,nodev,noatime shared:70 - xfs /dev/loop3 rw,attr2,noquota');
    assert.deepEqual(m, {
      mountId: 120,
      parentId: 106,
      root: '/',
      mountPoint: '/srv/nb/volumes/my vol',
      mountOptions: ['rw', 'nosuid', 'nodev', 'noatime'],
      fstype: 'xfs',
      source: '/dev/loop3',
      superOptions: ['rw', 'attr2', 'noquota'],
    });
  });
  it('mountAt finds the topmost mount on a path', () => {
    const mounts = parseMountinfo('1 0 1:1 / /a rw - ext4 /dev/x rw\n2 1 1:2 / /a rw - xfs /dev/loop0 rw\n');
    assert.equal(mountAt(mounts, '/a')?.source, '/dev/loop0');
    assert.equal(mountAt(mounts, '/b'), undefined);
  });
});
