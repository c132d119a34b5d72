// The runtime conformance suite: what every Runtime (local, fake, later container/slurm/k8s)
// must do, checked through the contract and through the target's real Jupyter REST API.
// An implementation's test file calls runRuntimeContract(name, make).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ImageProgram } from '../../src/domain/catalog.ts';
import type { HookSpec, HooksSpec, RuntimeTarget } from '../../src/domain/notebook.ts';
import type { InstanceSpec, Launched, PrepareStep, Runtime, RuntimeCapabilities, RuntimeHandle } from '../../src/runtime/runtime.ts';
import { waitFor } from '../support/wait.ts';

export interface RuntimeHarness {
  runtime: Runtime;
  /** A fresh runtime object over the same state: notebookd restarted. */
  reopen: () => Promise<Runtime>;
  /** Removes everything the harness made (after the suite has stopped what it started). */
  cleanup: () => Promise<void>;
  /** Programs to start for real. Default ['notebook']. */
  programs?: ImageProgram[];
  /** A handle for the same instance as `real` but another process identity, as after pid reuse. */
  forgeStaleHandle?: (real: RuntimeHandle) => RuntimeHandle;
  /** Kills the instance's server abruptly, from outside the runtime (kill -9). */
  crash?: (launched: Launched) => Promise<void>;
  /** Whether any of the instance's storage is left. */
  storageExists?: (instanceId: string) => Promise<boolean>;
  /** How long one server may take to become ready. Default 20 s. */
  readyTimeoutMs?: number;
}

const GRACE_MS = 5_000;

const newToken = () => randomBytes(16).toString('hex');
const commandHook = (script: string, mode: HookSpec['mode'] = 'BLOCK'): HookSpec => ({
  type: 'COMMAND',
  mode,
  script: Buffer.from(script).toString('base64'),
});

function url(target: RuntimeTarget, path: string): string {
  return `${target.origin}${target.basePath}${path}`;
}

