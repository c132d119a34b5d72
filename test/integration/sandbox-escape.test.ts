// Escape attempts from inside real sandboxed instances, through the Jupyter kernel (what a
// notebook user runs) and through runtime.exec (what an SSH session runs): reading another
// instance's files or notebookd's database, writing outside the volume, killing notebookd,
// seeing other instances' processes, nesting namespaces. Each attempt must fail, and a positive
// control next to it shows the same code does work where it is allowed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import { descendants, readProcStat } from '../../src/runtime/local/process-identity.ts';
import type { Launched, Runtime } from '../../src/runtime/runtime.ts';
import { execIn, instanceSpec, Kernel, launchReady, removeDataDir } from './sandbox-helpers.ts';
import { waitFor } from '../support/wait.ts';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** The host uids of an instance's processes (server, kernels...), read from /proc/<pid>/status. */
async function hostUids(initPid: number): Promise<Set<number>> {
  const uids = new Set<number>();
  for (const p of await descendants(initPid)) {
    const status = await readFile(`/proc/${p.pid}/status`, 'utf8').catch(() => '');
    const m = /^Uid:\s+(\d+)/m.exec(status);
    if (m) uids.add(Number(m[1]));
  }
  return uids;
}

describe('sandbox: escape attempts from a real instance', () => {
  let dataDir: string;
  let runtime: Runtime;
  const launched: Launched[] = [];
  let a: Launched;
  let b: Launched;
  let kernel: Kernel;
  const secret = `b-secret-${randomBytes(6).toString('hex')}`;
  const dbSecret = `db-secret-${randomBytes(6).toString('hex')}`;
  const py = async (code: string) => {
    const r = await kernel.run(code);
    assert.equal(r.error, null, `the probe itself failed: ${r.error}\n${r.stdout}`);
    return r.stdout.trim();
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-escape-'));
    // A stand-in for notebookd's SQLite database, world-readable even: only the sandbox hides it.
    await writeFile(join(dataDir, 'notebookd.db'), dbSecret, { mode: 0o644 });
    runtime = createLocalRuntime({ dataDir });
    a = await launchReady(runtime, instanceSpec('esc-a'), launched);
    b = await launchReady(runtime, instanceSpec('esc-b'), launched);
    assert.equal((a.handle as unknown as LocalHandle).sandboxed, true, 'bubblewrap is installed here');
    // B's data, written by B itself.
    const res = await fetch(`${b.target.origin}${b.target.basePath}api/contents/secret.txt`, {
      method: 'PUT',
      headers: { Authorization: `token ${b.target.jupyterToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: secret }),
    });
    assert.equal(res.status, 201);
    kernel = await Kernel.open(a.target);
  });

  after(async () => {
    kernel?.close();
    await removeDataDir(dataDir, launched, runtime);
  });

  it('the kernel runs as ma-user (uid 1000) in /home/ma-user/work, on a host uid of its own that is not root', async () => {
    assert.equal(await py('import os; print(os.getuid(), os.getgid(), os.getcwd(), os.environ["HOME"])'), '1000 100 /home/ma-user/work /home/ma-user');
    const uidsA = await hostUids((a.handle as unknown as LocalHandle).pid);
    const uidsB = await hostUids((b.handle as unknown as LocalHandle).pid);
    assert.equal(uidsA.size, 1, `one host uid for all of A: ${[...uidsA]}`);
    assert.ok(![...uidsA].includes(0), 'not root on the host');
    assert.ok(![...uidsA].some((u) => uidsB.has(u)), 'A and B have different host uids');
  });

  it("cannot read another instance's files: neither by its host path nor through /proc", async () => {
    const bVolume = join(dataDir, 'volumes', 'esc-b');
    assert.equal(await readFile(join(bVolume, 'secret.txt'), 'utf8'), secret, 'control: the file is there on the host');
    const bServer = (await descendants((b.handle as unknown as LocalHandle).pid))[0]!.pid;
    const out = await py(`
import os
for p in [${JSON.stringify(join(bVolume, 'secret.txt'))}, ${JSON.stringify(bVolume)}, ${JSON.stringify(dataDir)},
          '/proc/${bServer}/root/home/ma-user/work/secret.txt', '/proc/${bServer}/cwd/secret.txt']:
    try:
        print(p, open(p).read() if os.path.isfile(p) else os.listdir(p))
    except Exception as e:
        print(p, type(e).__name__)
`);
    assert.ok(!out.includes(secret), out);
    for (const line of out.split('\n')) assert.match(line, / (FileNotFoundError|NotADirectoryError|PermissionError)$/, line);
  });

  it('sees only its own filesystem: /usr and /etc of the host, its volume, private /tmp and HOME; no /sys, /var, /root or data directory', async () => {
    const root = JSON.parse(await py('import os, json; print(json.dumps(sorted(os.listdir("/"))))')) as string[];
    const allowed = new Set(['bin', 'dev', 'etc', 'home', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'run', 'sbin', 'tmp', 'usr']);
    assert.deepEqual(root.filter((e) => !allowed.has(e)), [], `unexpected entries in /: ${root.join(' ')}`);
    const home = JSON.parse(await py('import os, json; print(json.dumps(sorted(os.listdir("/home/ma-user"))))')) as string[];
    assert.deepEqual(home.filter((e) => !e.startsWith('.')), ['work'], 'HOME holds the volume and the dot-directories of Jupyter, no more');
    assert.deepEqual(JSON.parse(await py('import os, json; print(json.dumps(sorted(os.listdir("/run/notebookd"))))')), ['token']);
  });

  it("cannot read notebookd's database", async () => {
    const out = await py(`
for p in [${JSON.stringify(join(dataDir, 'notebookd.db'))}, '/work/main/package.json']:
    try:
        print(open(p).read())
    except Exception as e:
        print(type(e).__name__)
`);
    assert.equal(out, 'FileNotFoundError\nFileNotFoundError');
  });

  it('cannot write outside its volume; /tmp is its own; the volume takes writes (control)', async () => {
    const marker = `escape-${randomBytes(4).toString('hex')}`;
    const out = await py(`
import errno
for p in ['/usr/${marker}', '/etc/${marker}', '/${marker}', '/proc/${marker}', ${JSON.stringify(join(dataDir, marker))}, '/tmp/${marker}', '/home/ma-user/work/${marker}']:
    try:
        open(p, 'w').write('x')
        print(p, 'written')
    except OSError as e:
        print(p, errno.errorcode[e.errno])
`);
    const results = Object.fromEntries(out.split('\n').map((l) => l.split(' ') as [string, string]));
    assert.equal(results[`/usr/${marker}`], 'EROFS');
    assert.equal(results[`/etc/${marker}`], 'EROFS');
    assert.equal(results[`/${marker}`], 'EROFS');
    assert.notEqual(results[`/proc/${marker}`], 'written');
    assert.equal(results[join(dataDir, marker)], 'ENOENT');
    assert.equal(results[`/tmp/${marker}`], 'written');
    assert.equal(results[`/home/ma-user/work/${marker}`], 'written');
    assert.equal(await exists(`/tmp/${marker}`), false, "the sandbox's /tmp is not the host's");
    assert.equal(await exists(join(dataDir, marker)), false);
    assert.equal(await exists(join(dataDir, 'volumes', 'esc-a', marker)), true, 'the volume write reached the volume');
  });

  it("sees only its own processes (Jupyter, its kernel): not notebookd's, not the other instance's", async () => {
    const procs = JSON.parse(
      await py(`
import os, json
out = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            out.append([int(p), open('/proc/%s/cmdline' % p).read().replace('\\0', ' ')])
        except Exception:
            pass
print(json.dumps(out))
`),
    ) as [number, string][];
    const cmdlines = procs.map(([, c]) => c).join('\n');
    assert.ok(procs.length < 15, `a handful of processes, got ${procs.length}:\n${cmdlines}`);
    assert.ok(!cmdlines.includes('esc-b'), 'nothing of instance B');
    assert.ok(!cmdlines.includes('node'), "nothing of notebookd (node)");
    assert.ok(cmdlines.includes('/nb/esc-a/'), 'its own server is there');
    assert.ok(!procs.some(([pid]) => pid === process.pid), "notebookd's pid does not exist in there");
  });

  it("cannot kill notebookd: its pid does not exist in the sandbox, and the sandbox's own init ignores SIGKILL", async () => {
    const out = await py(`
import os, signal
for pid in [${process.pid}, ${(b.handle as unknown as LocalHandle).pid}]:
    try:
        os.kill(pid, signal.SIGKILL)
        print('sent')
    except ProcessLookupError:
        print('ProcessLookupError')
    except PermissionError:
        print('PermissionError')
os.kill(1, signal.SIGKILL)
print('alive')
`);
    assert.equal(out, 'ProcessLookupError\nProcessLookupError\nalive');
    assert.deepEqual(await runtime.poll(b.handle), { state: 'running' });
    assert.deepEqual(await runtime.poll(a.handle), { state: 'running' });
  });

  it('exec sessions run in the same sandbox: same user, same processes, same volume', async () => {
    const r = await execIn(runtime, a, ['/bin/sh', '-c', 'id -u; pwd; hostname; cat /proc/1/cmdline | tr "\\0" " " | cut -d" " -f1; ls /proc | grep -c "^[0-9]"; ls /home/ma-user/work']);
    assert.equal(r.code, 0, r.stderr);
    const [uid, cwd, hostname, init, count, ...files] = r.stdout.trim().split('\n');
    assert.equal(uid, '1000');
    assert.equal(cwd, '/home/ma-user/work');
    assert.equal(hostname, 'notebook-esc-a');
    assert.equal(init, '/usr/bin/bwrap', "pid 1 is the sandbox's init");
    assert.ok(Number(count) >= 3 && Number(count) < 15, `the kernel's and server's processes are visible, only those: ${count}`);
    assert.ok(!files.includes('secret.txt'), "not B's volume");
  });

  it('cannot nest namespaces or mount anything', async () => {
    const r = await execIn(runtime, a, ['/bin/sh', '-c', 'unshare -U true 2>&1; echo unshare=$?; mount -t tmpfs none /tmp 2>&1; echo mount=$?; cat /proc/self/status | grep CapEff']);
    assert.match(r.stdout, /unshare=[1-9]/);
    assert.match(r.stdout, /mount=[1-9]/);
    assert.match(r.stdout, /CapEff:\s+0+\n/);
  });

  it('kill -9 -1 from inside ends only that instance: notebookd and the other instance live on', async () => {
    const r = await execIn(runtime, a, ['/bin/sh', '-c', 'kill -9 -1; sleep 5']).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
    assert.notEqual(r.code, 0, 'the session itself was killed too');
    const ended = await waitFor('instance A to end', 10_000, async () => {
      const p = await runtime.poll(a.handle);
      return p.state === 'running' ? null : p;
    });
    assert.notEqual(ended.state, 'running');
    assert.deepEqual(await runtime.poll(b.handle), { state: 'running' });
    assert.ok((await readProcStat(process.pid)) !== null);
  });
});
