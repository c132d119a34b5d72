// The Kubernetes objects of an instance, built by pure functions (table-tested in
// test/unit/kubernetes-manifests.test.ts): a PVC for the volume, a Secret for the instance
// credential (the Jupyter token) and its hook scripts, a StatefulSet with 0 or 1 replicas running
// the image's Jupyter server (the same argv as the local runtime), a Service, and a NetworkPolicy
// that admits only notebookd and the endpoint's allow-list.
import { createHash } from 'node:crypto';
import type { HookSpec } from '../../domain/notebook.ts';
import { decodeCommandScript } from '../local/hooks.ts';
import { buildJupyterLaunch } from '../local/jupyter-command.ts';
import type { InstancePaths } from '../local/layout.ts';
import type { InstanceSpec } from '../runtime.ts';

/** Plain JSON objects in the shape the API server takes (client-node's model types accept them). */
export type Manifest = Record<string, any>;

export const JUPYTER_PORT = 8888;
export const LABEL_INSTANCE = 'notebookd.io/instance';
export const ANNOTATION_INSTANCE_ID = 'notebookd.io/instance-id';
/** New on every start: ties pods (and handles) to one start, so a stale handle is told apart. */
export const ANNOTATION_NONCE = 'notebookd.io/start-nonce';

const WORK_DIR = '/home/ma-user/work';
const STATE_DIR = '/var/lib/notebookd';
const SECRET_DIR = '/etc/notebookd';

export interface KubernetesSettings {
  namespace: string;
  /** '' or undefined: the cluster's default class. */
  storageClass?: string;
  pythonPath: string;
  gpuResource: string;
  imagePullSecrets: readonly string[];
  allowFrom: readonly AllowFrom[];
  runAsUser: number;
}

export interface AllowFrom {
  cidr?: string;
  podLabels?: Record<string, string>;
  namespaceLabels?: Record<string, string>;
}

/**
 * A DNS-1123 name for the instance's objects: `nb-<id>`, lower-cased, at most 52 characters
 * (the StatefulSet's pods and revision labels append to it); a hash keeps shortened or altered
 * ids apart.
 */
export function resourceName(instanceId: string): string {
  const clean = instanceId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  const name = `nb-${clean}`;
  if (name.length <= 52 && clean === instanceId) return name;
  const hash = createHash('sha256').update(instanceId).digest('hex').slice(0, 8);
  return `${name.slice(0, 43).replace(/-+$/, '')}-${hash}`;
}

export const names = (instanceId: string) => {
  const base = resourceName(instanceId);
  return { statefulSet: base, service: base, networkPolicy: base, secret: `${base}-credential`, pvc: `${base}-volume`, pod: `${base}-0` };
};

export const labelsOf = (instanceId: string) => ({
  'app.kubernetes.io/name': 'notebookd-instance',
  'app.kubernetes.io/managed-by': 'notebookd',
  [LABEL_INSTANCE]: resourceName(instanceId),
});

const meta = (name: string, instanceId: string, namespace: string) => ({
  name,
  namespace,
  labels: labelsOf(instanceId),
  annotations: { [ANNOTATION_INSTANCE_ID]: instanceId },
});

export function pvcManifest(instanceId: string, capacityGb: number, s: KubernetesSettings): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(names(instanceId).pvc, instanceId, s.namespace),
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: `${capacityGb}Gi` } },
      ...(s.storageClass ? { storageClassName: s.storageClass } : {}),
    },
  };
}

/** The instance's paths inside the container, in the local runtime's layout type. */
export function containerPaths(): InstancePaths {
  return {
    volumeDir: WORK_DIR,
    instanceDir: STATE_DIR,
    runtimeDir: `${STATE_DIR}/runtime`,
    configDir: `${STATE_DIR}/config`,
    jupyterDataDir: `${STATE_DIR}/data`,
    ipythonDir: `${STATE_DIR}/ipython`,
    jupyterLog: `${STATE_DIR}/jupyter.log`,
    hooksLog: `${STATE_DIR}/hooks.log`,
    portFile: `${STATE_DIR}/port`,
    serverFile: `${STATE_DIR}/server.json`,
    tokenFile: `${SECRET_DIR}/token`,
    volumeFile: `${STATE_DIR}/volume.json`,
    hookPidsFile: `${STATE_DIR}/hook-pids.json`,
  };
}