/** The HTTP status of GET api/status, or 0 when nothing answers. */
async function statusCode(target: RuntimeTarget, token: string | null): Promise<number> {
  try {
    const res = await fetch(url(target, 'api/status'), {
      headers: token ? { Authorization: `token ${token}` } : {},
      signal: AbortSignal.timeout(2_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function putText(target: RuntimeTarget, path: string, content: string): Promise<void> {
  const res = await fetch(url(target, `api/contents/${path}`), {
    method: 'PUT',
    headers: { Authorization: `token ${target.jupyterToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'file', format: 'text', content }),
  });
  await res.arrayBuffer();
  assert.ok(res.status === 200 || res.status === 201, `PUT ${path} answered ${res.status}`);
}

/** The file's text, or null when the server says 404. */
async function getText(target: RuntimeTarget, path: string): Promise<string | null> {
  const res = await fetch(url(target, `api/contents/${path}?type=file&format=text&content=1`), {
    headers: { Authorization: `token ${target.jupyterToken}` },
  });
  const body = (await res.json().catch(() => null)) as { content?: string } | null;
  if (res.status === 404) return null;
  assert.equal(res.status, 200, `GET ${path} answered ${res.status}`);
  return body?.content ?? '';
}

/**
 * `expected`: the capabilities the runtime must declare on this host (the rest must be false or
 * absent); each one expected is then checked from inside a real instance.
 */
export function runRuntimeContract(name: string, make: () => Promise<RuntimeHarness>, expected: Partial<RuntimeCapabilities> = {}): void {
  describe(`runtime contract: ${name}`, () => {
    let h: RuntimeHarness;
    let runtime: Runtime;
    const launchedHandles: RuntimeHandle[] = [];
    const reopened: Runtime[] = [];
    const run = randomBytes(3).toString('hex');
    let seq = 0;

    const readyTimeout = () => h.readyTimeoutMs ?? 20_000;
    const programs = () => h.programs ?? ['notebook'];

    function spec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
      const instanceId = overrides.instanceId ?? `ct-${run}-${++seq}`;
      return {
        instanceId,
        basePath: `/nb/${instanceId}/`,
        jupyterToken: newToken(),
        program: programs()[0]!,
        imageId: 'image-under-test',
        vcpus: 1,
        memoryMb: 512,
        capacityGb: 5,
        hooks: null,
        ...overrides,
      };
    }

    async function prepared(overrides: Partial<InstanceSpec> = {}): Promise<InstanceSpec> {
      const s = spec(overrides);
      await runtime.prepare(s, () => {});
      return s;
    }

    async function start(s: InstanceSpec, on: Runtime = runtime): Promise<Launched> {
      const launched = await on.start(s);
      launchedHandles.push(launched.handle);
      return launched;
    }

    async function waitReady(target: RuntimeTarget): Promise<void> {
      await waitFor(`api/status 200 from ${target.origin}${target.basePath}`, readyTimeout(), async () =>
        (await statusCode(target, target.jupyterToken)) === 200,
      );
    }

    async function waitNotRunning(on: Runtime, handle: RuntimeHandle) {
      return waitFor('poll to report the server ended', readyTimeout(), async () => {
        const result = await on.poll(handle);
        return result.state === 'running' ? null : result;
      });
    }

    before(async () => {
      h = await make();
      runtime = h.runtime;
    });

    after(async () => {
      // Every process this suite started goes, whatever the tests did.
      for (const handle of launchedHandles) await runtime.stop(handle, 1_000).catch(() => {});
      for (const r of reopened) await r.close?.();
      await runtime?.close?.();
      await h?.cleanup();
    });

    it('checkImage reports every program under test as available', async () => {
      for (const program of programs()) {
        const availability = await runtime.checkImage(program);
        assert.equal(availability.available, true, availability.message);
      }
    });

    it('prepare reports steps 1, 2, 3 as PROCESSING then COMPLETED, in order, and is idempotent', async () => {
      const s = spec();
      for (let attempt = 1; attempt <= 2; attempt++) {
        const seen: [PrepareStep, string][] = [];
        await runtime.prepare(s, (step, status) => {
          seen.push([step, status]);
        });
        assert.deepEqual(
          seen,
          [
            [1, 'PROCESSING'],
            [1, 'COMPLETED'],
            [2, 'PROCESSING'],
            [2, 'COMPLETED'],
            [3, 'PROCESSING'],
            [3, 'COMPLETED'],
          ],
          `prepare #${attempt}`,
        );
      }
      await runtime.destroy(s.instanceId);
    });

    it('start serves api/status (200 with the token, 403 without); poll says running; stop ends it; a second stop is fine', async (t) => {
      for (const program of programs()) {
        const s = await prepared({ program });
        const began = Date.now();
        const launched = await start(s);
        assert.equal(launched.target.basePath, s.basePath);
        assert.equal(launched.target.jupyterToken, s.jupyterToken);
        assert.match(launched.target.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.deepEqual(JSON.parse(JSON.stringify(launched.handle)), launched.handle, 'the handle is plain JSON');
        await waitReady(launched.target);
        const readyMs = Date.now() - began;
        assert.equal(await statusCode(launched.target, null), 403, 'no token');
        assert.equal(await statusCode(launched.target, 'wrong-token-123'), 403, 'wrong token');
        assert.deepEqual(await runtime.poll(launched.handle), { state: 'running' });

        const stopBegan = Date.now();
        await runtime.stop(launched.handle, GRACE_MS);
        const stopMs = Date.now() - stopBegan;
        assert.notEqual((await runtime.poll(launched.handle)).state, 'running');
        assert.equal(await statusCode(launched.target, s.jupyterToken), 0, 'nothing answers after stop');
        await runtime.stop(launched.handle, GRACE_MS);
        t.diagnostic(`${program}: start→ready ${readyMs} ms, stop ${stopMs} ms`);
        await runtime.destroy(s.instanceId);
      }
    });

    it('data written to the volume survives stop and a new start; each start has its own token', async () => {
      const s = await prepared();
      const first = await start(s);
      await waitReady(first.target);
      await putText(first.target, 'hello.txt', 'hello, volume');
      await runtime.stop(first.handle, GRACE_MS);

      const again = { ...s, jupyterToken: newToken() };
      await runtime.prepare(again, () => {}); // prepare again (as after a crash) keeps the data
      const second = await start(again);
      await waitReady(second.target);
      assert.equal(await getText(second.target, 'hello.txt'), 'hello, volume');
      assert.equal(await statusCode(second.target, s.jupyterToken), 403, 'the first start token no longer works');
      await runtime.stop(second.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });

    it('a reopened runtime adopts a running instance: poll says running and its stop works', async () => {
      const s = await prepared();
      const launched = await start(s);
      await waitReady(launched.target);
      const adopted = await h.reopen();
      reopened.push(adopted);
      const handle = JSON.parse(JSON.stringify(launched.handle)) as RuntimeHandle; // as read back from the store
      assert.deepEqual(await adopted.poll(handle), { state: 'running' });
      await adopted.stop(handle, GRACE_MS);
      assert.notEqual((await adopted.poll(handle)).state, 'running');
      assert.notEqual((await waitNotRunning(runtime, launched.handle)).state, 'running');
      assert.equal(await statusCode(launched.target, s.jupyterToken), 0);
      await adopted.destroy(s.instanceId);
    });

    it('a bogus handle is lost, and stopping it is a no-op', async () => {
      for (const bogus of [{}, { kind: 'nothing' }, { pid: 'x', startTime: null }]) {
        const result = await runtime.poll(bogus);
        assert.equal(result.state, 'lost');
        assert.ok(result.state === 'lost' && result.reason.length > 0);
        await runtime.stop(bogus, 100);
      }
    });

    it('a handle whose process identity was recycled is lost, and stopping it leaves the real server alone', async (t) => {
      if (!h.forgeStaleHandle) return t.skip('the harness cannot forge a stale handle');
      const s = await prepared();
      const launched = await start(s);
      await waitReady(launched.target);
      const stale = h.forgeStaleHandle(launched.handle);
      const result = await runtime.poll(stale);
      assert.equal(result.state, 'lost');
      await runtime.stop(stale, 200);
      assert.deepEqual(await runtime.poll(launched.handle), { state: 'running' });
      assert.equal(await statusCode(launched.target, s.jupyterToken), 200);
      await runtime.stop(launched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });

    it('a server that dies abruptly is reported as exited or lost, with a reason', async (t) => {
      if (!h.crash) return t.skip('the harness cannot crash a server');
      const s = await prepared();
      const launched = await start(s);
      await waitReady(launched.target);
      await h.crash(launched);
      const result = await waitNotRunning(runtime, launched.handle);
      assert.ok(result.state === 'exited' || result.state === 'lost');
      assert.ok('reason' in result && result.reason.length > 0, 'a reason is given');
      await runtime.stop(launched.handle, GRACE_MS); // idempotent on a dead server
      await runtime.destroy(s.instanceId);
    });

    it('a failing BLOCK pre_start hook rejects start with its exit code', async () => {
      const hooks: HooksSpec = { preStart: commandHook('echo preparing\necho boom\nexit 7') };
      const s = await prepared({ hooks });
      await assert.rejects(
        async () => {
          const launched = await start(s);
          await runtime.stop(launched.handle, GRACE_MS);
        },
        (err: Error) => {
          assert.match(err.message, /pre_start/);
          assert.match(err.message, /\b7\b/);
          assert.match(err.message, /boom/, 'the last output lines are in the message');
          return true;
        },
      );
      await runtime.destroy(s.instanceId);
    });

    it('a COMMAND pre_start hook runs in the volume before the server starts', async () => {
      const hooks: HooksSpec = { preStart: commandHook("printf 'hooked' > hook-marker.txt") };
      const s = await prepared({ hooks });
      const launched = await start(s);
      await waitReady(launched.target);
      assert.equal(await getText(launched.target, 'hook-marker.txt'), 'hooked');
      await runtime.stop(launched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });

    it('a post_start hook runs once the server is up', async () => {
      const hooks: HooksSpec = { postStart: commandHook('echo post > post-marker.txt', 'ASYNC') };
      const s = await prepared({ hooks });
      const launched = await start(s);
      await waitReady(launched.target);
      const content = await waitFor('the post_start hook to write its file', readyTimeout(), () => getText(launched.target, 'post-marker.txt'));
      assert.equal(content, 'post\n');
      await runtime.stop(launched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });

    it('destroy ends a running server, removes the volume and is idempotent', async () => {
      const s = await prepared();
      const launched = await start(s);
      await waitReady(launched.target);
      await putText(launched.target, 'doomed.txt', 'bye');
      await runtime.destroy(s.instanceId);
      assert.notEqual((await waitNotRunning(runtime, launched.handle)).state, 'running');
      assert.equal(await statusCode(launched.target, s.jupyterToken), 0);
      if (h.storageExists) assert.equal(await h.storageExists(s.instanceId), false, 'no storage left');
      await runtime.destroy(s.instanceId);

      // The same id prepared again starts from an empty volume.
      const fresh = { ...s, jupyterToken: newToken() };
      await runtime.prepare(fresh, () => {});
      const relaunched = await start(fresh);
      await waitReady(relaunched.target);
      assert.equal(await getText(relaunched.target, 'doomed.txt'), null);
      await runtime.stop(relaunched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
      await runtime.destroy(`ct-${run}-never-prepared`);
    });

    it('start refuses an instance that was never prepared', async () => {
      await assert.rejects(() => start(spec()));
    });

    // The optional guarantees a runtime declares through capabilities(), probed from inside an
    // instance with a pre_start hook (what every runtime runs) and read back through Jupyter.
    it(`declares the capabilities expected on this host: ${JSON.stringify(expected)}`, async () => {
      const declared = (await runtime.capabilities?.()) ?? { isolation: false, memoryLimit: false, volumeCapacity: false };
      assert.deepEqual(declared, { isolation: false, memoryLimit: false, volumeCapacity: false, ...expected });
    });

    if (expected.isolation) it('capability isolation: the instance runs unprivileged and can neither see nor signal notebookd', async () => {
      const probe = `{ id -u; test -e /proc/${process.pid}/status && echo sees-notebookd || echo no-notebookd; kill -0 ${process.pid} 2>/dev/null && echo can-signal || echo cannot-signal; } > isolation.txt`;
      const s = await prepared({ hooks: { preStart: commandHook(probe) } });
      const launched = await start(s);
      await waitReady(launched.target);
      const [uid, sees, signal] = ((await getText(launched.target, 'isolation.txt')) ?? '').trim().split('\n');
      assert.notEqual(uid, '0', 'not root');
      assert.equal(sees, 'no-notebookd');
      assert.equal(signal, 'cannot-signal');
      await runtime.stop(launched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });

    if (expected.memoryLimit) it('capability memoryLimit: a process past the memory makes poll report the instance out of memory', async () => {
      const hog = commandHook(`python3 -c "x = b'x' * (600 << 20)" || echo "hog ended with $?"`);
      const s = await prepared({ memoryMb: 256, hooks: { preStart: hog } });
      const launched = await start(s);
      const result = await waitNotRunning(runtime, launched.handle);
      assert.equal(result.state, 'exited');
      assert.match((result as { reason: string }).reason, /^out of memory/);
      assert.equal(await statusCode(launched.target, s.jupyterToken), 0, 'the instance was stopped');
      await runtime.stop(launched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });

    if (expected.volumeCapacity) it('capability volumeCapacity: writing past the volume capacity fails with ENOSPC', async () => {
      const fill = commandHook('dd if=/dev/zero of=fill.bin bs=1M count=1100 2> dd.txt; echo "exit=$?" >> dd.txt; rm -f fill.bin');
      const s = await prepared({ capacityGb: 1, hooks: { preStart: fill } });
      const launched = await start(s);
      await waitReady(launched.target);
      const out = (await getText(launched.target, 'dd.txt')) ?? '';
      assert.match(out, /No space left on device/);
      assert.match(out, /exit=1/);
      await runtime.stop(launched.handle, GRACE_MS);
      await runtime.destroy(s.instanceId);
    });
  });
}
