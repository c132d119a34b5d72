// The fake runtime passes the same conformance suite as the real ones.
import { createFakeRegistry, createFakeRuntime } from '../../src/runtime/fake/fake-runtime.ts';
import type { FakeHandle } from '../../src/runtime/fake/fake-runtime.ts';
import { runRuntimeContract } from './runtime.contract.ts';

runRuntimeContract('fake', async () => {
  const registry = createFakeRegistry();
  const fake = createFakeRuntime({ registry });
  return {
    runtime: fake,
    reopen: async () => createFakeRuntime({ registry }),
    cleanup: () => fake.killAll(),
    programs: ['notebook', 'jupyter_server'],
    forgeStaleHandle: (real) => ({ ...real, generation: (real as unknown as FakeHandle).generation + 1_000_000 }),
    crash: (launched) => fake.crash((launched.handle as unknown as FakeHandle).instanceId, 137),
    storageExists: async (id) => fake.volumeExists(id),
  };
});
