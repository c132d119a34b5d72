// The Kubernetes runtime's conformance run. No Kubernetes API server can run on our machines
// (see ../shared/reference/feasibility.md §3), so the suite runs only when KUBECONFIG points at a
// real cluster; how to run it:
//
//   KUBECONFIG=~/.kube/config \
//   NOTEBOOKD_TEST_K8S_IMAGE=registry.example.com/notebookd/jupyter-notebook:6.4 \  # Debian + jupyter-notebook
//   NOTEBOOKD_TEST_K8S_NAMESPACE=notebookd-test \      # must exist; default notebookd-test
//   NOTEBOOKD_TEST_K8S_STORAGE_CLASS=standard \        # optional; default: the cluster's default class
//   npm test -- test/contract/runtime-kubernetes.test.ts
//
// Each instance is reached through a port-forward to its pod on 127.0.0.1 (the suite's
// targets are loopback), so the machine running the tests needs no route into the cluster.
//
// Without KUBECONFIG, one test checks that the offline suites exist and hold tests: the manifests
// and the status derivation (pure, table tests) and the client code against a fake HTTPS API
// server (test/unit/kubernetes-runtime.test.ts). Those are not run against a cluster, and this
// file does not pretend they are.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { it } from 'node:test';
import { CoreV1Api, KubeConfig, PortForward } from '@kubernetes/client-node';
import { createKubernetesRuntime } from '../../src/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesHandle } from '../../src/runtime/kubernetes/kubernetes-runtime.ts';
import { names } from '../../src/runtime/kubernetes/manifests.ts';
import type { Launched, Runtime } from '../../src/runtime/runtime.ts';
import { runRuntimeContract } from './runtime.contract.ts';

const kubeconfig = process.env.KUBECONFIG;

if (!kubeconfig) {
  it('kubernetes: no KUBECONFIG, so no cluster conformance run; the offline suites exist and hold tests', async () => {
    for (const file of ['kubernetes-manifests.test.ts', 'kubernetes-pod-status.test.ts', 'kubernetes-runtime.test.ts']) {
      const text = await readFile(new URL(`../unit/${file}`, import.meta.url), 'utf8');
      assert.match(text, /\bdescribe\(/, `${file} has a suite`);
      assert.match(text, /\bit\(/, `${file} has tests`);
    }
  });
} else {
  const namespace = process.env.NOTEBOOKD_TEST_K8S_NAMESPACE || 'notebookd-test';
  const image = process.env.NOTEBOOKD_TEST_K8S_IMAGE;
  if (!image) throw new Error('KUBECONFIG is set: set NOTEBOOKD_TEST_K8S_IMAGE to an image with Debian’s jupyter-notebook too');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);

  /** The runtime as notebookd uses it, with each start's target forwarded to 127.0.0.1. */
  function forwarded(): Runtime & { closeForwards(): void } {
    const inner = createKubernetesRuntime({ kubeConfig: kc, namespace, storageClass: process.env.NOTEBOOKD_TEST_K8S_STORAGE_CLASS, runAsUser: 0 });
    const servers: Server[] = [];
    return {
      ...inner,
      prepare: (spec, report) => inner.prepare({ ...spec, imageRef: image }, report),
      async start(spec): Promise<Launched> {
        const launched = await inner.start({ ...spec, imageRef: image });
        const h = launched.handle as unknown as KubernetesHandle;
        const server = createServer((socket) => {
          new PortForward(kc).portForward(namespace, names(h.instanceId).pod, [8888], socket, null, socket).catch(() => socket.destroy());
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        servers.push(server);
        return { ...launched, target: { ...launched.target, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } };
      },
      closeForwards: () => servers.forEach((s) => s.close()),
    };
  }

  runRuntimeContract('kubernetes', async () => {
    const runtime = forwarded();
    return {
      runtime,
      reopen: async () => forwarded(),
      cleanup: async () => runtime.closeForwards(),
      forgeStaleHandle: (real) => ({ ...real, nonce: 'ffffffffffffffff' }),
      // No crash(): a StatefulSet replaces a killed pod, which is the point of it.
      storageExists: async (id) =>
        core.readNamespacedPersistentVolumeClaim({ name: names(id).pvc, namespace }).then(
          () => true,
          () => false,
        ),
      readyTimeoutMs: 180_000,
    };
  });
}
