// Through notebookd's proxy to a REAL Jupyter server (the local runtime, Debian's classic
// notebook): REST with the instance token, a kernel executing code over its WebSocket, a terminal
// over its WebSocket, and the browser's way in (the cookie set by the first visit) for both.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { ActivitySource } from '../../src/domain/activity.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;

/** Runs `code` on a kernel over an open channels socket; resolves the stream output of that request. */
function execute(ws: WebSocket, code: string, timeoutMs = 30_000): Promise<string> {
  const msgId = randomUUID();
  const session = randomUUID();
  return new Promise((resolve, reject) => {
    let out = '';
    let replied = false;
    let idle = false;
    const timer = setTimeout(() => reject(new Error(`no execute_reply and idle status within ${timeoutMs} ms; output so far: ${out}`)), timeoutMs);
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { msg_type: string; parent_header: { msg_id?: string }; content: any; channel: string };
      if (msg.parent_header.msg_id !== msgId) return;
      if (msg.msg_type === 'stream') out += msg.content.text;
      if (msg.msg_type === 'error') out += `${msg.content.ename}: ${msg.content.evalue}`;
      // The shell reply and the output on iopub travel on different channels, unordered: done
      // once both the reply and the kernel's return to idle for this request have come.
      if (msg.msg_type === 'execute_reply') replied = true;
      if (msg.msg_type === 'status' && msg.content.execution_state === 'idle') idle = true;
      if (replied && idle) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    ws.send(
      JSON.stringify({
        header: { msg_id: msgId, username: 'test', session, msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
        parent_header: {},
        metadata: {},
        content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
        channel: 'shell',
        buffers: [],
      }),
    );
  });
}

const opened = (ws: WebSocket) => new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));

describe('proxy to a real Jupyter server', () => {
  let svc: TestService;
  let nb: any;
  let base: string;
  const reports: { id: string; source: ActivitySource }[] = [];

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local' }, activity: { record: (id, source) => reports.push({ id, source }) } });
    const res = await svc.api.post(NB, createBody({ name: 'proxy-jupyter' }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    nb = await waitForNotebook(svc.api, res.body.id, (n) => n.status === 'RUNNING' || /FAILED|ERROR/.test(n.status), 60_000);
    assert.equal(nb.status, 'RUNNING', nb.fail_reason);
    base = `${svc.url}/nb/${nb.id}/`;
  });

  after(async () => {
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => [] as Notebook[]);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  it('answers REST calls with the instance token, never with the internal one', async () => {
    const status = await fetch(`${base}api/status`, { headers: { Authorization: `token ${nb.token}` } });
    assert.equal(status.status, 200);
    assert.equal(typeof ((await status.json()) as { started: string }).started, 'string');
    assert.equal((await fetch(`${base}api/status`)).status, 401);
    const stored = await svc.service.store.notebooks.get(nb.id);
    const internal = stored!.runtimeTarget!.jupyterToken;
    assert.notEqual(internal, nb.token);
    assert.equal((await fetch(`${base}api/status`, { headers: { Authorization: `token ${internal}` } })).status, 401, 'the internal token is not a credential for the proxy');
  });

  it('runs code on a kernel over the proxied WebSocket (token in the query) and reports websocket activity', async () => {
    const kernel = await fetch(`${base}api/kernels`, {
      method: 'POST',
      headers: { Authorization: `token ${nb.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'python3', path: '' }),
    });
    assert.equal(kernel.status, 201, await kernel.clone().text());
    const { id: kernelId } = (await kernel.json()) as { id: string };
    reports.length = 0;
    const ws = new WebSocket(`${base.replace('http:', 'ws:')}api/kernels/${kernelId}/channels?session_id=${randomUUID()}&token=${nb.token}`);
    await opened(ws);
    try {
      assert.equal(await execute(ws, 'print(6*7)'), '42\n');
      assert.equal(await execute(ws, 'x = 20\nprint(x + 22)'), '42\n', 'state lives on between executions');
    } finally {
      ws.close();
    }
    assert.ok(reports.some((r) => r.id === nb.id && r.source === 'websocket'), JSON.stringify(reports));
    const del = await fetch(`${base}api/kernels/${kernelId}`, { method: 'DELETE', headers: { Authorization: `token ${nb.token}` } });
    assert.equal(del.status, 204);
  });

  it('opens a terminal over the proxied WebSocket with only the cookie of the first visit (as a browser does)', async () => {
    const first = await fetch(`${base}api/status?token=${nb.token}`);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    assert.match(cookie, /^nbd_access=/);
    const term = await fetch(`${base}api/terminals`, { method: 'POST', headers: { cookie, origin: new URL(svc.url).origin } });
    assert.equal(term.status, 200, await term.clone().text());
    const { name } = (await term.json()) as { name: string };
    const ws = new WebSocket(`${base.replace('http:', 'ws:')}terminals/websocket/${name}`, { headers: { cookie, origin: new URL(svc.url).origin } });
    await opened(ws);
    try {
      const seen = new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`terminal said: ${out}`)), 20_000);
        ws.on('message', (data) => {
          const [kind, text] = JSON.parse(data.toString()) as [string, string];
          if (kind === 'stdout') out += text;
          if (out.includes('answer=42')) {
            clearTimeout(timer);
            resolve(out);
          }
        });
      });
      ws.send(JSON.stringify(['stdin', 'echo answer=$((6*7))\r']));
      assert.match(await seen, /answer=42/);
    } finally {
      ws.close();
    }
    await fetch(`${base}api/terminals/${name}`, { method: 'DELETE', headers: { cookie, origin: new URL(svc.url).origin } });
  });

  it('refuses a cross-site WebSocket that rides on the cookie alone', async () => {
    const cookie = (await fetch(`${base}api/status?token=${nb.token}`)).headers.get('set-cookie')!.split(';')[0]!;
    const ws = new WebSocket(`${base.replace('http:', 'ws:')}terminals/websocket/1`, { headers: { cookie, origin: 'http://evil.example' } });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
      ws.once('open', () => reject(new Error('opened')));
    });
    assert.equal(status, 403);
  });
});
