// A typed client for the notebook operations notebookd serves. The CLI and the console use it;
// wire types come from the server's own presenters so the two can never drift apart.
import type { NotebookStatus } from '../domain/lifecycle.ts';
import type { presentEvent, presentFlavor, presentImage, presentLease, presentNotebook } from '../api/presenters.ts';
import type { presentKeyPair } from '../api/routes/keypairs.ts';
import { createTransport, NotebookdError, type Query, type TransportOptions } from './http.ts';

export type Notebook = ReturnType<typeof presentNotebook>;
export type Lease = ReturnType<typeof presentLease>;
export type Flavor = ReturnType<typeof presentFlavor>;
export type Image = ReturnType<typeof presentImage>;
export type NotebookEvent = ReturnType<typeof presentEvent>;
/** A key pair (KPS shape); private_key only in the answer that generated it. */
export type KeyPair = ReturnType<typeof presentKeyPair>;

export interface CreateKeyPairRequest {
  name: string;
  /** Import this OpenSSH public key instead of generating a pair. */
  public_key?: string;
  /** For generated pairs: ed25519 (default) or rsa. */
  key_type?: 'ed25519' | 'rsa';
}

export interface Page<T> {
  current: number;
  data: T[];
  pages: number;
  size: number;
  total: number;
}

export interface CreateNotebookRequest {
  name: string;
  flavor: string;
  image_id: string;
  volume: { category: string; ownership?: string; capacity?: number };
  description?: string;
  feature?: string;
  duration?: number;
  lease?: { duration?: number; type?: string };
  endpoints?: { service: string; key_pair_names?: string[]; allowed_access_ips?: string[] }[];
  hooks?: { container_hooks?: { pre_start?: HookConfig; post_start?: HookConfig } };
  workspace_id?: string;
}

export interface HookConfig {
  script: string;
  type?: 'COMMAND' | 'SCRIPT';
  mode?: 'BLOCK' | 'ASYNC';
}

export type UpdateNotebookRequest = Partial<Pick<CreateNotebookRequest, 'name' | 'description' | 'endpoints' | 'hooks' | 'flavor' | 'image_id'>> & {
  storage_new_size?: number;
};

export interface ListNotebooksQuery {
  limit?: 10 | 20 | 50;
  offset?: number;
  name?: string;
  status?: NotebookStatus;
  sort_key?: string;
  sort_dir?: 'ASC' | 'DESC';
  owner?: string;
  flavor?: string;
  image_id?: string;
  tags?: string;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Called with every status seen, for progress displays. */
  onPoll?: (nb: Notebook) => void;
}

/** Statuses after which waiting for anything else is pointless. */
const FAILED: ReadonlySet<string> = new Set(['CREATE_FAILED', 'START_FAILED', 'DELETE_FAILED', 'ERROR', 'FROZEN']);

export interface ClientOptions extends TransportOptions {
  projectId: string;
  /** Waiting sleeps through this; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

export function createClient(opts: ClientOptions) {
  const request = createTransport(opts);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const p = `/v1/${encodeURIComponent(opts.projectId)}`;
  const nb = (id: string) => `${p}/notebooks/${encodeURIComponent(id)}`;

  const notebooks = {
    create: (body: CreateNotebookRequest) => request<Notebook>('POST', `${p}/notebooks`, { body }),
    list: (query: ListNotebooksQuery = {}) => request<Page<Notebook>>('GET', `${p}/notebooks`, { query }),
    listAll: (query: ListNotebooksQuery = {}) => request<Page<Notebook>>('GET', `${p}/notebooks/all`, { query }),
    show: (id: string) => request<Notebook>('GET', nb(id)),
    update: (id: string, body: UpdateNotebookRequest) => request<Notebook>('PUT', nb(id), { body }),
    delete: (id: string) => request<Notebook>('DELETE', nb(id)),
    start: (id: string, lease: { duration?: number; type?: 'TIMING' | 'IDLE' } = {}) =>
      request<Notebook>('POST', `${nb(id)}/start`, { query: { duration: lease.duration, type: lease.type } }),
    stop: (id: string) => request<Notebook>('POST', `${nb(id)}/stop`),
    showLease: (id: string) => request<Lease>('GET', `${nb(id)}/lease`),
    renewLease: (id: string, lease: { duration?: number; type?: 'TIMING' | 'IDLE' } = {}) => request<Lease>('PATCH', `${nb(id)}/lease`, { body: lease }),
    switchableFlavors: (id: string) => request<Page<Flavor> & { flavors: Flavor[] }>('GET', `${nb(id)}/flavors`),
    events: (id: string, query: { after?: number; limit?: number } = {}) => request<{ events: NotebookEvent[] }>('GET', `${nb(id)}/events`, { query }),
    tagSummary: () => request<{ tags: { key: string; values: string[] }[] }>('GET', `${p}/notebooks/tags`),
    addTags: (id: string, tags: { key: string; value: string }[]) => request<unknown>('POST', `${nb(id)}/tags/create`, { body: { tags } }),
    removeTags: (id: string, tags: { key: string; value?: string }[]) => request<unknown>('DELETE', `${nb(id)}/tags/delete`, { body: { tags } }),

    /** Every notebook matching the query, page after page. */
    async *iterate(query: Omit<ListNotebooksQuery, 'offset'> = {}, all = false): AsyncGenerator<Notebook> {
      const limit = query.limit ?? 50;
      for (let offset = 0; ; offset += limit) {
        const page = await (all ? notebooks.listAll : notebooks.list)({ ...query, limit, offset });
        yield* page.data;
        if (page.current + 1 >= page.pages) return;
      }
    },

