// A small fake Kubernetes API server over HTTPS (a self-signed certificate made with the openssl
// CLI), for testing the Kubernetes runtime's client code: it stores StatefulSets, PVCs, Services,
// Secrets, NetworkPolicies, StorageClasses, pods and events; answers create/get/list (label and
// field selectors)/replace/merge-patch/delete the way the API server does (404 and 409 Status
// bodies, resourceVersion checks); records every request; and plays a minimal StatefulSet
// controller whose pods' status the test decides. It is no cluster: nothing runs.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

type Obj = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string;
  authorization: string;
  body: any;
}

export interface FakeKubeApi {
  url: string;
  /** A KubeConfig that trusts the fake's certificate (no skipTLSVerify). */
  kubeConfig(): KubeConfig;
  requests: RecordedRequest[];
  /** The stored object, or undefined. `resource` is the plural path segment (statefulsets, pods...). */
  get(resource: string, namespace: string | null, name: string): Obj | undefined;
  list(resource: string, namespace?: string | null): Obj[];
  put(resource: string, namespace: string | null, obj: Obj): Obj;
  /** The status the controller gives each new pod; change it to simulate the cluster. */
  podStatus: (pod: Obj) => Obj;
  /** Container logs by `<pod>/<container>`. */
  logs: Map<string, string>;
  addEvent(namespace: string, involvedName: string, reason: string, message: string, type?: 'Warning' | 'Normal'): void;
  close(): Promise<void>;
}

export const TOKEN = 'fake-kube-token';

const GROUPS: Record<string, { apiVersion: string; kind: string; namespaced: boolean }> = {
  'api/v1/pods': { apiVersion: 'v1', kind: 'Pod', namespaced: true },
  'api/v1/services': { apiVersion: 'v1', kind: 'Service', namespaced: true },
  'api/v1/secrets': { apiVersion: 'v1', kind: 'Secret', namespaced: true },
  'api/v1/persistentvolumeclaims': { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespaced: true },
  'api/v1/events': { apiVersion: 'v1', kind: 'Event', namespaced: true },
  'apis/apps/v1/statefulsets': { apiVersion: 'apps/v1', kind: 'StatefulSet', namespaced: true },
  'apis/networking.k8s.io/v1/networkpolicies': { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true },
  'apis/storage.k8s.io/v1/storageclasses': { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', namespaced: false },
};
const groupOf = (resource: string) => Object.keys(GROUPS).find((k) => k.endsWith(`/${resource}`));

const PATH = /^\/(api\/v1|apis\/[a-z0-9.]+\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(log|status|scale))?$/;

function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'notebookd-fake-kube-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=fake-kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: any, patch: any): any {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Obj = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const matchesLabels = (obj: Obj, selector: string | undefined) =>
  !selector ||
  selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return obj.metadata?.labels?.[k!] === v;
  });

const matchesFields = (obj: Obj, selector: string | undefined) =>
  !selector ||
  selector.split(',').every((term) => {
    const [path, v] = term.split('=');
    return path!.split('.').reduce<any>((o, k) => o?.[k], obj) === v;
  });

