// An instance's state from its pod and events: each way a pod goes wrong becomes a readable reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { derivePodStatus, initOutcome } from '../../src/runtime/kubernetes/pod-status.ts';
import type { EventLike, PodLike, PodStatusInput } from '../../src/runtime/kubernetes/pod-status.ts';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const NONCE = 'abc123';
const minutesAgo = (m: number) => new Date(NOW - m * 60_000).toISOString();

const pod = (status: NonNullable<PodLike['status']>, over: Partial<NonNullable<PodLike['metadata']>> = {}): PodLike => ({
  metadata: { name: 'nb-x-0', creationTimestamp: minutesAgo(5), annotations: { 'notebookd.io/start-nonce': NONCE }, ...over },
  spec: { nodeName: 'node-3', containers: [{ name: 'notebook', image: 'registry/nb:1', resources: { limits: { memory: '2048Mi' } } }] },
  status,
});
const running = { running: { startedAt: minutesAgo(4) } };
const main = (state: object, extra: object = {}) => [{ name: 'notebook', image: 'registry/nb:1', restartCount: 0, state, ...extra }];

const cases: [string, Partial<PodStatusInput>, { state: string; reason?: RegExp; exitCode?: number | null }][] = [
  ['a running pod', { pods: [pod({ phase: 'Running', containerStatuses: main(running) })] }, { state: 'running' }],
  ['no pod yet while one replica is wanted', { pods: [] }, { state: 'running' }],
  ['no pod and zero replicas', { replicas: 0, pods: [] }, { state: 'exited', reason: /scaled to zero/ }],
  ['a pod of another start is not ours', { replicas: 0, pods: [pod({ phase: 'Running' }, { annotations: { 'notebookd.io/start-nonce': 'other' } })] }, { state: 'exited', reason: /scaled to zero/ }],
  [
    'ImagePullBackOff',
    { pods: [pod({ phase: 'Pending', containerStatuses: main({ waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry/nb:1"' } }) })] },
    { state: 'exited', reason: /the image registry\/nb:1 cannot be pulled \(ImagePullBackOff\): Back-off pulling image/ },
  ],
  ['ErrImagePull', { pods: [pod({ phase: 'Pending', containerStatuses: main({ waiting: { reason: 'ErrImagePull', message: 'manifest unknown' } }) })] }, { state: 'exited', reason: /cannot be pulled \(ErrImagePull\): manifest unknown/ }],
  [
    'unschedulable for longer than the grace',
    { pods: [pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.' }] })] },
    { state: 'exited', reason: /no node can run the instance's flavor \(Unschedulable\): 0\/3 nodes are available: 3 Insufficient nvidia\.com\/gpu\./ },
  ],
  [
    'unschedulable but within the grace (an autoscaler may add a node)',
    { pods: [pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }, { creationTimestamp: minutesAgo(0.5) })] },
    { state: 'running' },
  ],
  [
    'unschedulable: the detail from the FailedScheduling event',
    {
      pods: [pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] })],
      events: [{ type: 'Warning', reason: 'FailedScheduling', message: '0/2 nodes are available: 2 Insufficient memory.', involvedObject: { name: 'nb-x-0' }, lastTimestamp: minutesAgo(1) }],
    },
    { state: 'exited', reason: /Unschedulable\): 0\/2 nodes are available: 2 Insufficient memory\./ },
  ],
  [
    'a volume that cannot be mounted',
    {
      pods: [pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] })],
      events: [{ type: 'Warning', reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "pvc-1"', involvedObject: { name: 'nb-x-0' } }],
    },
    { state: 'exited', reason: /the volume cannot be mounted: MountVolume\.SetUp failed/ },
  ],
  [
    'OOMKilled and restarting',
    { pods: [pod({ phase: 'Running', containerStatuses: main({ waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 3, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }) })] },
    { state: 'exited', exitCode: 137, reason: /ran out of memory: killed at the flavor's limit of 2048Mi \(OOMKilled\)/ },
  ],
  ['OOMKilled, terminated', { pods: [pod({ phase: 'Running', containerStatuses: main({ terminated: { exitCode: 137, reason: 'OOMKilled' } }) })] }, { state: 'exited', exitCode: 137, reason: /OOMKilled/ }],
  [
    'crashing server',
    { pods: [pod({ phase: 'Running', containerStatuses: main({ waiting: { reason: 'CrashLoopBackOff' } }, { lastState: { terminated: { exitCode: 1, reason: 'Error' } } }) })] },
    { state: 'exited', exitCode: 1, reason: /exited with code 1 \(Error\) and keeps crashing \(CrashLoopBackOff\)/ },
  ],
  ['a config error', { pods: [pod({ phase: 'Pending', containerStatuses: main({ waiting: { reason: 'CreateContainerConfigError', message: 'secret "nb-x-credential" not found' } }) })] }, { state: 'exited', reason: /cannot be created \(CreateContainerConfigError\): secret/ }],
  [
    'a failing pre_start init container',
    { pods: [pod({ phase: 'Pending', initContainerStatuses: [{ name: 'pre-start', state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 7, reason: 'Error' } } }] })] },
    { state: 'exited', exitCode: 7, reason: /the pre_start hook \(init container pre-start\) failed with exit code 7/ },
  ],
  ['evicted', { pods: [pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' })] }, { state: 'lost', reason: /evicted from its node: The node was low on resource: memory\./ }],
  ['a node that stopped responding', { pods: [pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'Unknown' }] })] }, { state: 'lost', reason: /node node-3 of pod nb-x-0 stopped responding/ }],
  ['a failed pod', { pods: [pod({ phase: 'Failed', reason: 'DeadlineExceeded' })] }, { state: 'exited', reason: /failed \(DeadlineExceeded\)/ }],
];

describe('derivePodStatus', () => {
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const result = derivePodStatus({ replicas: 1, nonce: NONCE, pods: [], events: [] as EventLike[], now: NOW, unschedulableGraceMs: 60_000, ...input });
      assert.equal(result.state, expected.state, JSON.stringify(result));
      if (expected.reason) assert.match((result as { reason: string }).reason, expected.reason);
      if (expected.exitCode !== undefined) assert.equal((result as { exitCode: number | null }).exitCode, expected.exitCode);
    });
  }
});

describe('initOutcome', () => {
  it('waits, passes, or fails with the exit code', () => {
    assert.equal(initOutcome(undefined), 'waiting');
    assert.equal(initOutcome(pod({ phase: 'Pending' })), 'waiting');
    assert.equal(initOutcome(pod({ phase: 'Pending', initContainerStatuses: [{ name: 'pre-start', state: { running: {} } }] })), 'waiting');
    assert.equal(initOutcome(pod({ phase: 'Running', initContainerStatuses: [{ name: 'pre-start', state: { terminated: { exitCode: 0 } } }] })), 'passed');
    assert.deepEqual(initOutcome(pod({ phase: 'Pending', initContainerStatuses: [{ name: 'pre-start', state: { terminated: { exitCode: 7, reason: 'Error' } } }] })), {
      failed: 'exit code 7',
      container: 'pre-start',
      exitCode: 7,
    });
  });
});
