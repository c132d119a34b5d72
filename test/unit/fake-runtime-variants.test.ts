// The misbehaving fakes the orchestrator's tests rely on: each variant does exactly the one wrong
// thing it promises, on an injected clock, and nothing else.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { HookSpec, RuntimeTarget } from '../../src/domain/notebook.ts';
import {
  createFakeRegistry,
  createFakeRuntime,
  defaultFakeHookRunner,
  fakeKernel,
  fakeVariants,
  interpretScript,
} from '../../src/runtime/fake/fake-runtime.ts';
import type { FakeOptions, FakeRuntime } from '../../src/runtime/fake/fake-runtime.ts';
import type { InstanceSpec, Launched } from '../../src/runtime/runtime.ts';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.ts';

const made: FakeRuntime[] = [];
afterEach(async () => {
  for (const fake of made.splice(0)) await fake.killAll();
});

function fakeWith(opts: FakeOptions = {}): { fake: FakeRuntime; clock: FakeClock } {
  const clock = new FakeClock();
  const fake = createFakeRuntime({ clock, ...opts });
  made.push(fake);
  return { fake, clock };
}

let seq = 0;
function spec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const instanceId = `fv-${++seq}`;
  return {
    instanceId,
    basePath: `/nb/${instanceId}/`,
    jupyterToken: `token-${instanceId}-0123456789`,
    program: 'notebook',
    imageId: 'img',
    vcpus: 1,
    memoryMb: 512,
    capacityGb: 5,
    hooks: null,
    ...overrides,
  };
}