export const runningPodStatus = (pod: Obj): Obj => ({
  phase: 'Running',
  conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }],
  initContainerStatuses: (pod.spec.initContainers ?? []).map((c: Obj) => ({ name: c.name, image: c.image, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } })),
  containerStatuses: pod.spec.containers.map((c: Obj) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, state: { running: { startedAt: new Date().toISOString() } } })),
});

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const { key, cert } = selfSignedCert();
  const store = new Map<string, Obj>();
  const requests: RecordedRequest[] = [];
  let version = 1;
  const keyOf = (group: string, namespace: string | null, name: string) => `${group}|${namespace ?? ''}|${name}`;

  const fake: FakeKubeApi = {
    url: '',
    requests,
    logs: new Map(),
    podStatus: runningPodStatus,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: fake.url, caData: Buffer.from(cert).toString('base64'), skipTLSVerify: false }],
        users: [{ name: 'notebookd', token: TOKEN }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'notebookd', namespace: 'default' }],
        currentContext: 'fake',
      });
      return kc;
    },
    get: (resource, namespace, name) => store.get(keyOf(groupOf(resource)!, namespace, name)),
    list: (resource, namespace) => {
      const prefix = namespace ? `${groupOf(resource)}|${namespace}|` : `${groupOf(resource)}|`;
      return [...store.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
    },
    put: (resource, namespace, obj) => save(groupOf(resource)!, namespace, obj, true),
    addEvent(namespace, involvedName, reason, message, type = 'Warning') {
      save('api/v1/events', namespace, {
        metadata: { name: `${involvedName}.${randomUUID().slice(0, 8)}` },
        involvedObject: { kind: 'Pod', name: involvedName, namespace },
        reason,
        message,
        type,
        lastTimestamp: new Date().toISOString(),
      }, true);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  function save(group: string, namespace: string | null, obj: Obj, fresh: boolean): Obj {
    const meta = GROUPS[group]!;
    const prior = store.get(keyOf(group, namespace, obj.metadata.name));
    const stored: Obj = {
      ...obj,
      apiVersion: meta.apiVersion,
      kind: meta.kind,
      metadata: {
        ...obj.metadata,
        ...(meta.namespaced ? { namespace } : {}),
        uid: fresh || !prior ? randomUUID() : prior.metadata.uid,
        creationTimestamp: fresh || !prior ? new Date().toISOString() : prior.metadata.creationTimestamp,
        resourceVersion: String(++version),
      },
    };
    // The API server turns stringData into base64 data.
    if (meta.kind === 'Secret' && stored.stringData) {
      stored.data = Object.fromEntries(Object.entries(stored.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      delete stored.stringData;
    }
    store.set(keyOf(group, namespace, obj.metadata.name), stored);
    if (meta.kind === 'StatefulSet') reconcileStatefulSet(namespace!, stored);
    return stored;
  }

  /** The StatefulSet controller, reduced: 1 replica → pod <name>-0 from the template; 0 → none. */
  function reconcileStatefulSet(namespace: string, sts: Obj): void {
    const podName = `${sts.metadata.name}-0`;
    const podKey = keyOf('api/v1/pods', namespace, podName);
    const existing = store.get(podKey);
    const nonce = sts.spec.template.metadata?.annotations?.['notebookd.io/start-nonce'];
    if (existing && sts.spec.replicas === 0 && !existing.metadata.deletionTimestamp) {
      // Scaled down: the pod terminates over the template's grace period; an explicit DELETE ends it.
      existing.metadata = { ...existing.metadata, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: sts.spec.template.spec.terminationGracePeriodSeconds ?? 30 };
    }
    if (existing && sts.spec.replicas === 1 && existing.metadata.annotations?.['notebookd.io/start-nonce'] !== nonce) store.delete(podKey);
    if (sts.spec.replicas === 1 && !store.has(podKey)) {
      const pod: Obj = {
        metadata: { ...sts.spec.template.metadata, name: podName },
        spec: { ...sts.spec.template.spec, nodeName: 'fake-node' },
      };
      pod.status = fake.podStatus(pod);
      save('api/v1/pods', namespace, pod, true);
    }
  }

  const status = (res: ServerResponse, code: number, reason: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  };
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!;
    const body = raw ? JSON.parse(raw) : undefined;
    requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), contentType, authorization: String(req.headers.authorization ?? ''), body });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');

    const m = PATH.exec(url.pathname);
    const group = m ? `${m[1]}/${m[3]}` : '';
    const meta = GROUPS[group];
    if (!m || !meta) return status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const namespace = meta.namespaced ? (m[2] ?? null) : null;
    const name = m[4] ? decodeURIComponent(m[4]) : null;
    const sub = m[5];
    const k = name ? keyOf(group, namespace, name) : '';
    const current = name ? store.get(k) : undefined;
    const notFound = () => status(res, 404, 'NotFound', `${m[3]} "${name}" not found`);

    if (sub === 'log') {
      if (!current) return notFound();
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(fake.logs.get(`${name}/${url.searchParams.get('container') ?? ''}`) ?? '');
    }
    switch (req.method) {
      case 'GET': {
        if (name) return current ? send(res, 200, current) : notFound();
        const items = [...store.entries()]
          .filter(([key]) => key.startsWith(`${group}|${namespace ?? ''}|`))
          .map(([, v]) => v)
          .filter((o) => matchesLabels(o, url.searchParams.get('labelSelector') ?? undefined) && matchesFields(o, url.searchParams.get('fieldSelector') ?? undefined));
        const limit = Number(url.searchParams.get('limit') ?? 0);
        return send(res, 200, { apiVersion: meta.apiVersion, kind: `${meta.kind}List`, metadata: { resourceVersion: String(version) }, items: limit ? items.slice(0, limit) : items });
      }
      case 'POST': {
        if (name || !body?.metadata?.name) return status(res, 400, 'BadRequest', 'a create needs metadata.name and no name in the path');
        if (store.has(keyOf(group, namespace, body.metadata.name))) return status(res, 409, 'AlreadyExists', `${m[3]} "${body.metadata.name}" already exists`);
        return send(res, 201, save(group, namespace, body, true));
      }
      case 'PUT': {
        if (!current) return notFound();
        if (body?.metadata?.resourceVersion && body.metadata.resourceVersion !== current.metadata.resourceVersion) {
          return status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${m[3]} "${name}": the object has been modified`);
        }
        return send(res, 200, save(group, namespace, { ...body, metadata: { ...body.metadata, name } }, false));
      }
      case 'PATCH': {
        if (!current) return notFound();
        if (contentType !== 'application/merge-patch+json' && contentType !== 'application/strategic-merge-patch+json') {
          return status(res, 415, 'UnsupportedMediaType', `this fake takes merge patches, not ${contentType}`);
        }
        return send(res, 200, save(group, namespace, mergePatch(current, body), false));
      }
      case 'DELETE': {
        if (!current) return notFound();
        store.delete(k);
        if (meta.kind === 'StatefulSet') {
          // Background propagation: its pod goes too.
          store.delete(keyOf('api/v1/pods', namespace, `${name}-0`));
        }
        if (meta.kind === 'Pod') {
          // The controller recreates a deleted pod while the StatefulSet still wants one.
          const sts = store.get(keyOf('apis/apps/v1/statefulsets', namespace, name!.replace(/-0$/, '')));
          if (sts) reconcileStatefulSet(namespace!, sts);
        }
        return send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name } });
      }
      default:
        return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported`);
    }
  }

  const server = createServer({ key, cert }, (req, res) => {
    handle(req, res).catch((err: Error) => status(res, 500, 'InternalError', err.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
