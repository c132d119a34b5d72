// The Kubernetes runtime's client code against a fake HTTPS API server (test/support/fake-kube-api.ts):
// it issues the right calls with the right bodies, verifies the server's certificate, and reads
// pod states into poll results. This is not a cluster (nothing runs): the conformance suite runs
// against a real one in test/contract/runtime-kubernetes.test.ts when KUBECONFIG is set.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesRuntime } from '../../src/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesHandle } from '../../src/runtime/kubernetes/kubernetes-runtime.ts';
import type { InstanceSpec, Runtime } from '../../src/runtime/runtime.ts';
import { runningPodStatus, startFakeKubeApi, TOKEN } from '../support/fake-kube-api.ts';
import type { FakeKubeApi } from '../support/fake-kube-api.ts';

const NS = 'notebooks';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

describe('kubernetes runtime against a fake API server', () => {
  let fake: FakeKubeApi;
  let runtime: Runtime;
  let seq = 0;

  const spec = (over: Partial<InstanceSpec> = {}): InstanceSpec => {
    const instanceId = over.instanceId ?? `k8s-${++seq}`;
    return {
      instanceId,
      basePath: `/nb/${instanceId}/`,
      jupyterToken: `token-${instanceId}-0123456789`,
      program: 'notebook',
      imageId: 'img',
      imageRef: 'registry.example.com/nb/jupyter:6.4',
      vcpus: 2,
      memoryMb: 4096,
      gpus: 1,
      capacityGb: 10,
      hooks: null,
      allowedAccessIps: ['203.0.113.9'],
      ...over,
    };
  };
  const since = (mark: number) => fake.requests.slice(mark).map((r) => `${r.method} ${r.path}`);

  before(async () => {
    fake = await startFakeKubeApi();
  });
  beforeEach(() => {
    fake.podStatus = runningPodStatus;
    runtime = createKubernetesRuntime({
      kubeConfig: fake.kubeConfig(),
      namespace: NS,
      storageClass: 'fast',
      allowFrom: [{ podLabels: { app: 'notebookd' } }],
      pollMs: 10,
      startWaitMs: 2_000,
      unschedulableGraceMs: 0,
    });
  });
  after(() => fake.close());

  it('talks TLS to the API server, verifying its certificate, with the bearer token', async () => {
    assert.equal((await runtime.checkImage('notebook')).available, true);
    assert.equal(fake.requests.at(-1)!.authorization, `Bearer ${TOKEN}`);
    // The same server without its CA: the certificate is refused, never skipped.
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, skipTLSVerify: false }],
      users: [{ name: 'u', token: TOKEN }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const untrusting = createKubernetesRuntime({ kubeConfig: kc, namespace: NS });
    const refused = await untrusting.checkImage('notebook');
    assert.equal(refused.available, false);
    assert.match(refused.message, /not reachable for namespace notebooks: .*(certificate|self.signed)/i);
  });

  it('prepare creates the PVC (step 1), a StatefulSet at 0 replicas (step 2), the Service and NetworkPolicy (step 3); again changes nothing', async () => {
    const s = spec();
    const steps: string[] = [];
    const mark = fake.requests.length;
    await runtime.prepare(s, (step, status) => void steps.push(`${step}:${status}`));
    assert.deepEqual(steps, ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING', '2:COMPLETED', '3:PROCESSING', '3:COMPLETED']);
    const writes = since(mark).filter((r) => !r.startsWith('GET'));
    assert.deepEqual(writes, [
      `POST /api/v1/namespaces/${NS}/persistentvolumeclaims`,
      `POST /apis/apps/v1/namespaces/${NS}/statefulsets`,
      `POST /api/v1/namespaces/${NS}/services`,
      `POST /apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
    ]);
    const pvc = fake.get('persistentvolumeclaims', NS, `nb-${s.instanceId}-volume`)!;
    assert.deepEqual(pvc.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'fast' });
    const sts = fake.get('statefulsets', NS, `nb-${s.instanceId}`)!;
    assert.equal(sts.spec.replicas, 0);
    assert.deepEqual(sts.spec.template.spec.containers[0].resources.limits, { cpu: '2', memory: '4096Mi', 'nvidia.com/gpu': '1' });
    const np = fake.get('networkpolicies', NS, `nb-${s.instanceId}`)!;
    assert.deepEqual(np.spec.ingress[0].from, [{ podSelector: { matchLabels: { app: 'notebookd' } } }, { ipBlock: { cidr: '203.0.113.9/32' } }]);

    const again = fake.requests.length;
    await runtime.prepare(s, () => {});
    assert.deepEqual(since(again).filter((r) => !r.startsWith('GET')), [`PUT /apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/nb-${s.instanceId}`]);
  });

  it('start writes the token Secret, scales to 1 with a new nonce; poll reads the pod; stop scales to 0 deleting the pod with the grace', async () => {
    const s = spec({ hooks: { postStart: { type: 'COMMAND', mode: 'ASYNC', script: b64('echo hi') } } });
    await runtime.prepare(s, () => {});
    const launched = await runtime.start(s);
    const handle = launched.handle as unknown as KubernetesHandle;
    assert.deepEqual(Object.keys(handle).sort(), ['instanceId', 'kind', 'name', 'namespace', 'nonce', 'uid', 'v']);
    assert.equal(launched.target.origin, `http://nb-${s.instanceId}.${NS}.svc.cluster.local:8888`);
    assert.equal(launched.target.jupyterToken, s.jupyterToken);
    const secret = fake.get('secrets', NS, `nb-${s.instanceId}-credential`)!;
    assert.equal(unb64(secret.data.token), s.jupyterToken);
    assert.equal(unb64(secret.data['post-start.sh']), 'echo hi');
    const sts = fake.get('statefulsets', NS, `nb-${s.instanceId}`)!;
    assert.equal(sts.spec.replicas, 1);
    assert.equal(sts.metadata.uid, handle.uid);
    assert.equal(sts.spec.template.metadata.annotations['notebookd.io/start-nonce'], handle.nonce);
    assert.deepEqual(await runtime.poll(launched.handle), { state: 'running' });

    const mark = fake.requests.length;
    await runtime.stop(launched.handle, 5_000);
    const calls = fake.requests.slice(mark);
    const patch = calls.find((r) => r.method === 'PATCH')!;
    assert.equal(patch.path, `/apis/apps/v1/namespaces/${NS}/statefulsets/nb-${s.instanceId}`);
    assert.equal(patch.contentType, 'application/merge-patch+json');
    assert.deepEqual(patch.body, { spec: { replicas: 0 } });
    const del = calls.find((r) => r.method === 'DELETE')!;
    assert.equal(del.path, `/api/v1/namespaces/${NS}/pods/nb-${s.instanceId}-0`);
    assert.equal(del.query.gracePeriodSeconds, '5');
    assert.deepEqual(await runtime.poll(launched.handle), { state: 'exited', exitCode: null, reason: 'the instance was scaled to zero replicas (stopped)' });
    await runtime.stop(launched.handle, 5_000); // idempotent
  });

  it('a handle of an earlier start (or a recreated StatefulSet) is lost, and stopping it touches nothing', async () => {
    const s = spec();
    await runtime.prepare(s, () => {});
    const first = await runtime.start(s);
    const second = await runtime.start({ ...s, jupyterToken: 'another-token-0123456789' });
    assert.match(((await runtime.poll(first.handle)) as { reason: string }).reason, /started again since/);
    assert.match(((await runtime.poll({ ...second.handle, uid: 'someone-else' })) as { reason: string }).reason, /was recreated/);
    const mark = fake.requests.length;
    await runtime.stop(first.handle, 1_000);
    assert.deepEqual(since(mark).filter((r) => !r.startsWith('GET')), []);
    assert.deepEqual(await runtime.poll(second.handle), { state: 'running' });
    for (const bogus of [{}, { kind: 'kubernetes', v: 1 }]) assert.equal((await runtime.poll(bogus)).state, 'lost');
  });

  it('pod trouble becomes the poll reason: image pull errors, OOMKilled, unschedulable with its event', async () => {
    fake.podStatus = (pod) => ({ phase: 'Pending', containerStatuses: [{ name: 'notebook', image: pod.spec.containers[0].image, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }] });
    const pull = spec();
    await runtime.prepare(pull, () => {});
    const pulled = await runtime.start(pull);
    assert.match(((await runtime.poll(pulled.handle)) as { reason: string }).reason, /registry\.example\.com\/nb\/jupyter:6\.4 cannot be pulled \(ImagePullBackOff\)/);

    fake.podStatus = () => ({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] });
    const big = spec();
    await runtime.prepare(big, () => {});
    const unscheduled = await runtime.start(big);
    fake.addEvent(NS, `nb-${big.instanceId}-0`, 'FailedScheduling', '0/4 nodes are available: 4 Insufficient nvidia.com/gpu.');
    assert.match(((await runtime.poll(unscheduled.handle)) as { reason: string }).reason, /Unschedulable\): 0\/4 nodes are available: 4 Insufficient nvidia\.com\/gpu\./);
    assert.ok(fake.requests.some((r) => r.path === `/api/v1/namespaces/${NS}/events` && r.query.fieldSelector === `involvedObject.name=nb-${big.instanceId}-0`));

    fake.podStatus = runningPodStatus;
    const oom = spec();
    await runtime.prepare(oom, () => {});
    const launched = await runtime.start(oom);
    const pod = fake.get('pods', NS, `nb-${oom.instanceId}-0`)!;
    fake.put('pods', NS, { ...pod, status: { phase: 'Running', containerStatuses: [{ name: 'notebook', restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] } });
    const result = await runtime.poll(launched.handle);
    assert.equal(result.state, 'exited');
    assert.match((result as { reason: string }).reason, /out of memory: killed at the flavor's limit of 4096Mi \(OOMKilled\)/);
  });

  it('a failing BLOCK pre_start hook (init container) rejects start with its exit code and output, and scales back to 0', async () => {
    fake.podStatus = (pod) => ({
      phase: 'Pending',
      initContainerStatuses: [{ name: 'pre-start', image: pod.spec.initContainers[0].image, state: { terminated: { exitCode: 7, reason: 'Error' } } }],
      containerStatuses: [{ name: 'notebook', state: { waiting: { reason: 'PodInitializing' } } }],
    });
    const s = spec({ hooks: { preStart: { type: 'COMMAND', mode: 'BLOCK', script: b64('echo boom; exit 7') } } });
    await runtime.prepare(s, () => {});
    fake.logs.set(`nb-${s.instanceId}-0/pre-start`, 'preparing\nboom\n');
    await assert.rejects(() => runtime.start(s), /pre_start hook \(init container pre-start\) failed with exit code 7; last output:\npreparing\nboom/);
    assert.equal(fake.get('statefulsets', NS, `nb-${s.instanceId}`)!.spec.replicas, 0);
    assert.equal(fake.get('pods', NS, `nb-${s.instanceId}-0`), undefined);

    fake.podStatus = runningPodStatus;
    const ok = spec({ hooks: { preStart: { type: 'COMMAND', mode: 'BLOCK', script: b64('true') } } });
    await runtime.prepare(ok, () => {});
    const launched = await runtime.start(ok);
    assert.deepEqual(await runtime.poll(launched.handle), { state: 'running' });
  });

  it('resizeVolume grows the PVC where the StorageClass allows expansion, and says so where it does not', async () => {
    fake.put('storageclasses', null, { metadata: { name: 'fast' }, provisioner: 'example.com/csi', allowVolumeExpansion: true });
    fake.put('storageclasses', null, { metadata: { name: 'fixed' }, provisioner: 'example.com/csi' });
    const s = spec();
    await runtime.prepare(s, () => {});
    await runtime.resizeVolume!(s.instanceId, 20);
    assert.equal(fake.get('persistentvolumeclaims', NS, `nb-${s.instanceId}-volume`)!.spec.resources.requests.storage, '20Gi');
    await assert.rejects(() => runtime.resizeVolume!(s.instanceId, 10), /cannot shrink from 20 GB to 10 GB/);
    // A size asked for while stopped reaches the PVC when the instance is prepared for its next start.
    await runtime.prepare({ ...s, capacityGb: 30 }, () => {});
    assert.equal(fake.get('persistentvolumeclaims', NS, `nb-${s.instanceId}-volume`)!.spec.resources.requests.storage, '30Gi');

    const fixedRuntime = createKubernetesRuntime({ kubeConfig: fake.kubeConfig(), namespace: NS, storageClass: 'fixed' });
    const f = spec();
    await fixedRuntime.prepare(f, () => {});
    await assert.rejects(() => fixedRuntime.resizeVolume!(f.instanceId, 50), /StorageClass fixed of PVC nb-k8s-\d+-volume does not allow volume expansion/);
    await assert.rejects(() => runtime.resizeVolume!('k8s-nowhere', 50), /does not exist/);
  });

  it('destroy deletes every object of the instance, PVC included, and is idempotent', async () => {
    const s = spec();
    await runtime.prepare(s, () => {});
    const launched = await runtime.start(s);
    await runtime.destroy(s.instanceId);
    for (const [resource, name] of [
      ['statefulsets', `nb-${s.instanceId}`],
      ['services', `nb-${s.instanceId}`],
      ['networkpolicies', `nb-${s.instanceId}`],
      ['secrets', `nb-${s.instanceId}-credential`],
      ['persistentvolumeclaims', `nb-${s.instanceId}-volume`],
      ['pods', `nb-${s.instanceId}-0`],
    ]) {
      assert.equal(fake.get(resource!, NS, name!), undefined, `${resource}/${name} is gone`);
    }
    assert.match(((await runtime.poll(launched.handle)) as { reason: string }).reason, /StatefulSet .* is gone/);
    await runtime.destroy(s.instanceId);
  });

  it('refuses to start what was never prepared, and to prepare an image without a container reference', async () => {
    await assert.rejects(() => runtime.start(spec()), /prepare the instance first/);
    const seen: string[] = [];
    await assert.rejects(() => runtime.prepare(spec({ imageRef: undefined }), (step, status) => void seen.push(`${step}:${status}`)), /no container image reference \(swr_path\)/);
    assert.deepEqual(seen, ['1:PROCESSING', '1:COMPLETED', '2:PROCESSING']);
  });
});
