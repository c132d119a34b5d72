// The readiness probe's cheap half: while a server boots the reconciler tries its port every few
// milliseconds (probe.listening) and runs the full api/status probe as soon as it accepts.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { createHttpReadinessProbe } from '../../src/scheduler/readiness-probe.ts';

const listen = (server: Server | ReturnType<typeof createHttpServer>) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
const close = (server: Server | ReturnType<typeof createHttpServer>) => new Promise<void>((resolve) => server.close(() => resolve()));
const target = (port: number) => ({ origin: `http://127.0.0.1:${port}`, basePath: '/nb/x/', jupyterToken: 't0ken-t0ken' });

describe('readiness probe: listening', () => {
  it('is false while nothing listens on the port, true once something does, false again after it closed', async () => {
    const probe = createHttpReadinessProbe(1_000);
    const server = createServer((socket) => socket.on('error', () => {}).destroy());
    const port = await listen(server);
    assert.equal(await probe.listening!(target(port)), true);
    await close(server);
    assert.equal(await probe.listening!(target(port)), false);
  });

  it('is false for a target that is not a URL, without throwing', async () => {
    const probe = createHttpReadinessProbe(1_000);
    assert.equal(await probe.listening!({ ...target(1), origin: 'not a url' }), false);
  });

  it('a port that accepts is not yet ready: the full probe still wants api/status 200', async () => {
    const probe = createHttpReadinessProbe(1_000);
    const server = createHttpServer((_req, res) => res.writeHead(503, { connection: 'close' }).end());
    const port = await listen(server);
    try {
      assert.equal(await probe.listening!(target(port)), true);
      assert.equal(await probe(target(port)), false);
    } finally {
      await close(server);
    }
  });
});