/** How a hook is run inside the image: a COMMAND from the Secret, a SCRIPT from the image. */
function hookCommand(phase: 'pre-start' | 'post-start', hook: HookSpec): string[] {
  if (hook.type === 'COMMAND') return ['/bin/sh', `${SECRET_DIR}/${phase}.sh`];
  if (!hook.script.startsWith('/')) throw new Error(`hook SCRIPT path must be absolute: ${JSON.stringify(hook.script)}`);
  return ['/bin/sh', '-c', 'if [ -x "$0" ]; then exec "$0"; else exec /bin/sh "$0"; fi', hook.script];
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Waits (in the background) for the server's port, then runs post_start: Kubernetes runs postStart beside the entrypoint. */
export function postStartWrapper(hook: HookSpec, pythonPath: string): string {
  const probe = `import socket; socket.create_connection(("127.0.0.1", ${JUPYTER_PORT}), 1)`;
  return [
    '#!/bin/sh',
    '(',
    '  i=0',
    `  while [ "$i" -lt 300 ] && ! ${shq(pythonPath)} -c ${shq(probe)} 2>/dev/null; do i=$((i + 1)); sleep 0.2; done`,
    `  echo "--- post_start hook (${hook.type}, ${hook.mode}) ---"`,
    `  ${hookCommand('post-start', hook).map(shq).join(' ')}`,
    '  echo "--- post_start hook ended with exit code $? ---"',
    `) >> ${STATE_DIR}/hooks.log 2>&1 &`,
    '',
  ].join('\n');
}

export function secretManifest(instanceId: string, jupyterToken: string, spec: Pick<InstanceSpec, 'hooks'>, s: KubernetesSettings): Manifest {
  const data: Record<string, string> = { token: jupyterToken };
  const pre = spec.hooks?.preStart;
  const post = spec.hooks?.postStart;
  if (pre?.type === 'COMMAND') data['pre-start.sh'] = decodeCommandScript(pre.script);
  if (post?.type === 'COMMAND') data['post-start.sh'] = decodeCommandScript(post.script);
  if (post) data['run-post-start.sh'] = postStartWrapper(post, s.pythonPath);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(names(instanceId).secret, instanceId, s.namespace),
    type: 'Opaque',
    stringData: data,
  };
}

/** Kubernetes quantities: CPUs as millicores when fractional, memory in Mi. */
export function resourcesFor(spec: Pick<InstanceSpec, 'vcpus' | 'memoryMb' | 'gpus'>, gpuResource: string): Manifest {
  const cpu = Number.isInteger(spec.vcpus) ? String(spec.vcpus) : `${Math.ceil(spec.vcpus * 1000)}m`;
  const memory = `${Math.round(spec.memoryMb)}Mi`;
  const gpus = spec.gpus ?? 0;
  // GPUs are an extended resource: limits only (requests default to them and may not differ).
  return { requests: { cpu, memory }, limits: { cpu, memory, ...(gpus > 0 ? { [gpuResource]: String(gpus) } : {}) } };
}

export interface PodTemplateInput {
  spec: InstanceSpec;
  nonce: string;
  settings: KubernetesSettings;
}

