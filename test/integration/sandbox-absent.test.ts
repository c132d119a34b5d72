// A host without bubblewrap (a runtime option pointing at a missing bwrap binary): notebookd says
// so at start (log), in the image status and in the instance's launch event, and runs instances
// unsandboxed (sandbox: auto) or refuses to (sandbox: on); never silently.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalHandle, RuntimeLog } from '../../src/runtime/local/local-runtime.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { Launched } from '../../src/runtime/runtime.ts';
import { killLeftoverServers, localHandleOf, startNotebookd } from '../support/notebookd-process.ts';
import { createBody, PROJECT, SERVER_IMAGE, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { instanceSpec, launchReady, removeDataDir } from './sandbox-helpers.ts';

const MISSING = '/nonexistent/bwrap';
const SAID = /bubblewrap is not installed \(\/nonexistent\/bwrap not found\): instances run WITHOUT a sandbox; install it with: apt-get install bubblewrap/;

describe('no bubblewrap: the local runtime', () => {
  let dataDir: string;
  const launched: Launched[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-nobwrap-'));
  });

  after(async () => {
    await removeDataDir(dataDir, launched);
  });

  it('sandbox auto: logs a warning, keeps the image available with a warning, runs unsandboxed (still limited) and notes it on the launch', async () => {
    const warnings: string[] = [];
    const log: RuntimeLog = { info() {}, warn: (_o, msg) => void warnings.push(msg ?? '') };
    const runtime = createLocalRuntime({ dataDir, bwrapPath: MISSING, log });
    const availability = await runtime.checkImage('jupyter_server');
    assert.equal(availability.available, true);
    assert.match(availability.warning ?? '', SAID);
    assert.ok(warnings.some((w) => SAID.test(w)), `logged: ${warnings.join(' | ')}`);

    const l = await launchReady(runtime, instanceSpec('nobwrap', { memoryMb: 640 }), launched);
    const handle = l.handle as unknown as LocalHandle;
    assert.equal(handle.sandboxed, undefined, 'not sandboxed');
    assert.ok(l.notes?.some((n) => SAID.test(n)), `notes: ${l.notes}`);
    // Flavor limits and the volume image do not depend on the sandbox.
    assert.ok(handle.cgroup?.version === 1 && handle.cgroup.dirs.memory);
    assert.equal((await readFile(join(handle.cgroup.dirs.memory, 'memory.limit_in_bytes'), 'utf8')).trim(), String(640 * 1024 * 1024));
    assert.equal(await readlinkCwd(handle.pid), join(dataDir, 'volumes', 'nobwrap'));
    await runtime.stop(l.handle, 5_000);
  });

  it('sandbox on: the image is unavailable saying why, and prepare fails at step 2', async () => {
    const runtime = createLocalRuntime({ dataDir, bwrapPath: MISSING, sandbox: 'on' });
    const availability = await runtime.checkImage('notebook');
    assert.equal(availability.available, false);
    assert.match(availability.message, SAID);
    assert.match(availability.message, /\(localRuntime\.sandbox = on\)$/);
    const seen: string[] = [];
    await assert.rejects(() => runtime.prepare(instanceSpec('nobwrap-on'), (step, status) => void seen.push(`${step}:${status}`)), SAID);
    assert.deepEqual(seen, ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING']);
    await runtime.destroy('nobwrap-on');
  });
});

async function readlinkCwd(pid: number): Promise<string> {
  return (await import('node:fs/promises')).readlink(`/proc/${pid}/cwd`);
}

describe('no bubblewrap: through the API', () => {
  let svc: TestService;

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local', localRuntime: { bwrapPath: MISSING } } });
  });

  after(async () => {
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => []);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  it("shows it in the image's status_message and in the instance's launch event", async () => {
    const image = await svc.api.get(`/v1/${PROJECT}/images/${SERVER_IMAGE}`);
    assert.equal(image.status, 200);
    assert.equal(image.body.status, 'ACTIVE');
    assert.match(image.body.status_message, SAID);

    const created = await svc.api.post(`/v1/${PROJECT}/notebooks`, createBody({ image_id: SERVER_IMAGE }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    await waitForNotebook(svc.api, id, (nb) => nb.status === 'RUNNING', 60_000);
    const events = (await svc.api.get(`/v1/${PROJECT}/notebooks/${id}/events`)).body.events as { type: string; message: string }[];
    const launchedEvent = events.find((e) => e.type === 'runtime.launched');
    assert.ok(launchedEvent, JSON.stringify(events));
    assert.match(launchedEvent.message, SAID);
    assert.equal((await svc.api.delete(`/v1/${PROJECT}/notebooks/${id}`)).status, 200);
    await waitForNotebook(svc.api, id, (n) => n === undefined || n.status === 'DELETED', 30_000);
  });
});

describe('no bubblewrap: the notebookd binary', () => {
  it('says so in its log at start', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'notebookd-nobwrap-bin-'));
    const nbd = await startNotebookd({ dataDir, config: { localRuntime: { bwrapPath: MISSING } } });
    try {
      // The images are checked at start; the warning is logged before /readyz answers.
      assert.match(nbd.output(), SAID);
    } finally {
      await nbd.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
