// The access gateway's in-memory view of the instances: status, token generation, runtime target
// and allow-lists, by instance id. The proxy's and the SSH gateway's hot paths read only this.
// It is kept fresh by the store's own writes (watchNotebookWrites), a periodic re-read of the
// active instances (for writes of other replicas), and a rate-limited store lookup on a miss.
import { isIP } from 'node:net';
import type { Clock } from '../clock.ts';
import type { NotebookStatus } from '../domain/lifecycle.ts';
import type { EndpointSpec, Notebook } from '../domain/notebook.ts';
import type { Store } from '../store/store.ts';
import { addressMatcher, type AddressMatcher } from './client-address.ts';
import { tokenGeneration } from './credential.ts';

export interface Route {
  id: string;
  projectId: string;
  ownerId: string;
  status: NotebookStatus;
  /** The user-facing instance token of the current run, and its generation. */
  token: string | null;
  generation: string | null;
  /** Where Jupyter answers, once launched. */
  target: { host: string; port: number; hostHeader: string; origin: string; basePath: string; jupyterToken: string } | null;
  notebookAllow: AddressMatcher;
  sshAllow: AddressMatcher;
  /** Key pairs named by the SSH endpoint; empty when the instance has no SSH endpoint. */
  sshKeyPairNames: string[];
  hasSshEndpoint: boolean;
  /** The runtime's handle of the current run (the SSH gateway execs through it). */
  handle: unknown;
}

export interface RouteTableDeps {
  store: Store;
  clock: Clock;
  /** How often the active instances are re-read (other replicas' writes). Default 2 s. */
  refreshIntervalMs?: number;
  /** A miss or a non-running instance is looked up at most this often per id. Default 250 ms. */
  lookupIntervalMs?: number;
  log?: { warn(o: object, msg?: string): void };
}

const endpointOf = (nb: Notebook, service: EndpointSpec['service']) => nb.endpoints.find((e) => e.service === service);

export function routeOf(nb: Notebook): Route {
  const notebook = endpointOf(nb, 'NOTEBOOK');
  const ssh = endpointOf(nb, 'SSH');
  let target: Route['target'] = null;
  if (nb.runtimeTarget) {
    const url = new URL(nb.runtimeTarget.origin);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 80);
    target = {
      host,
      port,
      hostHeader: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`,
      origin: url.origin,
      basePath: nb.runtimeTarget.basePath,
      jupyterToken: nb.runtimeTarget.jupyterToken,
    };
  }
  return {
    id: nb.id,
    projectId: nb.projectId,
    ownerId: nb.owner.id,
    status: nb.status,
    token: nb.token,
    generation: nb.token ? tokenGeneration(nb.token) : null,
    target,
    notebookAllow: addressMatcher(notebook?.allowedAccessIps ?? []),
    sshAllow: addressMatcher(ssh?.allowedAccessIps ?? []),
    sshKeyPairNames: ssh?.keyPairNames ?? [],
    hasSshEndpoint: ssh !== undefined,
    handle: nb.runtimeHandle,
  };
}

/** What a route is made from: a write that changes none of it (a renewed lease) keeps its route. */
const sourceKey = (nb: Notebook) => JSON.stringify([nb.projectId, nb.owner.id, nb.status, nb.token, nb.runtimeTarget, nb.endpoints, nb.runtimeHandle]);

export function createRouteTable(deps: RouteTableDeps) {
  const { store, clock } = deps;
  const refreshIntervalMs = deps.refreshIntervalMs ?? 2_000;
  const lookupIntervalMs = deps.lookupIntervalMs ?? 250;
  const routes = new Map<string, Route>();
  /** Ids looked up recently (found or not), with when: bounds store reads for unknown ids. */
  const lookedUpAt = new Map<string, number>();
  const pending = new Map<string, Promise<Route | undefined>>();
  let stopped = new AbortController();
  let loop: Promise<void> | null = null;

  const madeFrom = new WeakMap<Route, string>();

  function apply(nb: Notebook): void {
    if (nb.status === 'DELETED') {
      routes.delete(nb.id);
      return;
    }
    // Making a route parses a URL, hashes the token and compiles allow-lists: not on every write.
    const key = sourceKey(nb);
    const known = routes.get(nb.id);
    if (known && madeFrom.get(known) === key) return;
    const route = routeOf(nb);
    madeFrom.set(route, key);
    routes.set(nb.id, route);
  }

  async function lookup(id: string): Promise<Route | undefined> {
    const nb = await store.notebooks.get(id);
    lookedUpAt.set(id, clock.now());
    if (lookedUpAt.size > 10_000) lookedUpAt.clear(); // unknown ids must not grow this without bound
    if (!nb) {
      routes.delete(id);
      return undefined;
    }
    apply(nb);
    return routes.get(id);
  }

  async function refresh(): Promise<void> {
    const active = await store.notebooks.listActive();
    const seen = new Set<string>();
    for (const nb of active) {
      seen.add(nb.id);
      apply(nb);
    }
    // Gone from the active set (stopped or deleted elsewhere): forget, so the next request looks it up.
    for (const [id, r] of routes) if (!seen.has(id) && r.status !== 'STOPPED') routes.delete(id);
  }

  return {
    apply,
    /** The route if known (synchronous: the hot path). */
    get: (id: string): Route | undefined => routes.get(id),
    /**
     * The freshest route worth having: the in-memory one when RUNNING, otherwise a store lookup
     * (at most one per id per lookupIntervalMs, shared by concurrent callers).
     */
    async resolve(id: string, force = false): Promise<Route | undefined> {
      const known = routes.get(id);
      if (known?.status === 'RUNNING' && !force) return known;
      const last = lookedUpAt.get(id);
      if (!force && last !== undefined && clock.now() - last < lookupIntervalMs) return known;
      let p = pending.get(id);
      if (!p) {
        p = lookup(id).finally(() => pending.delete(id));
        pending.set(id, p);
      }
      return p;
    },
    refresh,
    start(): void {
      if (loop) return;
      stopped = new AbortController();
      const signal = stopped.signal;
      loop = (async () => {
        while (!signal.aborted) {
          try {
            await refresh();
          } catch (e) {
            deps.log?.warn({ err: (e as Error).message }, 'route table refresh failed');
          }
          await clock.sleep(refreshIntervalMs, signal);
        }
      })();
    },
    async stop(): Promise<void> {
      stopped.abort();
      await loop;
      loop = null;
    },
    get size(): number {
      return routes.size;
    },
  };
}

export type RouteTable = ReturnType<typeof createRouteTable>;

/** The store, but every notebook write also lands in `onWrite` (after it committed). */
export function watchNotebookWrites(store: Store, onWrite: (nb: Notebook) => void): Store {
  const notebooks = store.notebooks;
  const watched: Store['notebooks'] = Object.create(notebooks);
  watched.insert = async (nb, events) => {
    const stored = await notebooks.insert(nb, events);
    onWrite(stored);
    return stored;
  };
  watched.update = async (next, events, steps, base) => {
    const stored = await notebooks.update(next, events, steps, base);
    onWrite(stored);
    return stored;
  };
  // Object.create keeps every other method (and ones added later) of the original store.
  const out: Store = Object.create(store);
  Object.defineProperty(out, 'notebooks', { value: watched, enumerable: true });
  return out;
}
