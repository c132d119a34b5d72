// Start hooks inside the sandbox, every mode with success, failure and (BLOCK) timeout: they run
// as ma-user in the instance's own namespaces (pre_start before the server exists, post_start
// beside it), SCRIPT paths resolve inside, nothing of a failed start is left behind, and the
// output is kept (hooks.log, and the tail in fail_reason through the API).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HookSpec } from '../../src/domain/notebook.ts';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { Launched, Runtime } from '../../src/runtime/runtime.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { createBody, PROJECT, SERVER_IMAGE, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { execIn, instanceSpec, launchReady, removeDataDir } from './sandbox-helpers.ts';
import { waitFor } from '../support/wait.ts';

const HOOK_TIMEOUT_MS = 1_500;

const command = (script: string, mode: HookSpec['mode'] = 'BLOCK'): HookSpec => ({ type: 'COMMAND', mode, script: Buffer.from(script).toString('base64') });

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Pids of live processes running as a host uid. */
async function processesOf(uid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status) && !/^State:\s+Z/m.test(status)) out.push(Number(name));
  }
  return out;
}

// What a hook records about where it runs: user, host name, pid 1, whether Jupyter (python3) runs yet.
const WHERE = `{ id -un; hostname; tr '\\0' ' ' < /proc/1/cmdline | cut -d' ' -f1; if for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" | cut -d' ' -f1; done 2>/dev/null | grep -qx /usr/bin/python3; then echo jupyter-running; else echo no-jupyter; fi; pwd; }`;

