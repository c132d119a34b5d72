// Readiness of a Jupyter server: GET {base}api/status with its internal token answers 200.
// The orchestrator owns this check (DESIGN §4), so every runtime is probed the same way.
import type { RuntimeTarget } from '../domain/notebook.ts';
import { portAccepts } from '../port-accepts.ts';

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
  probe.listening = async (target) => {
    let url: URL;
    try {
      url = new URL(target.origin);
    } catch {
      return false;
    }
    return portAccepts(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 80), timeoutMs);
  };
  return probe;
}
