// Loopback ports for Jupyter servers. Jupyter runs with --port-retries=0 so that it never
// silently moves to a port we do not know; we pick one here and re-pick when it is taken.
import { createServer } from 'node:net';

/** Asks the kernel for an ephemeral port on `host`. */
export function allocatePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error(`could not allocate a port on ${host}`))));
    });
  });
}

/** True when nothing listens on host:port right now (a later bind may still race; Jupyter then exits and poll says so). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