describe('sandbox: start hooks run inside the instance', () => {
  let dataDir: string;
  let runtime: Runtime;
  const launched: Launched[] = [];
  const volumeOf = (id: string) => join(dataDir, 'volumes', id);
  const hostUidOf = async (id: string) => (JSON.parse(await readFile(join(dataDir, 'instances', id, 'sandbox.json'), 'utf8')) as { uid: number }).uid;
  const hooksLog = (id: string) => readFile(join(dataDir, 'instances', id, 'hooks.log'), 'utf8').catch(() => '');

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-hooks-'));
    runtime = createLocalRuntime({ dataDir, hookTimeoutMs: HOOK_TIMEOUT_MS });
  });

  after(async () => {
    await removeDataDir(dataDir, launched, runtime);
  });

  it('BLOCK pre_start: runs as ma-user in the sandbox before Jupyter; what it starts in the background lives in the instance and ends with it', async () => {
    const s = instanceSpec('hk-block', { hooks: { preStart: command(`${WHERE} > pre.txt; (sleep 300 &) ; echo started`) } });
    const l = await launchReady(runtime, s, launched);
    assert.equal(await readFile(join(volumeOf(s.instanceId), 'pre.txt'), 'utf8'), 'ma-user\nnotebook-hk-block\n/usr/bin/bwrap\nno-jupyter\n/home/ma-user/work\n');
    const ps = await execIn(runtime, l, ['pgrep', '-c', '-x', 'sleep']);
    assert.equal(ps.stdout.trim(), '1', "the hook's background process is in the instance's PID namespace");
    assert.match(await hooksLog(s.instanceId), /started\n--- pre_start hook ended with exit code 0 ---/);
    const uid = await hostUidOf(s.instanceId);
    await runtime.stop(l.handle, 5_000);
    assert.deepEqual(await processesOf(uid), [], 'stop ended every process of the instance, the background one too');
  });

  it('BLOCK pre_start failure: start fails with the tail of its output; nothing of the instance is left running', async () => {
    const s = instanceSpec('hk-fail', { hooks: { preStart: command('echo "installing deps"; echo "pip: no network" >&2; exit 4') } });
    await runtime.prepare(s, () => {});
    await assert.rejects(() => runtime.start(s), /pre_start hook \(COMMAND, BLOCK\) failed with exit code 4; last output:\ninstalling deps\npip: no network/);
    assert.deepEqual(await processesOf(await hostUidOf(s.instanceId)), []);
    assert.equal(await exists(join(dataDir, 'instances', s.instanceId, 'server.json')), false);
  });

  it('BLOCK pre_start timeout: start fails after the operator timeout, and the hook and the sandbox are killed', async () => {
    const s = instanceSpec('hk-timeout', { hooks: { preStart: command('echo waiting; sleep 60') } });
    await runtime.prepare(s, () => {});
    const began = Date.now();
    await assert.rejects(() => runtime.start(s), new RegExp(`pre_start hook \\(COMMAND, BLOCK\\) timed out after ${HOOK_TIMEOUT_MS} ms`));
    assert.ok(Date.now() - began < HOOK_TIMEOUT_MS + 10_000);
    assert.deepEqual(await processesOf(await hostUidOf(s.instanceId)), []);
    assert.match(await hooksLog(s.instanceId), /waiting\n--- pre_start hook timed out after 1500 ms ---/);
  });

  it('SCRIPT pre_start: the path is inside the sandbox (/home/ma-user/work/setup.sh); a missing one fails with 127', async () => {
    const s = instanceSpec('hk-script', { hooks: { preStart: { type: 'SCRIPT', mode: 'BLOCK', script: '/home/ma-user/work/setup.sh' } } });
    await runtime.prepare(s, () => {});
    await assert.rejects(() => runtime.start(s), /exit code 127; last output:\nhook script \/home\/ma-user\/work\/setup\.sh does not exist/);
    await runtime.prepare(s, () => {});
    await (await import('node:fs/promises')).writeFile(join(volumeOf(s.instanceId), 'setup.sh'), `#!/bin/sh\n${WHERE} > script.txt\n`, { mode: 0o755 });
    const l = await launchReady(runtime, s, launched);
    assert.equal(await readFile(join(volumeOf(s.instanceId), 'script.txt'), 'utf8'), 'ma-user\nnotebook-hk-script\n/usr/bin/bwrap\nno-jupyter\n/home/ma-user/work\n');
    await runtime.stop(l.handle, 5_000);
  });

  it('ASYNC pre_start: runs inside without holding the start; a failing one is logged and the instance runs on', async () => {
    const ok = instanceSpec('hk-async', { hooks: { preStart: command(`sleep 1; ${WHERE} > async.tmp && mv async.tmp async.txt`, 'ASYNC') } });
    const l = await launchReady(runtime, ok, launched);
    const file = join(volumeOf(ok.instanceId), 'async.txt');
    await waitFor('the ASYNC hook to finish', 20_000, () => exists(file));
    const [user, host, init] = (await readFile(file, 'utf8')).split('\n');
    assert.deepEqual([user, host, init], ['ma-user', 'notebook-hk-async', '/usr/bin/bwrap']);
    await runtime.stop(l.handle, 5_000);

    const bad = instanceSpec('hk-async-fail', { hooks: { preStart: command('echo "async broke" >&2; exit 3', 'ASYNC') } });
    const l2 = await launchReady(runtime, bad, launched);
    await waitFor('the failure in hooks.log', 20_000, async () => /async broke\n--- pre_start hook ended with exit code 3 ---/.test(await hooksLog(bad.instanceId)));
    assert.deepEqual(await runtime.poll(l2.handle), { state: 'running' });
    await runtime.stop(l2.handle, 5_000);
  });

  it('post_start: runs inside once Jupyter listens (it sees the server); a failing one is logged and the instance runs on', async () => {
    const ok = instanceSpec('hk-post', { hooks: { postStart: command(`${WHERE} > post.tmp && mv post.tmp post.txt`, 'ASYNC') } });
    const l = await launchReady(runtime, ok, launched);
    const file = join(volumeOf(ok.instanceId), 'post.txt');
    await waitFor('the post_start hook to finish', 20_000, () => exists(file));
    assert.equal(await readFile(file, 'utf8'), 'ma-user\nnotebook-hk-post\n/usr/bin/bwrap\njupyter-running\n/home/ma-user/work\n');
    await runtime.stop(l.handle, 5_000);

    const bad = instanceSpec('hk-post-fail', { hooks: { postStart: command('echo "post broke"; exit 9', 'BLOCK') } });
    const l2 = await launchReady(runtime, bad, launched);
    await waitFor('the failure in hooks.log', 20_000, async () => /post broke\n--- post_start hook ended with exit code 9 ---/.test(await hooksLog(bad.instanceId)));
    assert.deepEqual(await runtime.poll(l2.handle), { state: 'running' });
    await runtime.stop(l2.handle, 5_000);
  });

  it('a hook cannot reach notebookd: its pid does not exist in there and the data directory is not visible', async () => {
    const s = instanceSpec('hk-reach', {
      hooks: { preStart: command(`kill -0 ${process.pid} 2>/dev/null && echo can-signal || echo no-such-pid; ls ${dataDir} 2>/dev/null || echo no-data-dir`) },
    });
    const l = await launchReady(runtime, s, launched);
    assert.match(await hooksLog(s.instanceId), /no-such-pid\nno-data-dir\n/);
    assert.equal((l.handle as unknown as LocalHandle).sandboxed, true);
    await runtime.stop(l.handle, 5_000);
  });
});

describe('sandbox: a failing pre_start through the API', () => {
  let svc: TestService;

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local' } });
  });

  after(async () => {
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => []);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  it('ends in CREATE_FAILED with the tail of the hook output in fail_reason; the whole output is at .../logs', async () => {
    const hooks = { container_hooks: { pre_start: { type: 'COMMAND', mode: 'BLOCK', script: Buffer.from('echo "checking GPU"; echo "no GPU found" >&2; exit 2').toString('base64') } } };
    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ image_id: SERVER_IMAGE, hooks }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const failed = await waitForNotebook(svc.api, created.body.id, (nb) => nb.status === 'CREATE_FAILED', 60_000);
    assert.match(failed.fail_reason, /pre_start hook \(COMMAND, BLOCK\) failed with exit code 2; last output:\nchecking GPU\nno GPU found/);
    // The whole hook output is readable through the API (notebookd extension).
    const logs = await svc.api.get(`/v1/${PROJECT}/notebooks/${created.body.id}/logs`);
    assert.equal(logs.status, 200, JSON.stringify(logs.body));
    assert.match(logs.body.hooks, /--- .* pre_start hook \(COMMAND, BLOCK\) ---\nchecking GPU\nno GPU found\n--- pre_start hook ended with exit code 2 ---/);
    assert.equal(typeof logs.body.server, 'string');
  });
});
