// A server launched by a notebookd that died before recording its handle: stopping the instance
// (STOPPING without a handle) must still end it (runtime.stopUnrecorded, reconciler's halt).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalRuntime, type LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import type { Launched, Runtime } from '../../src/runtime/runtime.ts';
import { isAlive } from '../support/notebookd-process.ts';
import { waitFor } from '../support/wait.ts';
import { instanceSpec, removeDataDir } from './sandbox-helpers.ts';

describe('stopping a server whose handle was never recorded', () => {
  let dataDir: string;
  let runtime: Runtime;
  const launched: Launched[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-unrecorded-'));
    runtime = createLocalRuntime({ dataDir });
  });

  after(async () => {
    await removeDataDir(dataDir, launched, runtime);
  });

  it('stopUnrecorded ends the server the runtime last launched for the instance; a second call is a no-op', async () => {
    const s = instanceSpec('unrecorded', { capacityGb: 1 });
    await runtime.prepare(s, () => {});
    const l = await runtime.start(s); // its handle is "lost": only the runtime's own record knows it
    launched.push(l);
    const pid = (l.handle as unknown as LocalHandle).pid;
    assert.equal(await isAlive(pid), true);
    await runtime.stopUnrecorded!(s.instanceId, 2_000);
    await waitFor('the server to be gone', 10_000, async () => !(await isAlive(pid)));
    await runtime.stopUnrecorded!(s.instanceId, 2_000);
  });
});
