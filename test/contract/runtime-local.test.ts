// The local runtime against real Jupyter servers (Debian's notebook and jupyter_server), plus
// what only the local runtime promises: detached servers, no credentials on argv or in the
// environment, pid-reuse safety with real processes, crash reasons, port re-allocation.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, readlink, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { descendants, readProcStat } from '../../src/runtime/local/process-identity.ts';
import type { ProcessIdentity } from '../../src/runtime/local/process-identity.ts';
import { terminate } from '../../src/runtime/local/terminate.ts';
import type { InstanceSpec, Launched, Runtime, RuntimeHandle } from '../../src/runtime/runtime.ts';
import { runRuntimeContract } from './runtime.contract.ts';
import { waitFor } from '../support/wait.ts';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Stops every server recorded under dataDir (a safety net behind each test's own stops), then removes it. */
async function removeDataDir(dataDir: string): Promise<void> {
  const sweeper = createLocalRuntime({ dataDir });
  const ids = await readdir(join(dataDir, 'instances')).catch(() => [] as string[]);
  for (const id of ids) await sweeper.destroy(id).catch(() => {});
  await rm(dataDir, { recursive: true, force: true });
}

/** What the local runtime does where the host lacks a sandbox, loop mounts and cgroups. */
const HOST_MODE = { sandbox: 'off', storage: 'directory', limits: 'off' } as const;

// This host (and CI) has bubblewrap, cgroup v1 and loop devices: the default runtime declares all three.
for (const [name, options, expected] of [
  ['local (sandboxed, limited, image volumes)', {}, { isolation: true, memoryLimit: true, volumeCapacity: true }],
  ['local (no sandbox, directory volumes)', HOST_MODE, {}],
] as const) {
  runRuntimeContract(name, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'notebookd-local-contract-'));
    return {
      runtime: createLocalRuntime({ dataDir, ...options }),
      reopen: async () => createLocalRuntime({ dataDir, ...options }),
      cleanup: () => removeDataDir(dataDir),
      programs: ['notebook', 'jupyter_server'],
      forgeStaleHandle: (real) => ({ ...real, startTime: (real as unknown as LocalHandle).startTime + 1 }),
      crash: async (launched) => {
        process.kill((launched.handle as unknown as LocalHandle).pid, 'SIGKILL');
      },
      storageExists: async (id) =>
        (await exists(join(dataDir, 'volumes', id))) || (await exists(join(dataDir, 'volumes', `${id}.img`))) || (await exists(join(dataDir, 'instances', id))),
    };
  }, expected);
}

