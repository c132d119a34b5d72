// Whether something listens on a TCP port: the local runtime waits for its Jupyter server's port,
// the scheduler's readiness probe asks it every few milliseconds while a server boots.
import { createConnection } from 'node:net';

/** True when a TCP connection to host:port succeeds within the timeout. */
export function portAccepts(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