export function podTemplate({ spec, nonce, settings: s }: PodTemplateInput): Manifest {
  const n = names(spec.instanceId);
  if (!spec.imageRef) throw new Error(`the image ${spec.imageId} has no container image reference (swr_path); the kubernetes runtime runs images`);
  const paths = containerPaths();
  const launch = buildJupyterLaunch({ program: spec.program, pythonPath: s.pythonPath, host: '0.0.0.0', port: JUPYTER_PORT, basePath: spec.basePath, paths, hostEnv: {} });
  // Reached through the Service name: Jupyter's loopback-only Host check would refuse it (the token guards every request).
  const args = launch.args.map((a) => (a.endsWith('.allow_remote_access=False') ? a.replace(/False$/, 'True') : a));
  const env = Object.entries(launch.env).map(([name, value]) => ({ name, value }));
  const mounts = [
    { name: 'work', mountPath: WORK_DIR },
    { name: 'credential', mountPath: SECRET_DIR, readOnly: true },
    { name: 'state', mountPath: STATE_DIR },
  ];
  const pre = spec.hooks?.preStart;
  const post = spec.hooks?.postStart;
  if (post) hookCommand('post-start', post); // its wrapper lives in the Secret: validate the path here too
  // An ASYNC pre_start runs beside the server; a BLOCK one is an init container that must succeed.
  const command =
    pre && pre.mode === 'ASYNC'
      ? ['/bin/sh', '-c', `${hookCommand('pre-start', pre).map(shq).join(' ')} >> ${STATE_DIR}/hooks.log 2>&1 & exec "$0" "$@"`, launch.command, ...args]
      : [launch.command, ...args];
  const container: Manifest = {
    name: 'notebook',
    image: spec.imageRef,
    command,
    workingDir: WORK_DIR,
    env,
    ports: [{ name: 'http', containerPort: JUPYTER_PORT, protocol: 'TCP' }],
    resources: resourcesFor(spec, s.gpuResource),
    volumeMounts: mounts,
    readinessProbe: { tcpSocket: { port: JUPYTER_PORT }, periodSeconds: 2, failureThreshold: 3 },
    ...(post ? { lifecycle: { postStart: { exec: { command: ['/bin/sh', `${SECRET_DIR}/run-post-start.sh`] } } } } : {}),
  };
  return {
    metadata: {
      labels: labelsOf(spec.instanceId),
      annotations: { [ANNOTATION_INSTANCE_ID]: spec.instanceId, [ANNOTATION_NONCE]: nonce },
    },
    spec: {
      // Users' kernels get no credentials for the cluster's API.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsUser: s.runAsUser, runAsGroup: s.runAsUser, fsGroup: s.runAsUser, runAsNonRoot: s.runAsUser !== 0 },
      terminationGracePeriodSeconds: 30,
      ...(s.imagePullSecrets.length ? { imagePullSecrets: s.imagePullSecrets.map((name) => ({ name })) } : {}),
      ...(pre && pre.mode === 'BLOCK'
        ? {
            initContainers: [
              {
                name: 'pre-start',
                image: spec.imageRef,
                command: hookCommand('pre-start', pre),
                workingDir: WORK_DIR,
                env,
                resources: resourcesFor({ ...spec, gpus: 0 }, s.gpuResource),
                volumeMounts: mounts,
              },
            ],
          }
        : {}),
      containers: [container],
      volumes: [
        { name: 'work', persistentVolumeClaim: { claimName: n.pvc } },
        { name: 'credential', secret: { secretName: n.secret, defaultMode: 0o440 } },
        { name: 'state', emptyDir: {} },
      ],
    },
  };
}

export function statefulSetManifest(input: PodTemplateInput & { replicas: 0 | 1 }): Manifest {
  const n = names(input.spec.instanceId);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(n.statefulSet, input.spec.instanceId, input.settings.namespace),
    spec: {
      replicas: input.replicas,
      serviceName: n.service,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { [LABEL_INSTANCE]: resourceName(input.spec.instanceId) } },
      template: podTemplate(input),
    },
  };
}

export function serviceManifest(instanceId: string, s: KubernetesSettings): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(names(instanceId).service, instanceId, s.namespace),
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_INSTANCE]: resourceName(instanceId) },
      ports: [{ name: 'http', port: JUPYTER_PORT, targetPort: JUPYTER_PORT, protocol: 'TCP' }],
    },
  };
}

/** An allow-list entry as an ipBlock: a bare address becomes a /32 or /128. */
export function ipBlockOf(entry: string): string {
  if (entry.includes('/')) return entry;
  return entry.includes(':') ? `${entry}/128` : `${entry}/32`;
}

export function networkPolicyManifest(instanceId: string, allowedAccessIps: readonly string[], s: KubernetesSettings): Manifest {
  const peers: Manifest[] = [
    ...s.allowFrom.map((p): Manifest =>
      p.cidr
        ? { ipBlock: { cidr: p.cidr } }
        : {
            ...(p.podLabels ? { podSelector: { matchLabels: p.podLabels } } : {}),
            ...(p.namespaceLabels ? { namespaceSelector: { matchLabels: p.namespaceLabels } } : {}),
          },
    ),
    ...allowedAccessIps.map((ip) => ({ ipBlock: { cidr: ipBlockOf(ip) } })),
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(names(instanceId).networkPolicy, instanceId, s.namespace),
    spec: {
      podSelector: { matchLabels: { [LABEL_INSTANCE]: resourceName(instanceId) } },
      policyTypes: ['Ingress'],
      // No peer at all means no ingress at all (a rule with an empty `from` would admit everyone).
      ingress: peers.length ? [{ from: peers, ports: [{ port: JUPYTER_PORT, protocol: 'TCP' }] }] : [],
    },
  };
}

/** Where notebookd reaches the instance: its Service's cluster DNS name. */
export const targetOrigin = (instanceId: string, namespace: string, serviceDomain: string) =>
  `http://${names(instanceId).service}.${namespace}.${serviceDomain}:${JUPYTER_PORT}`;