async function ready(launched: Launched): Promise<void> {
  const { origin, basePath, jupyterToken } = launched.target;
  await waitFor('api/status 200', 20_000, async () => {
    try {
      const res = await fetch(`${origin}${basePath}api/status`, { headers: { Authorization: `token ${jupyterToken}` } });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  });
}

const alive = async (pid: number) => {
  const s = await readProcStat(pid);
  return s !== null && s.state !== 'Z';
};

describe('local runtime', () => {
  let dataDir: string;
  let runtime: Runtime;
  /** The same data directory without a sandbox, loop mounts or cgroups. */
  let hostRuntime: Runtime;
  const handles: RuntimeHandle[] = [];
  /** Processes a test started itself; killed in after() only if still the same process. */
  const strays: ProcessIdentity[] = [];
  let seq = 0;

  const spec = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => {
    const instanceId = overrides.instanceId ?? `lt-${++seq}`;
    return {
      instanceId,
      basePath: `/nb/${instanceId}/`,
      jupyterToken: randomBytes(16).toString('hex'),
      program: 'jupyter_server',
      imageId: 'img',
      vcpus: 1,
      memoryMb: 512,
      capacityGb: 5,
      hooks: null,
      ...overrides,
    };
  };
  const launch = async (s: InstanceSpec, on: Runtime = runtime) => {
    await on.prepare(s, () => {});
    const launched = await on.start(s);
    handles.push(launched.handle);
    return launched;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-local-'));
    runtime = createLocalRuntime({ dataDir });
    hostRuntime = createLocalRuntime({ dataDir, ...HOST_MODE });
  });

  after(async () => {
    for (const handle of handles) await runtime.stop(handle, 1_000).catch(() => {});
    for (const stray of strays) await terminate(stray, 0);
    await removeDataDir(dataDir);
  });

  it('without a sandbox: lays the instance out as volumes/<id> and instances/<id>, and runs the server detached in the volume', async () => {
    const previous = process.env.NOTEBOOKD_TEST_SECRET;
    process.env.NOTEBOOKD_TEST_SECRET = 'must-not-leak';
    const s = spec();
    let launched: Launched;
    try {
      launched = await launch(s, hostRuntime);
    } finally {
      if (previous === undefined) delete process.env.NOTEBOOKD_TEST_SECRET;
      else process.env.NOTEBOOKD_TEST_SECRET = previous;
    }
    const handle = launched.handle as unknown as LocalHandle;
    const volume = join(dataDir, 'volumes', s.instanceId);
    const instance = join(dataDir, 'instances', s.instanceId);
    assert.deepEqual(Object.keys(handle).sort(), ['bootId', 'instanceId', 'kind', 'memoryMb', 'pid', 'port', 'program', 'startTime', 'v']);
    assert.equal(launched.target.origin, `http://127.0.0.1:${handle.port}`);
    await ready(launched);

    const procStat = await readProcStat(handle.pid);
    assert.equal(procStat?.startTime, handle.startTime);
    assert.equal(procStat?.pgid, handle.pid, 'own process group');
    assert.equal(procStat?.sid, handle.pid, 'own session: notebookd dying does not take it along');
    assert.equal(await readlink(`/proc/${handle.pid}/cwd`), volume);
    const argv = (await readFile(`/proc/${handle.pid}/cmdline`, 'utf8')).split('\0');
    assert.ok(!argv.some((a) => a.includes(s.jupyterToken)), 'the token is not on the command line');
    const env = (await readFile(`/proc/${handle.pid}/environ`, 'utf8')).split('\0');
    assert.ok(!env.some((e) => e.includes(s.jupyterToken)), 'the token is not in the environment');
    assert.ok(!env.some((e) => e.startsWith('NOTEBOOKD_TEST_SECRET=')), "notebookd's environment does not leak");
    assert.ok(env.includes(`HOME=${volume}`));
    assert.ok(env.includes(`JUPYTER_RUNTIME_DIR=${join(instance, 'runtime')}`));
    assert.ok(env.includes('PYDEVD_DISABLE_FILE_VALIDATION=1'));
    assert.equal((await stat(join(instance, 'token'))).mode & 0o777, 0o600);
    assert.ok(await exists(join(instance, 'jupyter.log')));

    await hostRuntime.stop(launched.handle, 5_000);
    assert.equal(await alive(handle.pid), false);
  });

  it('in a sandbox: the server is the only child of the sandbox init, runs as the instance user in /home/ma-user/work, and holds no secret', async () => {
    const previous = process.env.NOTEBOOKD_TEST_SECRET;
    process.env.NOTEBOOKD_TEST_SECRET = 'must-not-leak';
    const s = spec();
    let launched: Launched;
    try {
      launched = await launch(s);
    } finally {
      if (previous === undefined) delete process.env.NOTEBOOKD_TEST_SECRET;
      else process.env.NOTEBOOKD_TEST_SECRET = previous;
    }
    const handle = launched.handle as unknown as LocalHandle;
    assert.deepEqual(Object.keys(handle).sort(), ['bootId', 'cgroup', 'instanceId', 'kind', 'memoryMb', 'pid', 'port', 'program', 'sandboxed', 'startTime', 'v']);
    assert.equal(handle.sandboxed, true, 'bubblewrap is installed here: instances are sandboxed');
    await ready(launched);

    const init = await readProcStat(handle.pid);
    assert.equal(init?.startTime, handle.startTime);
    const [server] = await waitFor('the server under the sandbox init', 5_000, async () => {
      const found = [];
      for (const d of await descendants(handle.pid)) if ((await readProcStat(d.pid))?.ppid === handle.pid) found.push(d);
      return found.length ? found : null;
    });
    const status = await readFile(`/proc/${server!.pid}/status`, 'utf8');
    assert.match(status, /^NSpid:\s+\d+\s+2$/m, 'the server is pid 2 in its own PID namespace');
    const hostUid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    const recorded = JSON.parse(await readFile(join(dataDir, 'instances', s.instanceId, 'sandbox.json'), 'utf8')) as { uid: number };
    assert.equal(hostUid, recorded.uid, 'the instance runs as its own host uid');
    assert.ok(hostUid >= 900_000, 'an unprivileged host uid');
    assert.equal(await readlink(`/proc/${server!.pid}/cwd`), '/home/ma-user/work');
    const argv = (await readFile(`/proc/${server!.pid}/cmdline`, 'utf8')).split('\0');
    assert.ok(argv.includes('--ServerApp.root_dir=/home/ma-user/work'), argv.join(' '));
    assert.ok(!argv.some((a) => a.includes(s.jupyterToken)), 'the token is not on the command line');
    const env = (await readFile(`/proc/${server!.pid}/environ`, 'utf8')).split('\0');
    assert.ok(!env.some((e) => e.includes(s.jupyterToken)), 'the token is not in the environment');
    assert.ok(!env.some((e) => e.startsWith('NOTEBOOKD_TEST_SECRET=')), "notebookd's environment does not leak");
    assert.ok(env.includes('HOME=/home/ma-user'));
    assert.ok(env.includes('USER=ma-user'));
    assert.ok(env.includes('JUPYTER_TOKEN_FILE=/run/notebookd/token'));
    // The volume is an XFS image of the asked capacity, mounted at volumes/<id>.
    const volume = join(dataDir, 'volumes', s.instanceId);
    assert.equal((await stat(`${volume}.img`)).size, 5 * 1024 ** 3);
    assert.ok((await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${volume} `), 'mounted');

    await runtime.stop(launched.handle, 5_000);
    assert.equal(await alive(handle.pid), false);
    assert.equal(await alive(server!.pid), false);
    assert.ok((await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${volume} `), 'stays mounted while stopped: its files stay where operators look');
  });

  for (const [graceMs, sandboxed] of [
    [5_000, true],
    [0, true],
    [0, false],
  ] as const) {
    it(`kernels start in the volume, and stop (grace ${graceMs} ms) leaves no kernel behind (${sandboxed ? 'sandboxed' : 'no sandbox'})`, async () => {
      const s = spec({ program: graceMs ? 'notebook' : 'jupyter_server' });
      const on = sandboxed ? runtime : hostRuntime;
      const launched = await launch(s, on);
      await ready(launched);
      const { origin, basePath, jupyterToken } = launched.target;
      // No "path": the kernel gets the server's cwd, which must be the volume.
      const res = await fetch(`${origin}${basePath}api/kernels`, {
        method: 'POST',
        headers: { Authorization: `token ${jupyterToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'python3' }),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 201);
      const serverPid = (launched.handle as unknown as LocalHandle).pid;
      const kernel = await waitFor('the kernel process', 20_000, async () => {
        for (const child of await descendants(serverPid)) {
          const argv = await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '');
          if (argv.includes('ipykernel_launcher')) return child;
        }
        return null;
      });
      strays.push(kernel);
      assert.equal(await readlink(`/proc/${kernel.pid}/cwd`), sandboxed ? '/home/ma-user/work' : join(dataDir, 'volumes', s.instanceId));
      await on.stop(launched.handle, graceMs);
      await waitFor('the kernel to end', 10_000, async () => !(await alive(kernel.pid)));
    });
  }

  it('the server outlives a notebookd that is killed with SIGKILL, and is adopted afterwards', async () => {
    const s = spec();
    await runtime.prepare(s, () => {});
    // A stand-in notebookd: starts the instance, prints the handle, then waits to be killed.
    const script = [
      "import { createLocalRuntime } from './src/runtime/local/local-runtime.ts';",
      'const rt = createLocalRuntime({ dataDir: process.env.NB_DATA_DIR });',
      'const launched = await rt.start(JSON.parse(process.env.NB_SPEC));',
      'console.log(JSON.stringify(launched));',
      'setInterval(() => {}, 60_000);',
    ].join('\n');
    const notebookd = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, NB_DATA_DIR: dataDir, NB_SPEC: JSON.stringify(s) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    notebookd.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise((resolve) => notebookd.once('exit', resolve));
    const launched = await waitFor('the handle from the child notebookd', 20_000, async () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as Launched) : null;
    });
    handles.push(launched.handle);
    notebookd.kill('SIGKILL');
    await exited;
    await ready(launched);
    assert.deepEqual(await runtime.poll(launched.handle), { state: 'running' });
    await runtime.stop(launched.handle, 5_000);
    assert.equal(await alive((launched.handle as unknown as LocalHandle).pid), false);
  });

  it('a handle naming a live process with another start time is lost, and stop never signals it', async () => {
    // A live process in its own group, standing in for whoever got our old pid.
    const victim = spawn('/bin/sleep', ['60'], { detached: true, stdio: 'ignore' });
    victim.unref();
    const victimStat = await waitFor('the victim to exist', 5_000, () => readProcStat(victim.pid!));
    strays.push(victimStat);
    const self = await readProcStat(process.pid);
    for (const [pid, startTime] of [
      [victim.pid!, victimStat.startTime + 7],
      [process.pid, self!.startTime + 7],
    ] as const) {
      const forged = {
        v: 1,
        kind: 'local',
        instanceId: 'lt-forged',
        program: 'notebook',
        pid,
        startTime,
        bootId: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
        port: 1,
      };
      const result = await runtime.poll(forged);
      assert.equal(result.state, 'lost');
      assert.match((result as { reason: string }).reason, /another process|gone/);
      await runtime.stop(forged, 100);
      assert.equal(await alive(pid), true, `pid ${pid} survived`);
    }
  });

  it('kill -9 of the server: the runtime that spawned it says exited (SIGKILL), a restarted one says lost', async () => {
    const launched = await launch(spec());
    await ready(launched);
    const handle = launched.handle as unknown as LocalHandle;
    process.kill(handle.pid, 'SIGKILL');
    const result = await waitFor('the exit to be seen', 10_000, async () => {
      const r = await runtime.poll(launched.handle);
      return r.state === 'running' ? null : r;
    });
    assert.equal(result.state, 'exited');
    assert.equal(result.state === 'exited' && result.exitCode, null);
    assert.match((result as { reason: string }).reason, /killed by SIGKILL/);
    assert.match((result as { reason: string }).reason, /last log lines/);
    assert.equal(result.state === 'exited' && result.retryable, undefined, 'a killed server is not retried');

    const restarted = createLocalRuntime({ dataDir });
    const lost = await restarted.poll(launched.handle);
    assert.equal(lost.state, 'lost');
    assert.match((lost as { reason: string }).reason, /is gone/);
  });

  it('start moves to another port when the remembered one is taken', async () => {
    const s = spec();
    await runtime.prepare(s, () => {});
    const remembered = Number(await readFile(join(dataDir, 'instances', s.instanceId, 'port'), 'utf8'));
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(remembered, '127.0.0.1', resolve));
    try {
      const launched = await runtime.start(s);
      handles.push(launched.handle);
      assert.notEqual((launched.handle as unknown as LocalHandle).port, remembered);
      await ready(launched);
      await runtime.stop(launched.handle, 5_000);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('a port taken after it was chosen but before Jupyter bound it is a retryable exit, and the next start picks another', async () => {
    const s = spec();
    await runtime.prepare(s, () => {});
    const launched = await runtime.start(s);
    handles.push(launched.handle);
    const taken = (launched.handle as unknown as LocalHandle).port;
    // Python needs far longer to import Jupyter than this listen takes: the squatter binds first.
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(taken, '127.0.0.1', resolve));
    try {
      const exited = await waitFor('the server to exit', 30_000, async () => {
        const seen = await runtime.poll(launched.handle);
        return seen.state === 'exited' ? seen : null;
      });
      assert.match(exited.retryable ?? '', new RegExp(`port ${taken} was taken`), exited.reason);
      const again = await runtime.start(s);
      handles.push(again.handle);
      assert.notEqual((again.handle as unknown as LocalHandle).port, taken);
      await ready(again);
      await runtime.stop(again.handle, 5_000);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('a second start of a running instance replaces the old server (its token is stale)', async () => {
    const s = spec();
    const first = await launch(s);
    await ready(first);
    const second = await runtime.start({ ...s, jupyterToken: randomBytes(16).toString('hex') });
    handles.push(second.handle);
    assert.notEqual((await runtime.poll(first.handle)).state, 'running');
    await ready(second);
    await runtime.stop(second.handle, 5_000);
  });

  it('a failing pre_start hook leaves its output in hooks.log and launches nothing', async () => {
    const s = spec({ hooks: { preStart: { type: 'COMMAND', mode: 'BLOCK', script: Buffer.from('echo "no GPU here" >&2; exit 3').toString('base64') } } });
    await runtime.prepare(s, () => {});
    await assert.rejects(() => runtime.start(s), /pre_start hook \(COMMAND, BLOCK\) failed with exit code 3; last output:\nno GPU here/);
    const hooksLog = await readFile(join(dataDir, 'instances', s.instanceId, 'hooks.log'), 'utf8');
    assert.match(hooksLog, /no GPU here/);
    assert.equal(await exists(join(dataDir, 'instances', s.instanceId, 'server.json')), false);
  });

  it('without a sandbox, a SCRIPT pre_start hook runs the file at its host path, in the volume', async () => {
    const script = join(dataDir, 'pre-start.sh');
    await writeFile(script, '#!/bin/sh\npwd > where.txt\n', { mode: 0o755 });
    const s = spec({ hooks: { preStart: { type: 'SCRIPT', mode: 'BLOCK', script } } });
    const launched = await launch(s, hostRuntime);
    const volume = join(dataDir, 'volumes', s.instanceId);
    assert.equal((await readFile(join(volume, 'where.txt'), 'utf8')).trim(), volume);
    await hostRuntime.stop(launched.handle, 5_000);
  });

  it('in a sandbox, a SCRIPT path is resolved inside it: /home/ma-user/work/... runs, a host path does not exist', async () => {
    const s = spec({ hooks: { preStart: { type: 'SCRIPT', mode: 'BLOCK', script: '/home/ma-user/work/setup.sh' } } });
    await runtime.prepare(s, () => {});
    const volume = join(dataDir, 'volumes', s.instanceId);
    await writeFile(join(volume, 'setup.sh'), 'pwd > where.txt\nid -un >> where.txt\n'); // not executable: run by /bin/sh
    const launched = await runtime.start(s);
    handles.push(launched.handle);
    assert.equal(await readFile(join(volume, 'where.txt'), 'utf8'), '/home/ma-user/work\nma-user\n');
    await runtime.stop(launched.handle, 5_000);

    const hostPath = join(dataDir, 'pre-start-on-host.sh');
    await writeFile(hostPath, '#!/bin/sh\ntouch escaped\n', { mode: 0o755 });
    const outside = spec({ hooks: { preStart: { type: 'SCRIPT', mode: 'BLOCK', script: hostPath } } });
    await runtime.prepare(outside, () => {});
    await assert.rejects(() => runtime.start(outside), new RegExp(`exit code 127; last output:\\nhook script ${hostPath} does not exist`));
  });

  it('an ASYNC pre_start hook runs in the background, and stop ends it with the server', async () => {
    const script = Buffer.from('echo started > async.txt; sleep 60').toString('base64');
    const s = spec({ hooks: { preStart: { type: 'COMMAND', mode: 'ASYNC', script } } });
    const launched = await launch(s);
    const volume = join(dataDir, 'volumes', s.instanceId);
    await waitFor('the hook to write its file', 10_000, () => exists(join(volume, 'async.txt')));
    const record = JSON.parse(await readFile(join(dataDir, 'instances', s.instanceId, 'hook-pids.json'), 'utf8')) as {
      server: ProcessIdentity;
      hooks: ProcessIdentity[];
    };
    assert.equal(record.server.pid, (launched.handle as unknown as LocalHandle).pid);
    assert.equal(record.hooks.length, 1);
    const hook = record.hooks[0]!;
    strays.push(hook);
    assert.equal(await alive(hook.pid), true, 'the hook is still sleeping');
    await runtime.stop(launched.handle, 5_000);
    await waitFor('the hook to end', 5_000, async () => !(await alive(hook.pid)));
  });

  it('a program that is not installed is reported with how to install it, and prepare fails at step 2', async () => {
    const missing = createLocalRuntime({ dataDir, pythonPath: '/nonexistent/python3' });
    const availability = await missing.checkImage('notebook');
    assert.equal(availability.available, false);
    assert.match(availability.message, /Jupyter Notebook is not installed on this host.*; install it with: apt-get install jupyter-notebook python3-ipykernel/);
    const server = await missing.checkImage('jupyter_server');
    assert.match(server.message, /apt-get install python3-jupyter-server python3-ipykernel/);
    const seen: string[] = [];
    await assert.rejects(
      () => missing.prepare(spec({ program: 'notebook' }), (step, status) => void seen.push(`${step}:${status}`)),
      /Jupyter Notebook is not installed/,
    );
    assert.deepEqual(seen, ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING']);
  });

  it('resizeVolume grows the volume image and its filesystem, and refuses to shrink', async () => {
    const s = spec();
    await runtime.prepare(s, () => {});
    const volume = join(dataDir, 'volumes', s.instanceId);
    const volumeFile = join(dataDir, 'instances', s.instanceId, 'volume.json');
    const fsBytes = async () => {
      const fs = await statfs(volume);
      return fs.blocks * fs.bsize;
    };
    assert.deepEqual(JSON.parse(await readFile(volumeFile, 'utf8')), { capacityGb: 5, kind: 'image' });
    assert.ok((await fsBytes()) > 4.9 * 1024 ** 3 && (await fsBytes()) <= 5 * 1024 ** 3, `a 5 GB filesystem, got ${await fsBytes()}`);
    await runtime.resizeVolume!(s.instanceId, 20);
    assert.deepEqual(JSON.parse(await readFile(volumeFile, 'utf8')), { capacityGb: 20, kind: 'image' });
    assert.equal((await stat(`${volume}.img`)).size, 20 * 1024 ** 3);
    assert.ok((await fsBytes()) > 19.9 * 1024 ** 3, `grown to 20 GB, got ${await fsBytes()}`);
    await assert.rejects(() => runtime.resizeVolume!(s.instanceId, 10), /cannot shrink/);
    await runtime.prepare(s, () => {}); // a repeated prepare with the old size keeps the larger volume
    assert.deepEqual(JSON.parse(await readFile(volumeFile, 'utf8')), { capacityGb: 20, kind: 'image' });
    await assert.rejects(() => runtime.resizeVolume!('lt-nowhere', 10), /does not exist/);
    await runtime.destroy(s.instanceId);
    assert.equal(await exists(`${volume}.img`), false, 'destroy removes the image');
  });

  it('without loop mounts, a volume is a directory whose capacity is recorded, and growing it refuses to shrink', async () => {
    const s = spec();
    await hostRuntime.prepare(s, () => {});
    const volumeFile = join(dataDir, 'instances', s.instanceId, 'volume.json');
    assert.deepEqual(JSON.parse(await readFile(volumeFile, 'utf8')), { capacityGb: 5, kind: 'directory' });
    await hostRuntime.resizeVolume!(s.instanceId, 20);
    assert.deepEqual(JSON.parse(await readFile(volumeFile, 'utf8')), { capacityGb: 20, kind: 'directory' });
    await assert.rejects(() => hostRuntime.resizeVolume!(s.instanceId, 10), /cannot shrink/);
    await hostRuntime.destroy(s.instanceId);
  });

  it('refuses instance ids that could escape the data directory', async () => {
    await assert.rejects(() => runtime.destroy('../etc'), /invalid instance id/);
    await assert.rejects(() => runtime.prepare(spec({ instanceId: 'a/b' }), () => {}), /invalid instance id/);
  });

  it('terminate escalates to SIGKILL for a process group that ignores SIGTERM', async () => {
    const stubborn = spawn('/bin/sh', ['-c', 'trap "" TERM; echo trapped; sleep 60 & wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    stubborn.unref();
    // Signal only once the trap is set: before that, SIGTERM would still kill the shell.
    let said = '';
    stubborn.stdout.on('data', (chunk: Buffer) => (said += chunk.toString()));
    await waitFor('the trap to be set', 5_000, async () => said.includes('trapped'));
    const s = await waitFor('the process to exist', 5_000, () => readProcStat(stubborn.pid!));
    strays.push(s);
    const began = Date.now();
    const result = await terminate({ pid: s.pid, startTime: s.startTime }, 300);
    assert.deepEqual(result, { signalled: true, killed: true });
    assert.ok(Date.now() - began >= 300, 'the grace period was honoured');
    assert.equal(await alive(s.pid), false);
  });
});
