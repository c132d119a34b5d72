// Readiness of a Jupyter server: GET {base}api/status with its internal token answers 200.
// The orchestrator owns this check (DESIGN §4), so every runtime is probed the same way.
import { connect } from 'node:net';
import type { RuntimeTarget } from '../domain/notebook.ts';

export interface ReadinessProbe {
  (target: RuntimeTarget): Promise<boolean>;
  /**
   * Whether the server's port accepts connections yet: a TCP connect, cheap enough to ask every
   * few milliseconds while a server boots, so the full probe runs as soon as it can succeed.
   */
  listening?: (target: RuntimeTarget) => Promise<boolean>;
}

export function createHttpReadinessProbe(timeoutMs = 2_000): ReadinessProbe {
  const probe: ReadinessProbe = async (target) => {
    try {
      const res = await fetch(new URL(`${target.basePath}api/status`, target.origin), {
        headers: { Authorization: `token ${target.jupyterToken}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  };
  probe.listening = (target) =>
    new Promise<boolean>((resolve) => {
      let url: URL;
      try {
        url = new URL(target.origin);
      } catch {
        return resolve(false);
      }
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  return probe;
}
