// The Kubernetes runtime: an instance is a StatefulSet with 0 or 1 replicas running the image
// (its swr_path) with the same Jupyter argv as the local runtime, its volume a PVC from a
// configurable StorageClass, reached through a Service, fenced by a NetworkPolicy, its Jupyter
// token in a Secret. Manifests come from pure functions (manifests.ts) and the state from a
// pure reading of the pod and its events (pod-status.ts); this file only talks to the API.
// Stop scales to 0 (deleting the pod with the requested grace), start replaces the template
// (a new token and nonce) and scales to 1, delete removes every object including the PVC.
import { randomBytes } from 'node:crypto';
import type { ImageProgram } from '../../domain/catalog.ts';
import { specProblem } from '../local/jupyter-command.ts';
import type { Availability, InstanceSpec, Launched, PollResult, ProgressReporter, Runtime, RuntimeHandle } from '../runtime.ts';
import { apiErrorMessage, ignoreNotFound, loadKubeConfig, makeKubeApis, mergePatch, networkPolicyForClient, orNull } from './kube-client.ts';
import type { KubeApis, KubeConfigSource } from './kube-client.ts';
import {
  ANNOTATION_NONCE,
  LABEL_INSTANCE,
  names,
  networkPolicyManifest,
  podTemplate,
  pvcManifest,
  resourceName,
  secretManifest,
  serviceManifest,
  statefulSetManifest,
  targetOrigin,
} from './manifests.ts';
import type { AllowFrom, KubernetesSettings, Manifest } from './manifests.ts';
import { derivePodStatus, initOutcome, podOfStart } from './pod-status.ts';
import type { PodLike } from './pod-status.ts';

export interface RuntimeLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

/** Empty strings count as unset, so the config section can be passed as it is. */
export interface KubernetesRuntimeOptions extends KubeConfigSource {
  namespace: string;
  storageClass?: string;
  /** Cluster DNS suffix of Services. Default svc.cluster.local. */
  serviceDomain?: string;
  /** Python with Jupyter inside the images. Default python3. */
  pythonPath?: string;
  /** Default nvidia.com/gpu. */
  gpuResource?: string;
  imagePullSecrets?: readonly string[];
  allowFrom?: readonly AllowFrom[];
  runAsUser?: number;
  /** How long start() waits for a BLOCK pre_start hook (init container) to finish. Default 110 s. */
  startWaitMs?: number;
  /** How long a pod may wait for a node before it counts as failed. Default 60 s. */
  unschedulableGraceMs?: number;
  /** How often waits re-read the API. Default 500 ms. */
  pollMs?: number;
  log?: RuntimeLog;
}

export interface KubernetesHandle {
  v: 1;
  kind: 'kubernetes';
  instanceId: string;
  namespace: string;
  name: string;
  /** The StatefulSet's uid: a recreated one with the same name is another instance's. */
  uid: string;
  nonce: string;
}

export function parseKubernetesHandle(handle: RuntimeHandle): KubernetesHandle | string {
  const h = handle as Partial<KubernetesHandle>;
  if (h.kind !== 'kubernetes' || h.v !== 1) return 'not a Kubernetes runtime handle';
  for (const key of ['instanceId', 'namespace', 'name', 'uid', 'nonce'] as const) {
    if (typeof h[key] !== 'string' || !h[key]) return `missing ${key}`;
  }
  if (h.name !== resourceName(h.instanceId!)) return `name ${h.name} does not belong to instance ${h.instanceId}`;
  return h as KubernetesHandle;
}