    /**
     * Polls until the notebook reaches one of `statuses` (or is gone, when waiting for DELETED).
     * Rejects with a NotebookdError if it lands in a failure status instead, or on timeout.
     */
    async waitFor(id: string, statuses: NotebookStatus[], w: WaitOptions = {}): Promise<Notebook | null> {
      const deadline = Date.now() + (w.timeoutMs ?? 300_000);
      for (;;) {
        let current: Notebook;
        try {
          current = await notebooks.show(id);
        } catch (e) {
          if (e instanceof NotebookdError && e.httpStatus === 404 && statuses.includes('DELETED')) return null;
          throw e;
        }
        w.onPoll?.(current);
        if (statuses.includes(current.status as NotebookStatus)) return current;
        if (FAILED.has(current.status) && !statuses.some((s) => FAILED.has(s))) {
          throw new NotebookdError(409, 'NOTEBOOKD.WAIT_FAILED', `${current.status}: ${current.fail_reason || 'no reason recorded'}`, null);
        }
        if (Date.now() > deadline) {
          throw new NotebookdError(408, 'NOTEBOOKD.WAIT_TIMEOUT', `still ${current.status} after ${w.timeoutMs ?? 300_000} ms`, null);
        }
        await sleep(w.intervalMs ?? 1_000);
      }
    },
  };

  return {
    notebooks,
    flavors: {
      list: (query: Query = {}) => request<Page<Flavor> & { flavors: Flavor[] }>('GET', `${p}/notebooks/flavors`, { query }),
    },
    images: {
      list: (query: Query = {}) => request<Page<Image>>('GET', `${p}/images`, { query }),
      show: (id: string) => request<Image>('GET', `${p}/images/${encodeURIComponent(id)}`),
      register: (body: { swr_path: string; description?: string; program?: string; visibility?: string }) => request<Image>('POST', `${p}/images`, { body }),
      delete: (id: string, force = false) => request<Image>('DELETE', `${p}/images/${encodeURIComponent(id)}`, force ? { body: { is_force: true } } : {}),
    },
    keypairs: {
      list: async () => (await request<{ keypairs: { keypair: KeyPair }[] }>('GET', `/v3/${encodeURIComponent(opts.projectId)}/keypairs`)).keypairs.map((k) => k.keypair),
      show: async (name: string) => (await request<{ keypair: KeyPair }>('GET', `/v3/${encodeURIComponent(opts.projectId)}/keypairs/${encodeURIComponent(name)}`)).keypair,
      create: async (body: CreateKeyPairRequest) =>
        (await request<{ keypair: KeyPair }>('POST', `/v3/${encodeURIComponent(opts.projectId)}/keypairs`, { body: { keypair: { type: 'ssh', ...body } } })).keypair,
      delete: (name: string) => request<void>('DELETE', `/v3/${encodeURIComponent(opts.projectId)}/keypairs/${encodeURIComponent(name)}`),
    },
    /** Lower-level access for operations added by other modules (identity, key pairs). */
    request,
  };
}

export type NotebookdClient = ReturnType<typeof createClient>;
