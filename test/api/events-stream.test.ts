// Instance events to subscribers through the real HTTP API: Server-Sent Events (live, replay after
// Last-Event-ID, heartbeats), the lease.expiring warning and its withdrawal on renewal, operator
// webhooks through a receiver that fails and recovers, and GET /metrics. Real notebookd in this
// process with the fake runtime and the system clock; leases of a few seconds.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createBody, PROJECT, startTestService, TOKEN, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;

interface Frame {
  id: number | null;
  event: string;
  data: any;
}

/** An EventSource-like reader over fetch: frames and comments as they arrive. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', 'X-Auth-Token': TOKEN, ...headers }, signal: controller.signal });
  const frames: Frame[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  if (res.ok && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const frame: Frame = { id: null, event: 'message', data: undefined };
            let isFrame = false;
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim());
              else if (line.startsWith('id: ')) frame.id = Number(line.slice(4));
              else if (line.startsWith('event: ')) frame.event = line.slice(7);
              else if (line.startsWith('data: ')) {
                frame.data = JSON.parse(line.slice(6));
                isFrame = true;
              }
            }
            if (isFrame) frames.push(frame);
          }
          for (const w of waiters) w();
        }
      } catch {
        /* aborted */
      } finally {
        ended = true;
        for (const w of waiters) w();
      }
    })();
  }
  /** Resolves with the first frame (from `from` on) that matches, or fails after timeoutMs. */
  async function next(match: (f: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = frames.slice(from).find(match);
      if (found) return found;
      if (ended) throw new Error(`stream ended; frames: ${frames.map((f) => f.event).join(', ')}`);
      if (Date.now() > deadline) throw new Error(`no matching frame in ${timeoutMs} ms; frames: ${frames.map((f) => f.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          waiters.delete(done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, 50);
        waiters.add(done);
      });
    }
  }
  return { res, frames, comments, next, close: () => controller.abort(), ended: () => ended };
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A webhook receiver: answers 503 to the first `failures` posts, then 200. */
async function startReceiver(failures: number) {
  const posts: { headers: IncomingMessage['headers']; body: any }[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      n += 1;
      if (n <= failures) return res.writeHead(503).end();
      posts.push({ headers: req.headers, body: JSON.parse(text) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notebookd`,
    posts,
    attempts: () => n,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('instance events: Server-Sent Events, warnings, webhooks, metrics', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const streams: { close(): void }[] = [];

  before(async () => {
    receiver = await startReceiver(2);
    svc = await startTestService({
      overrides: {
        // Leases of seconds, warned 1.5 s ahead.
        lease: { minMs: 1_000, warningLeadMs: 1_500 },
        events: {
          pollMs: 200,
          heartbeatMs: 300,
          webhooks: [{ id: 'ops', url: receiver.url, types: ['lease.expiring', 'notebook.stopping'], secret: '' }],
          webhookDelivery: { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 500, timeoutMs: 2_000 },
        },
      },
    });
  });

  after(async () => {
    for (const s of streams) s.close();
    // Closing with a stream still open must not hang (the server ends its streams).
    const hanging = await openStream(`${svc.url}${NB}/${(await svc.api.post(NB, createBody({ name: 'left_open' }))).body.id}/events`);
    await hanging.next((f) => f.event === 'notebook.created');
    await svc.close();
    await receiver.close();
  });

  it('streams an instance’s events live: the warning at the lead time, then the stop with its reason', async () => {
    // Given a new instance with a 3 s TIMING lease, and a stream opened at once
    const created = await svc.api.post(NB, createBody({ name: 'sse_live', lease: { duration: 3_000, type: 'timing' } }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id;
    const stream = await openStream(`${svc.url}${NB}/${id}/events`);
    streams.push(stream);
    assert.equal(stream.res.status, 200);
    assert.match(stream.res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(stream.res.headers.get('x-request-id'));

    // Then it replays the history, then follows: running, lease.expiring ~1.5 s before the stop, the stop
    const createdFrame = await stream.next((f) => f.event === 'notebook.created');
    assert.equal(createdFrame.data.notebook_id, id);
    assert.equal(createdFrame.id, createdFrame.data.id);
    await stream.next((f) => f.event === 'notebook.running');
    const warning = await stream.next((f) => f.event === 'lease.expiring');
    const stopping = await stream.next((f) => f.event === 'notebook.stopping');
    await stream.next((f) => f.event === 'notebook.stopped');
    assert.equal(warning.data.data.reason, 'lease_expired');
    assert.equal(stopping.data.data.reason, 'lease_expired');
    assert.equal(stopping.data.at - warning.data.at >= 1_000, true, 'the warning came ahead of the stop');
    assert.equal(warning.data.data.stopAt, stopping.data.data.stopAt);
    // Ids increase, and the stream carries exactly the JSON log
    const ids = stream.frames.map((f) => f.id!);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    const log = (await svc.api.get(`${NB}/${id}/events`)).body.events;
    assert.deepEqual(stream.frames.map((f) => f.data), log);
    // And the instance says why it stopped
    const nb = await waitForNotebook(svc.api, id, (n) => n.status === 'STOPPED');
    assert.equal(nb.stop_reason, 'lease_expired');
  });

  it('replays after Last-Event-ID (and ?after=), then keeps following', async () => {
    const id = (await svc.api.post(NB, createBody({ name: 'sse_replay' }))).body.id;
    await waitForNotebook(svc.api, id, (n) => n.status === 'RUNNING');
    const log = (await svc.api.get(`${NB}/${id}/events`)).body.events;
    assert.ok(log.length >= 3);
    const resumed = await openStream(`${svc.url}${NB}/${id}/events`, { 'Last-Event-ID': String(log[1].id) });
    streams.push(resumed);
    const first = await resumed.next(() => true);
    assert.equal(first.id, log[2].id, 'the first frame is the one after Last-Event-ID');
    const viaQuery = await openStream(`${svc.url}${NB}/${id}/events?after=${log[0].id}`);
    streams.push(viaQuery);
    assert.equal((await viaQuery.next(() => true)).id, log[1].id);
    // New events follow on both
    assert.equal((await svc.api.post(`${NB}/${id}/stop`)).status, 200);
    await resumed.next((f) => f.event === 'notebook.stopping');
    await viaQuery.next((f) => f.event === 'notebook.stopping');
    const stopping = resumed.frames.find((f) => f.event === 'notebook.stopping')!;
    assert.equal(stopping.data.data.reason, 'user');
  });

  it('a renewal after the warning cancels it: subscribers see the withdrawal and the instance keeps running', async () => {
    const id = (await svc.api.post(NB, createBody({ name: 'sse_renew', lease: { duration: 2_500, type: 'timing' } }))).body.id;
    const stream = await openStream(`${svc.url}${NB}/${id}/events`);
    streams.push(stream);
    const warning = await stream.next((f) => f.event === 'lease.expiring');
    // When the user renews for a minute after the warning
    const renewed = await svc.api.patch(`${NB}/${id}/lease`, { duration: 60_000, type: 'timing' });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    // Then the stream says the warning no longer holds, with the new stop time
    const cancelled = await stream.next((f) => f.event === 'lease.expiring_cancelled');
    assert.equal(cancelled.data.data.previousStopAt, warning.data.data.stopAt);
    assert.equal(cancelled.data.data.stopAt, renewed.body.stop_at);
    // And the old stop time passes without a stop
    await waitUntil('the old stop time to pass', () => Date.now() > warning.data.data.stopAt + 500);
    assert.equal((await svc.api.get(`${NB}/${id}`)).body.status, 'RUNNING');
    assert.equal(stream.frames.filter((f) => f.event === 'notebook.stopping').length, 0);
    await svc.api.post(`${NB}/${id}/stop`);
  });

  it('ends the stream after the instance is deleted', async () => {
    const id = (await svc.api.post(NB, createBody({ name: 'sse_deleted' }))).body.id;
    await waitForNotebook(svc.api, id, (n) => n.status === 'RUNNING');
    const stream = await openStream(`${svc.url}${NB}/${id}/events`);
    streams.push(stream);
    await stream.next((f) => f.event === 'notebook.running');
    assert.equal((await svc.api.delete(`${NB}/${id}`)).status, 200);
    await stream.next((f) => f.event === 'notebook.deleted');
    await waitUntil('the stream to end', () => stream.ended(), 5_000);
    assert.equal(stream.frames.at(-1)!.event, 'notebook.deleted');
  });

  it('sends keep-alive comments on a quiet stream', async () => {
    const id = (await svc.api.post(NB, createBody({ name: 'sse_quiet', lease: { duration: -1 } }))).body.id;
    await waitForNotebook(svc.api, id, (n) => n.status === 'RUNNING');
    const stream = await openStream(`${svc.url}${NB}/${id}/events`);
    streams.push(stream);
    await waitUntil('a heartbeat', () => stream.comments.includes('keep-alive'), 5_000);
    await svc.api.post(`${NB}/${id}/stop`);
  });

  it('answers errors as JSON in the API format, not as a stream', async () => {
    const id = (await svc.api.post(NB, createBody({ name: 'sse_errors' }))).body.id;
    const unknown = await openStream(`${svc.url}${NB}/00000000-0000-4000-8000-000000000000/events`);
    assert.equal(unknown.res.status, 404);
    assert.equal((await unknown.res.json()).error_code, 'ModelArts.6404');
    const badId = await openStream(`${svc.url}${NB}/${id}/events`, { 'Last-Event-ID': 'yesterday' });
    assert.equal(badId.res.status, 400);
    assert.equal((await badId.res.json()).error_code, 'ModelArts.6332');
    const anonymous = await fetch(`${svc.url}${NB}/${id}/events`, { headers: { Accept: 'text/event-stream' } });
    assert.equal(anonymous.status, 401);
    // Without Accept: text/event-stream the JSON log is unchanged
    const json = await svc.api.get(`${NB}/${id}/events`);
    assert.ok(Array.isArray(json.body.events));
  });

  it('delivers the warning and the stop to the operator webhook, through a receiver that fails twice first', async () => {
    const id = (await svc.api.post(NB, createBody({ name: 'hooked', lease: { duration: 2_000, type: 'timing' } }))).body.id;
    await waitUntil(
      'the webhook posts for this instance',
      () => receiver.posts.some((p) => p.body.notebook_id === id && p.body.type === 'notebook.stopping'),
      15_000,
    );
    const mine = receiver.posts.filter((p) => p.body.notebook_id === id);
    assert.deepEqual(mine.map((p) => p.body.type), ['lease.expiring', 'notebook.stopping']);
    assert.ok(receiver.attempts() >= mine.length + 2, 'the two failures were retried');
    assert.equal(mine[1]!.headers['x-notebookd-event'], 'notebook.stopping');
    assert.equal(mine[1]!.body.data.reason, 'lease_expired');
    // Only the subscribed types were sent
    assert.ok(receiver.posts.every((p) => ['lease.expiring', 'notebook.stopping'].includes(p.body.type)));
  });

  it('GET /metrics exposes expiry lag, stops by reason and lifecycle counters without credentials', async () => {
    const res = await fetch(`${svc.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const count = Number(/notebookd_lease_expiry_lag_seconds_count (\d+)/.exec(text)?.[1] ?? 0);
    assert.ok(count >= 2, `expiry lag observed for the expired instances (got ${count})`);
    assert.match(text, /notebookd_notebook_stops_total\{reason="lease_expired"\} \d+/);
    assert.match(text, /notebookd_notebook_stops_total\{reason="user"\} \d+/);
    assert.match(text, /notebookd_notebook_events_total\{type="notebook.running"\} \d+/);
    assert.match(text, /notebookd_lease_warnings_total \d+/);
    assert.match(text, /notebookd_webhook_deliveries_total\{result="retry"\} \d+/);
    // The executor wakes at the stop time: every lag is small (bounded loosely: CI machines are busy)
    const withinFiveSeconds = Number(/notebookd_lease_expiry_lag_seconds_bucket\{le="5"\} (\d+)/.exec(text)?.[1]);
    assert.equal(withinFiveSeconds, count);
  });
});

describe('GET /metrics behind a bearer token', () => {
  it('answers 401 without the token and 200 with it', async () => {
    const svc = await startTestService({ overrides: { metrics: { enabled: true, bearerToken: 'scrape-me' } } });
    try {
      const none = await fetch(`${svc.url}/metrics`);
      assert.equal(none.status, 401);
      assert.equal((await none.json()).error_code, 'ModelArts.0205');
      assert.equal((await fetch(`${svc.url}/metrics`, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
      const ok = await fetch(`${svc.url}/metrics`, { headers: { Authorization: 'Bearer scrape-me' } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /notebookd_lease_executor_passes_total/);
    } finally {
      await svc.close();
    }
  });

  it('is not served when disabled', async () => {
    const svc = await startTestService({ overrides: { metrics: { enabled: false, bearerToken: '' } } });
    try {
      assert.equal((await fetch(`${svc.url}/metrics`)).status, 404);
    } finally {
      await svc.close();
    }
  });
});