const silentLog: RuntimeLog = { info() {}, warn() {} };
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createKubernetesRuntime(opts: KubernetesRuntimeOptions): Runtime {
  const api: KubeApis = makeKubeApis(loadKubeConfig({ kubeConfig: opts.kubeConfig, kubeconfig: opts.kubeconfig || undefined, context: opts.context || undefined }));
  const namespace = opts.namespace;
  const settings: KubernetesSettings = {
    namespace,
    storageClass: opts.storageClass || undefined,
    pythonPath: opts.pythonPath || 'python3',
    gpuResource: opts.gpuResource || 'nvidia.com/gpu',
    imagePullSecrets: opts.imagePullSecrets ?? [],
    allowFrom: opts.allowFrom ?? [],
    runAsUser: opts.runAsUser ?? 1000,
  };
  const serviceDomain = opts.serviceDomain || 'svc.cluster.local';
  const startWaitMs = opts.startWaitMs ?? 110_000;
  const unschedulableGraceMs = opts.unschedulableGraceMs ?? 60_000;
  const pollMs = opts.pollMs ?? 500;
  const log = opts.log ?? silentLog;
  let reachable: { at: number; result: Availability } | null = null;

  const selector = (instanceId: string) => `${LABEL_INSTANCE}=${resourceName(instanceId)}`;

  async function podsOf(instanceId: string): Promise<PodLike[]> {
    const list = await api.core.listNamespacedPod({ namespace, labelSelector: selector(instanceId) });
    return list.items as PodLike[];
  }

  async function eventsOf(pod: string) {
    const list = await api.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${pod}` });
    return list.items;
  }

  async function ensurePvc(spec: InstanceSpec): Promise<void> {
    const name = names(spec.instanceId).pvc;
    const pvc = await orNull(api.core.readNamespacedPersistentVolumeClaim({ name, namespace }));
    if (!pvc) {
      await api.core.createNamespacedPersistentVolumeClaim({ namespace, body: pvcManifest(spec.instanceId, spec.capacityGb, settings) });
      return;
    }
    // A size asked for while stopped (storage_new_size) is applied on the next start, where the class allows it.
    if (gibOf(pvc) < spec.capacityGb) {
      await resizeVolume(spec.instanceId, spec.capacityGb).catch((err: Error) =>
        log.warn({ instanceId: spec.instanceId, err: err.message }, 'the volume keeps its size'),
      );
    }
  }

  async function ensureService(instanceId: string): Promise<void> {
    // Created once and never replaced: its spec never changes, and clusterIP is immutable.
    const name = names(instanceId).service;
    if (await orNull(api.core.readNamespacedService({ name, namespace }))) return;
    await api.core.createNamespacedService({ namespace, body: serviceManifest(instanceId, settings) });
  }

  async function applyNetworkPolicy(instanceId: string, allowed: readonly string[]): Promise<void> {
    const body = networkPolicyForClient(networkPolicyManifest(instanceId, allowed, settings));
    const current = await orNull(api.networking.readNamespacedNetworkPolicy({ name: body.metadata.name, namespace }));
    if (!current) await api.networking.createNamespacedNetworkPolicy({ namespace, body });
    else await api.networking.replaceNamespacedNetworkPolicy({ name: body.metadata.name, namespace, body: withVersion(body, current) });
  }

  async function applySecret(spec: InstanceSpec): Promise<void> {
    const body = secretManifest(spec.instanceId, spec.jupyterToken, spec, settings);
    const current = await orNull(api.core.readNamespacedSecret({ name: body.metadata.name, namespace }));
    if (!current) await api.core.createNamespacedSecret({ namespace, body });
    else await api.core.replaceNamespacedSecret({ name: body.metadata.name, namespace, body: withVersion(body, current) });
  }

  /** Creates the StatefulSet, or replaces its template and replica count; returns its uid. */
  async function applyStatefulSet(spec: InstanceSpec, nonce: string, replicas: 0 | 1): Promise<string> {
    const body = statefulSetManifest({ spec, nonce, settings, replicas });
    const name = body.metadata.name as string;
    const current = await orNull(api.apps.readNamespacedStatefulSet({ name, namespace }));
    if (!current) {
      const created = await api.apps.createNamespacedStatefulSet({ namespace, body });
      return created.metadata?.uid ?? '';
    }
    const next = { ...current, spec: { ...current.spec, replicas, template: body.spec.template } } as Manifest;
    const replaced = await api.apps.replaceNamespacedStatefulSet({ name, namespace, body: next as never });
    return replaced.metadata?.uid ?? current.metadata?.uid ?? '';
  }

  async function scaleToZero(instanceId: string): Promise<void> {
    await ignoreNotFound(api.apps.patchNamespacedStatefulSet({ name: names(instanceId).statefulSet, namespace, body: { spec: { replicas: 0 } } }, mergePatch()));
  }

  async function deletePods(instanceId: string, graceMs: number, only?: string): Promise<void> {
    for (const pod of await podsOf(instanceId)) {
      const name = pod.metadata?.name;
      if (!name || (only && pod.metadata?.annotations?.[ANNOTATION_NONCE] !== only)) continue;
      await ignoreNotFound(api.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: Math.ceil(graceMs / 1000) }));
    }
  }

  async function waitNoPods(instanceId: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while ((await podsOf(instanceId)).length > 0) {
      if (Date.now() >= deadline) throw new Error(`the pods of ${instanceId} did not go away within ${Math.round(ms / 1000)} s`);
      await delay(pollMs);
    }
  }

  async function resizeVolume(instanceId: string, capacityGb: number): Promise<void> {
    if (!Number.isFinite(capacityGb) || capacityGb <= 0) throw new Error(`invalid capacity ${capacityGb} GB`);
    const name = names(instanceId).pvc;
    const pvc = await orNull(api.core.readNamespacedPersistentVolumeClaim({ name, namespace }));
    if (!pvc) throw new Error(`the volume of ${instanceId} does not exist (PVC ${name})`);
    const current = gibOf(pvc);
    if (capacityGb < current) throw new Error(`the volume cannot shrink from ${current} GB to ${capacityGb} GB`);
    if (capacityGb === current) return;
    const className = pvc.spec?.storageClassName;
    const storageClass = className ? await orNull(api.storage.readStorageClass({ name: className })) : null;
    if (!storageClass?.allowVolumeExpansion) {
      throw new Error(`the StorageClass ${className ?? '(none)'} of PVC ${name} does not allow volume expansion (allowVolumeExpansion is not true)`);
    }
    await api.core.patchNamespacedPersistentVolumeClaim({ name, namespace, body: { spec: { resources: { requests: { storage: `${capacityGb}Gi` } } } } }, mergePatch());
    log.info({ instanceId, capacityGb }, 'kubernetes volume expansion requested');
  }

  /** The StatefulSet if it still belongs to the handle's start. */
  async function statefulSetOf(h: KubernetesHandle): Promise<{ replicas: number } | string> {
    const sts = await orNull(api.apps.readNamespacedStatefulSet({ name: h.name, namespace: h.namespace }));
    if (!sts) return `the StatefulSet ${h.name} is gone`;
    if (sts.metadata?.uid !== h.uid) return `the StatefulSet ${h.name} was recreated (it is not this handle's any more)`;
    if (sts.spec?.template.metadata?.annotations?.[ANNOTATION_NONCE] !== h.nonce) return `the instance was started again since (this handle is stale)`;
    return { replicas: sts.spec?.replicas ?? 0 };
  }

  async function statusOfStart(h: KubernetesHandle, replicas: number): Promise<PollResult> {
    const pods = await podsOf(h.instanceId);
    const pod = podOfStart(pods, h.nonce);
    const pending = !pod || pod.status?.phase === 'Pending' || !pod.status?.phase;
    const events = pod?.metadata?.name && pending ? await eventsOf(pod.metadata.name) : [];
    return derivePodStatus({ replicas, nonce: h.nonce, pods, events, now: Date.now(), unschedulableGraceMs });
  }

  /** Waits until the BLOCK pre_start init container has run; throws with its output when it failed. */
  async function awaitInit(h: KubernetesHandle): Promise<void> {
    const deadline = Date.now() + startWaitMs;
    for (;;) {
      const pod = podOfStart(await podsOf(h.instanceId), h.nonce);
      const outcome = initOutcome(pod);
      if (outcome === 'passed') return;
      if (outcome !== 'waiting') {
        const output = await api.core
          .readNamespacedPodLog({ name: pod!.metadata!.name!, namespace, container: outcome.container, tailLines: 10 })
          .catch(() => '');
        throw new Error(`pre_start hook (init container ${outcome.container}) failed with ${outcome.failed}${output.trim() ? `; last output:\n${output.trim()}` : ''}`);
      }
      const status = await statusOfStart(h, 1);
      if (status.state !== 'running') throw new Error(`the instance did not start: ${status.reason}`);
      if (Date.now() >= deadline) throw new Error(`the pre_start hook did not finish within ${Math.round(startWaitMs / 1000)} s`);
      await delay(pollMs);
    }
  }

  async function stop(handle: RuntimeHandle, graceMs: number): Promise<void> {
    const h = parseKubernetesHandle(handle);
    if (typeof h === 'string') return;
    const sts = await statefulSetOf(h);
    if (typeof sts === 'string') return; // not ours to stop any more
    await scaleToZero(h.instanceId);
    // Scaling down uses the template's grace period; delete the pod to apply the caller's.
    await deletePods(h.instanceId, graceMs, h.nonce);
    await waitNoPods(h.instanceId, graceMs + 60_000);
    log.info({ instanceId: h.instanceId }, 'kubernetes instance scaled to zero');
  }

  return {
    kind: 'kubernetes',

    async checkImage(_program: ImageProgram): Promise<Availability> {
      // The program lives in the image; what notebookd can check is that the cluster answers.
      if (reachable?.result.available && Date.now() - reachable.at < 60_000) return reachable.result;
      let result: Availability;
      try {
        await api.core.listNamespacedPod({ namespace, limit: 1 });
        result = { available: true, message: `the Kubernetes API answers for namespace ${namespace}` };
      } catch (err) {
        result = { available: false, message: `the Kubernetes API is not reachable for namespace ${namespace}: ${apiErrorMessage(err)}` };
      }
      reachable = { at: Date.now(), result };
      return result;
    },

    async prepare(spec: InstanceSpec, report: ProgressReporter): Promise<void> {
      await report(1, 'PROCESSING');
      await ensurePvc(spec);
      await report(1, 'COMPLETED');
      await report(2, 'PROCESSING');
      podTemplate({ spec, nonce: 'check', settings }); // refuses an image without a container reference
      if (!(await orNull(api.apps.readNamespacedStatefulSet({ name: names(spec.instanceId).statefulSet, namespace })))) {
        await applyStatefulSet(spec, 'prepared', 0);
      }
      await report(2, 'COMPLETED');
      await report(3, 'PROCESSING');
      await ensureService(spec.instanceId);
      await applyNetworkPolicy(spec.instanceId, spec.allowedAccessIps ?? []);
      await report(3, 'COMPLETED');
    },

    async start(spec: InstanceSpec): Promise<Launched> {
      const problem = specProblem(spec);
      if (problem) throw new Error(problem);
      if (!(await orNull(api.core.readNamespacedPersistentVolumeClaim({ name: names(spec.instanceId).pvc, namespace })))) {
        throw new Error(`the volume of ${spec.instanceId} does not exist (PVC ${names(spec.instanceId).pvc}); prepare the instance first`);
      }
      const nonce = randomBytes(8).toString('hex');
      await applySecret(spec);
      await ensureService(spec.instanceId);
      await applyNetworkPolicy(spec.instanceId, spec.allowedAccessIps ?? []);
      const uid = await applyStatefulSet(spec, nonce, 1);
      const handle: KubernetesHandle = { v: 1, kind: 'kubernetes', instanceId: spec.instanceId, namespace, name: names(spec.instanceId).statefulSet, uid, nonce };
      if (spec.hooks?.preStart?.mode === 'BLOCK') {
        try {
          await awaitInit(handle);
        } catch (err) {
          await stop({ ...handle }, 0).catch((e: Error) => log.warn({ instanceId: spec.instanceId, err: e.message }, 'could not scale a failed start down'));
          throw err;
        }
      }
      log.info({ instanceId: spec.instanceId, statefulSet: handle.name }, 'kubernetes instance scaled to one');
      return {
        handle: { ...handle },
        target: { origin: targetOrigin(spec.instanceId, namespace, serviceDomain), basePath: spec.basePath, jupyterToken: spec.jupyterToken },
      };
    },

    stop,

    async poll(handle: RuntimeHandle): Promise<PollResult> {
      const h = parseKubernetesHandle(handle);
      if (typeof h === 'string') return { state: 'lost', reason: `invalid handle: ${h}` };
      const sts = await statefulSetOf(h);
      if (typeof sts === 'string') return { state: 'lost', reason: sts };
      return statusOfStart(h, sts.replicas);
    },

    async destroy(instanceId: string): Promise<void> {
      const n = names(instanceId);
      await ignoreNotFound(api.apps.deleteNamespacedStatefulSet({ name: n.statefulSet, namespace, propagationPolicy: 'Background' }));
      await deletePods(instanceId, 2_000);
      await ignoreNotFound(api.core.deleteNamespacedService({ name: n.service, namespace }));
      await ignoreNotFound(api.networking.deleteNamespacedNetworkPolicy({ name: n.networkPolicy, namespace }));
      await ignoreNotFound(api.core.deleteNamespacedSecret({ name: n.secret, namespace }));
      await ignoreNotFound(api.core.deleteNamespacedPersistentVolumeClaim({ name: n.pvc, namespace }));
      await waitNoPods(instanceId, 60_000);
      log.info({ instanceId }, 'kubernetes instance deleted');
    },

    resizeVolume,
  };
}

/** A PVC's requested size in GiB (what this runtime writes: "<n>Gi"). */
function gibOf(pvc: { spec?: { resources?: { requests?: Record<string, unknown> } } }): number {
  return Number(/^(\d+)Gi$/.exec(String(pvc.spec?.resources?.requests?.storage ?? ''))?.[1] ?? 0);
}

/** A replacement carries the current object's resourceVersion (optimistic concurrency). */
function withVersion(body: Manifest, current: { metadata?: { resourceVersion?: string } }): Manifest {
  return { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } };
}
