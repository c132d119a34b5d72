// The Kubernetes API as this runtime uses it, through @kubernetes/client-node 1.4.0 (2.x needs
// Node 22): typed clients per API group, plus the few idioms every call site needs.
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api, PatchStrategy, StorageV1Api, setHeaderOptions } from '@kubernetes/client-node';

export interface KubeApis {
  core: CoreV1Api;
  apps: AppsV1Api;
  networking: NetworkingV1Api;
  storage: StorageV1Api;
}

export interface KubeConfigSource {
  /** A ready KubeConfig (tests, embedding); wins over the rest. */
  kubeConfig?: KubeConfig;
  /** A kubeconfig file; '' or absent: KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
  kubeconfig?: string;
  context?: string;
}

export function loadKubeConfig(src: KubeConfigSource): KubeConfig {
  if (src.kubeConfig) return src.kubeConfig;
  const kc = new KubeConfig();
  if (src.kubeconfig) kc.loadFromFile(src.kubeconfig);
  else kc.loadFromDefault();
  if (src.context) kc.setCurrentContext(src.context);
  return kc;
}

export function makeKubeApis(kc: KubeConfig): KubeApis {
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    storage: kc.makeApiClient(StorageV1Api),
  };
}

/** Options for a JSON merge patch (client-node defaults to JSON Patch). */
export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The HTTP status of a failed API call (client-node's ApiException), or null. */
export const statusOf = (err: unknown): number | null => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : null;
};

export const isNotFound = (err: unknown) => statusOf(err) === 404;

/** null for 404; anything else is an error. */
export async function orNull<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Deletes, treating "already gone" as done. */
export async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  await orNull(call);
}

/** A readable message for a failed API call: "409 Conflict: statefulsets.apps "x" already exists". */
export function apiErrorMessage(err: unknown): string {
  const code = statusOf(err);
  if (code === null) return (err as Error)?.message ?? String(err);
  const body = (err as { body?: unknown }).body;
  let message = '';
  try {
    const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string } | undefined);
    message = parsed?.message ?? '';
  } catch {
    message = typeof body === 'string' ? body.slice(0, 200) : '';
  }
  return `Kubernetes API answered ${code}${message ? `: ${message}` : ''}`;
}

/**
 * client-node serialises request bodies through its model classes, which spell a few fields
 * differently from the wire (`from` is `_from`) and drop what they do not know: a wire-format
 * NetworkPolicy must be renamed before it is handed over, or its peers vanish.
 */
export function networkPolicyForClient(manifest: Record<string, any>): Record<string, any> {
  const ingress = (manifest.spec?.ingress ?? []).map(({ from, ...rule }: Record<string, any>) => (from ? { ...rule, _from: from } : rule));
  return { ...manifest, spec: { ...manifest.spec, ingress } };
}