/** Whether the promise has settled once pending callbacks have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await flushMicrotasks();
  await flushMicrotasks();
  return done;
}

async function get(target: RuntimeTarget, path: string, auth: 'header' | 'query' | 'none' = 'header'): Promise<{ status: number; body: unknown }> {
  const query = auth === 'query' ? `?token=${target.jupyterToken}` : '';
  try {
    const res = await fetch(`${target.origin}${target.basePath}${path}${query}`, {
      headers: auth === 'header' ? { Authorization: `token ${target.jupyterToken}` } : {},
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  } catch {
    return { status: 0, body: null };
  }
}

async function launch(fake: FakeRuntime, s = spec()): Promise<Launched> {
  await fake.prepare(s, () => {});
  return fake.start(s);
}

describe('slow fake', () => {
  it('prepare spends prepareDelayMs in step 1 (storage)', async () => {
    const { fake, clock } = fakeWith({ prepareDelayMs: 3_000 });
    const seen: string[] = [];
    const done = fake.prepare(spec(), (step, status) => void seen.push(`${step}:${status}`));
    await flushMicrotasks();
    assert.deepEqual(seen, ['1:PROCESSING']);
    await clock.advance(2_999);
    assert.equal(await settled(done), false);
    await clock.advance(1);
    await done;
    assert.deepEqual(seen, ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING', '2:COMPLETED', '3:PROCESSING', '3:COMPLETED']);
  });

  it('start takes startDelayMs before it launches', async () => {
    const { fake, clock } = fakeWith({ startDelayMs: 5_000 });
    const s = spec();
    await fake.prepare(s, () => {});
    const started = fake.start(s);
    await flushMicrotasks();
    await clock.advance(4_999);
    assert.equal(await settled(started), false);
    await clock.advance(1);
    const launched = await started;
    assert.equal((await get(launched.target, 'api/status')).status, 200);
  });
});

describe('never-ready and late-ready fakes', () => {
  it('never ready: api/status never answers 200, however long we wait, until a test says so', async () => {
    const { fake, clock } = fakeWith(fakeVariants.neverReady());
    const s = spec();
    const launched = await launch(fake, s);
    assert.deepEqual(await fake.poll(launched.handle), { state: 'running' }, 'the process runs; it just never serves');
    assert.equal((await get(launched.target, 'api/status')).status, 503);
    await clock.advance(24 * 3_600_000);
    assert.equal((await get(launched.target, 'api/status')).status, 503);
    fake.setReady(s.instanceId, true);
    assert.equal((await get(launched.target, 'api/status')).status, 200);
  });

  it('readyAfterMs: 503 until that much clock time has passed since launch', async () => {
    const { fake, clock } = fakeWith({ readyAfterMs: 2_000 });
    const launched = await launch(fake);
    assert.equal((await get(launched.target, 'api/status')).status, 503);
    await clock.advance(2_000);
    assert.equal((await get(launched.target, 'api/status')).status, 200);
  });
});

describe('crashing fake', () => {
  it('exits with crashExitCode crashAfterMs after launch', async () => {
    const { fake, clock } = fakeWith(fakeVariants.crashing(10_000, 3));
    const launched = await launch(fake);
    await flushMicrotasks();
    await clock.advance(9_999);
    assert.deepEqual(await fake.poll(launched.handle), { state: 'running' });
    await clock.advance(1);
    const result = await fake.poll(launched.handle);
    assert.equal(result.state, 'exited');
    assert.equal(result.state === 'exited' && result.exitCode, 3);
    assert.equal((await get(launched.target, 'api/status')).status, 0, 'nothing listens any more');
  });

  it('a stop before the crash time cancels the crash', async () => {
    const { fake, clock } = fakeWith({ crashAfterMs: 1_000 });
    const launched = await launch(fake);
    await fake.stop(launched.handle, 1_000);
    await clock.advance(5_000);
    const result = await fake.poll(launched.handle);
    assert.equal(result.state === 'exited' && result.exitCode, 0);
    assert.equal(clock.pendingSleepers, 0);
  });

  it('crashes on demand', async () => {
    const { fake } = fakeWith();
    const s = spec();
    const launched = await launch(fake, s);
    await fake.crash(s.instanceId, 9);
    assert.deepEqual(await fake.poll(launched.handle), { state: 'exited', exitCode: 9, reason: 'fake jupyter exited with code 9' });
    await assert.rejects(() => fake.crash(s.instanceId), /not running/);
  });
});

describe('flaky fake', () => {
  it('the first failStarts starts throw, then starts work', async () => {
    const { fake } = fakeWith(fakeVariants.flaky(2));
    const s = spec();
    await fake.prepare(s, () => {});
    await assert.rejects(() => fake.start(s), /start attempt 1 of the first 2 fails/);
    await assert.rejects(() => fake.start(s), /start attempt 2 of the first 2 fails/);
    const launched = await fake.start(s);
    assert.deepEqual(await fake.poll(launched.handle), { state: 'running' });
  });
});

describe('port-taken fake', () => {
  it('the first portTakenRuns runs exit at once with a retryable reason, then runs keep running', async () => {
    const { fake } = fakeWith(fakeVariants.portTaken(1));
    const s = spec();
    await fake.prepare(s, () => {});
    const first = await fake.start(s);
    const seen = await fake.poll(first.handle);
    assert.equal(seen.state, 'exited');
    assert.match(seen.state === 'exited' ? (seen.retryable ?? '') : '', /was taken before the server could listen/);
    const second = await fake.start(s);
    assert.deepEqual(await fake.poll(second.handle), { state: 'running' });
  });
});

describe('failing-prepare fake', () => {
  for (const step of [1, 2, 3] as const) {
    it(`fails at step ${step} after reporting it PROCESSING`, async () => {
      const { fake } = fakeWith(fakeVariants.failingPrepare(step, `disk on fire (${step})`));
      const seen: string[] = [];
      await assert.rejects(
        () => fake.prepare(spec(), (n, status) => void seen.push(`${n}:${status}`)),
        new RegExp(`disk on fire \\(${step}\\)`),
      );
      const expected = ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING', '2:COMPLETED', '3:PROCESSING'];
      assert.deepEqual(seen, expected.slice(0, step * 2 - 1));
    });
  }

  it('a program that is not installed fails prepare at step 2 and says how to install it', async () => {
    const { fake } = fakeWith({ unavailablePrograms: ['jupyter_server'] });
    assert.equal((await fake.checkImage('notebook')).available, true);
    const missing = await fake.checkImage('jupyter_server');
    assert.equal(missing.available, false);
    assert.match(missing.message, /install it with/);
    await assert.rejects(() => fake.prepare(spec({ program: 'jupyter_server' }), () => {}), /not installed/);
  });
});

describe('fake whose stop hangs', () => {
  it('a polite stop never returns and the instance keeps serving; a forced stop (grace 0) ends both', async () => {
    const { fake } = fakeWith(fakeVariants.hangingStop());
    const launched = await launch(fake);
    const polite = fake.stop(launched.handle, 5_000);
    assert.equal(await settled(polite), false);
    assert.equal((await get(launched.target, 'api/status')).status, 200);
    assert.deepEqual(await fake.poll(launched.handle), { state: 'running' });

    await fake.stop(launched.handle, 0);
    await polite;
    const result = await fake.poll(launched.handle);
    assert.equal(result.state === 'exited' && result.exitCode, 137);
  });

  it('releaseStops lets the hanging stops finish', async () => {
    const { fake } = fakeWith({ stopHangs: true });
    const launched = await launch(fake);
    const polite = fake.stop(launched.handle, 5_000);
    assert.equal(await settled(polite), false);
    await fake.releaseStops();
    await polite;
    assert.notEqual((await fake.poll(launched.handle)).state, 'running');
  });
});

describe('fake Jupyter endpoints', () => {
  it('lists the kernels a test sets, e.g. one busy kernel, and counts them in api/status', async () => {
    const { fake } = fakeWith();
    const s = spec();
    const launched = await launch(fake, s);
    assert.deepEqual((await get(launched.target, 'api/kernels')).body, []);
    const busy = fakeKernel('k-1', 'busy', Date.UTC(2026, 10, 22, 9, 30));
    fake.setKernels(s.instanceId, [busy]);
    assert.deepEqual((await get(launched.target, 'api/kernels')).body, [busy]);
    const status = (await get(launched.target, 'api/status')).body as { kernels: number };
    assert.equal(status.kernels, 1);
  });

  it('accepts the token as a header or a query parameter and nothing else', async () => {
    const { fake } = fakeWith();
    const launched = await launch(fake);
    assert.equal((await get(launched.target, 'api/status', 'header')).status, 200);
    assert.equal((await get(launched.target, 'api/status', 'query')).status, 200);
    assert.equal((await get(launched.target, 'api/status', 'none')).status, 403);
    assert.equal((await get(launched.target, 'api', 'none')).status, 200, 'the version endpoint is open, as in Jupyter');
    assert.equal((await get({ ...launched.target, basePath: '/elsewhere/' }, 'api/status')).status, 404);
  });

  it('serves the volume through the contents API and the test helpers alike', async () => {
    const { fake } = fakeWith();
    const s = spec();
    const launched = await launch(fake, s);
    fake.writeFile(s.instanceId, 'notes/a.txt', 'from the helper');
    const got = await get(launched.target, 'api/contents/notes/a.txt');
    assert.equal((got.body as { content: string }).content, 'from the helper');
    const res = await fetch(`${launched.target.origin}${launched.target.basePath}api/contents/b.txt`, {
      method: 'PUT',
      headers: { Authorization: `token ${s.jupyterToken}` },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'over http' }),
    });
    assert.equal(res.status, 201);
    assert.equal(fake.readFile(s.instanceId, 'b.txt'), 'over http');
  });
});

describe('fake adoption and bookkeeping', () => {
  it('a second fake on the same registry sees, polls and stops the first one\'s instances', async () => {
    const registry = createFakeRegistry();
    const { fake: first } = fakeWith({ registry });
    const launched = await launch(first);
    const second = createFakeRuntime({ registry });
    assert.deepEqual(await second.poll(launched.handle), { state: 'running' });
    await second.stop(launched.handle, 1_000);
    assert.equal((await first.poll(launched.handle)).state, 'exited');
    assert.equal((await createFakeRuntime().poll(launched.handle)).state, 'lost', 'another registry knows nothing of it');
  });

  it('records every contract call in order, with the clock time', async () => {
    const { fake, clock } = fakeWith();
    const s = spec();
    const launched = await launch(fake, s);
    await fake.poll(launched.handle);
    await fake.stop(launched.handle, 2_500);
    await fake.destroy(s.instanceId);
    assert.deepEqual(
      fake.calls.map((c) => [c.method, c.instanceId, c.graceMs]),
      [
        ['prepare', s.instanceId, undefined],
        ['start', s.instanceId, undefined],
        ['poll', s.instanceId, undefined],
        ['stop', s.instanceId, 2_500],
        ['destroy', s.instanceId, undefined],
      ],
    );
    assert.ok(fake.calls.every((c) => c.at === clock.now()));
    assert.equal(fake.volumeExists(s.instanceId), false);
  });

  it('resizeVolume grows the recorded capacity and refuses to shrink', async () => {
    const { fake } = fakeWith();
    const s = spec();
    await fake.prepare(s, () => {});
    await fake.resizeVolume!(s.instanceId, 50);
    assert.equal(fake.instance(s.instanceId)?.capacityGb, 50);
    await assert.rejects(() => fake.resizeVolume!(s.instanceId, 10), /cannot shrink/);
  });
});

describe('fake hooks', () => {
  const table: [string, string, number, Record<string, string>, string][] = [
    ['nothing', '', 0, {}, ''],
    ['echo to output', 'echo hello', 0, {}, 'hello\n'],
    ['printf into a file', "printf 'hooked' > m.txt", 0, { 'm.txt': 'hooked' }, ''],
    ['echo appended twice', 'echo a >> log.txt; echo b >> ./log.txt', 0, { 'log.txt': 'a\nb\n' }, ''],
    ['exit with a code after output', 'echo boom\nexit 7\necho never', 7, {}, 'boom\n'],
    ['false', 'true; false', 1, {}, ''],
    ['an unsupported command fails loudly', 'pip install numpy', 127, {}, 'fake hook: unsupported command: pip install numpy\n'],
  ];
  for (const [name, script, exitCode, files, output] of table) {
    it(`interprets: ${name}`, () => {
      const volume = new Map<string, string>();
      assert.deepEqual(interpretScript(script, volume), { exitCode, output });
      assert.deepEqual(Object.fromEntries(volume), files);
    });
  }

  it('a SCRIPT hook whose file does not exist fails with 127', async () => {
    const hook: HookSpec = { type: 'SCRIPT', mode: 'BLOCK', script: '/nonexistent/hook.sh' };
    assert.equal((await defaultFakeHookRunner('pre_start', hook, new Map())).exitCode, 127);
  });

  it('an injected hook runner replaces the interpreter; ASYNC pre_start failures do not fail start', async () => {
    const phases: string[] = [];
    const { fake } = fakeWith({
      hookRunner: (phase) => {
        phases.push(phase);
        return { exitCode: 1, output: 'nope' };
      },
    });
    const s = spec({
      hooks: {
        preStart: { type: 'COMMAND', mode: 'ASYNC', script: 'ZXhpdCAx' },
        postStart: { type: 'COMMAND', mode: 'ASYNC', script: 'ZXhpdCAx' },
      },
    });
    const launched = await launch(fake, s);
    await flushMicrotasks();
    assert.deepEqual(phases, ['pre_start', 'post_start']);
    assert.deepEqual(await fake.poll(launched.handle), { state: 'running' });
    assert.deepEqual(
      fake.instance(s.instanceId)?.hookLog.map((h) => [h.phase, h.exitCode]),
      [
        ['pre_start', 1],
        ['post_start', 1],
      ],
    );
  });
});
