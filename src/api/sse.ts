// Server-Sent Events on a Fastify reply: takes the response over (hijack), writes each event as
//   id: <event id>\nevent: <type>\ndata: <JSON>\n\n
// with keep-alive comments between, respects backpressure, and ends when the client goes away or
// the server closes. Clients resume with the Last-Event-ID header (EventSource does it by itself).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NotebookEvent } from '../domain/notebook.ts';
import type { StreamItem } from '../service/event-stream.ts';

/** Whether the client asked for a stream (Accept: text/event-stream) rather than the JSON page. */
export const wantsEventStream = (request: FastifyRequest): boolean => /\btext\/event-stream\b/i.test(String(request.headers.accept ?? ''));

/** The streams one server has open: ended when it closes, so that shutdown never waits on a client. */
export type OpenStreams = Set<AbortController>;

export function sseFrame(event: { id?: number; type: string }, data: unknown): string {
  const json = JSON.stringify(data);
  return `${event.id !== undefined ? `id: ${event.id}\n` : ''}event: ${event.type}\ndata: ${json}\n\n`;
}

export async function sendEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  follow: (signal: AbortSignal) => AsyncIterable<StreamItem>,
  present: (e: NotebookEvent) => unknown,
  open: OpenStreams,
): Promise<void> {
  const controller = new AbortController();
  open.add(controller);
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    // Tells nginx-style proxies in front of notebookd not to buffer the stream.
    'X-Accel-Buffering': 'no',
    'X-Request-Id': String(request.id),
  });
  const stop = () => controller.abort();
  request.raw.once('close', stop);
  res.once('close', stop);
  const write = async (chunk: string) => {
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          controller.signal.removeEventListener('abort', done);
          resolve();
        };
        res.once('drain', done);
        controller.signal.addEventListener('abort', done, { once: true });
      });
    }
  };
  try {
    await write('retry: 3000\n: stream open\n\n');
    for await (const item of follow(controller.signal)) {
      if (controller.signal.aborted) break;
      await write(item.kind === 'heartbeat' ? ': keep-alive\n\n' : sseFrame(item.event, present(item.event)));
    }
  } catch (e) {
    request.log.warn({ err: (e as Error).message }, 'event stream ended with an error');
  } finally {
    open.delete(controller);
    request.raw.off('close', stop);
    res.off('close', stop);
    res.end();
  }
}
