// The fake instance's Jupyter: a real node:http server on 127.0.0.1 that answers the handful of
// Jupyter REST calls notebookd makes (status for readiness, kernels for activity, contents for
// tests), so the orchestrator's real HTTP probes run against it unchanged.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKernel {
  id: string;
  name: string;
  /** ISO time, as Jupyter reports it. */
  last_activity: string;
  execution_state: 'starting' | 'idle' | 'busy' | 'dead';
  connections: number;
}

/** A terminal record as Jupyter lists it (GET api/terminals). */
export interface FakeTerminal {
  name: string;
  /** ISO time of the last input or output. */
  last_activity: string;
}

/** What the server reads on every request; the runtime and tests mutate it. */
export interface FakeServerState {
  basePath: string;
  token: string;
  /** Answer api/status with 200? (503 otherwise: the server is up but not serving yet). */
  isReady(): boolean;
  kernels: FakeKernel[];
  terminals?: FakeTerminal[];
  /** The instance's volume: path (no leading '/') → text content. */
  files: Map<string, string>;
  startedAt: string;
  lastActivityAt: string;
}

export interface FakeServer {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function contentsModel(path: string, content: string | null) {
  const name = path.split('/').pop() ?? path;
  return { name, path, type: 'file', format: content === null ? null : 'text', mimetype: 'text/plain', content, writable: true };
}

async function handle(state: FakeServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (!url.pathname.startsWith(state.basePath)) return send(res, 404, { message: 'Not Found' });
  const rel = url.pathname.slice(state.basePath.length);
  if (!state.isReady()) return send(res, 503, { message: 'fake jupyter is not ready' });
  // Like Jupyter, the version endpoint needs no token.
  if (rel === 'api' && req.method === 'GET') return send(res, 200, { version: 'fake' });
  const authorized = req.headers.authorization === `token ${state.token}` || url.searchParams.get('token') === state.token;
  if (!authorized) return send(res, 403, { message: 'Forbidden' });

  if (rel === 'api/status' && req.method === 'GET') {
    return send(res, 200, {
      connections: state.kernels.reduce((n, k) => n + k.connections, 0),
      kernels: state.kernels.length,
      last_activity: state.lastActivityAt,
      started: state.startedAt,
    });
  }
  if (rel === 'api/kernels' && req.method === 'GET') return send(res, 200, state.kernels);
  if (rel === 'api/terminals' && req.method === 'GET') return send(res, 200, state.terminals ?? []);
  if (rel.startsWith('api/contents/')) {
    const path = decodeURIComponent(rel.slice('api/contents/'.length)).replace(/^\/+/, '');
    if (req.method === 'GET') {
      const content = state.files.get(path);
      if (content === undefined) return send(res, 404, { message: `No such file or directory: ${path}` });
      return send(res, 200, contentsModel(path, url.searchParams.get('content') === '0' ? null : content));
    }
    if (req.method === 'PUT') {
      let model: { type?: string; content?: unknown };
      try {
        model = JSON.parse(await readBody(req)) as typeof model;
      } catch {
        return send(res, 400, { message: 'invalid JSON body' });
      }
      if (model.type !== 'file' || typeof model.content !== 'string') return send(res, 400, { message: 'only text files are supported by the fake' });
      const existed = state.files.has(path);
      state.files.set(path, model.content);
      return send(res, existed ? 200 : 201, contentsModel(path, null));
    }
    if (req.method === 'DELETE') {
      if (!state.files.delete(path)) return send(res, 404, { message: `No such file or directory: ${path}` });
      return send(res, 204);
    }
  }
  return send(res, 404, { message: 'Not Found' });
}

export async function startFakeServer(state: FakeServerState): Promise<FakeServer> {
  const server: Server = createServer((req, res) => {
    handle(state, req, res).catch(() => send(res, 500, { message: 'fake server error' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      // Like a process dying: open connections (fetch keeps them alive) go at once.
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
