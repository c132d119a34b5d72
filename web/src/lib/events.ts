// Live instance events: GET /v1/{project_id}/notebooks/{id}/events with Accept: text/event-stream.
// EventSource cannot send X-Auth-Token, so the stream is read with fetch and parsed here. It
// reconnects with Last-Event-ID after a drop; a server that answers JSON instead of a stream is
// reported once (the caller polls then).
import type { NotebookEvent } from '../../../src/sdk/browser.ts';

export interface SubscribeOptions {
  projectId: string;
  notebookId: string;
  token: string;
  /** Only events after this id (the last one the page already has). */
  afterId?: number;
  onEvent(e: NotebookEvent): void;
  /** The stream is open (again): events may have been missed while it was not. */
  onOpen?(): void;
  /** The server does not stream events; nothing more will be delivered. */
  onUnsupported?(): void;
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15_000;

/** Subscribes until the returned function is called. */
export function subscribeEvents(opts: SubscribeOptions): () => void {
  const abort = new AbortController();
  let lastId = opts.afterId;
  let retryMs = RETRY_MIN_MS;

  const url = () => {
    const u = new URL(`/v1/${encodeURIComponent(opts.projectId)}/notebooks/${encodeURIComponent(opts.notebookId)}/events`, location.origin);
    if (lastId !== undefined) u.searchParams.set('after', String(lastId));
    return u;
  };

  const dispatch = (event: string, data: string, id: string) => {
    if (id && /^\d+$/.test(id)) lastId = Number(id);
    if (!data) return;
    let parsed: Partial<NotebookEvent>;
    try {
      parsed = JSON.parse(data) as Partial<NotebookEvent>;
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const e = { ...parsed, type: parsed.type ?? event } as NotebookEvent;
    if (typeof e.id === 'number') lastId = Math.max(lastId ?? 0, e.id);
    opts.onEvent(e);
  };

  async function run() {
    while (!abort.signal.aborted) {
      try {
        const res = await fetch(url(), {
          headers: { accept: 'text/event-stream', 'X-Auth-Token': opts.token, ...(lastId !== undefined && { 'Last-Event-ID': String(lastId) }) },
          signal: abort.signal,
          cache: 'no-store',
        });
        if (res.status === 401 || res.status === 403 || res.status === 404) return;
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
          await res.body.cancel();
          opts.onUnsupported?.();
          return;
        }
        retryMs = RETRY_MIN_MS;
        opts.onOpen?.();
        await read(res.body);
      } catch {
        if (abort.signal.aborted) return;
      }
      await new Promise((r) => setTimeout(r, retryMs));
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    }
  }

  async function read(body: ReadableStream<Uint8Array>) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event = 'message';
    let data: string[] = [];
    let id = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          dispatch(event, data.join('\n'), id);
          event = 'message';
          data = [];
          id = '';
          continue;
        }
        if (line.startsWith(':')) continue; // keep-alive comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const raw = colon < 0 ? '' : line.slice(colon + 1);
        const v = raw.startsWith(' ') ? raw.slice(1) : raw;
        if (field === 'event') event = v;
        else if (field === 'data') data.push(v);
        else if (field === 'id') id = v;
      }
    }
  }

  void run();
  return () => abort.abort();
}
