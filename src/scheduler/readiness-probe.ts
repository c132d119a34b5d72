// Readiness of a Jupyter server: GET {base}api/status with its internal token answers 200.
// The orchestrator owns this check (DESIGN §4), so every runtime is probed the same way.
import type { RuntimeTarget } from '../domain/notebook.ts';

export type ReadinessProbe = (target: RuntimeTarget) => Promise<boolean>;

export function createHttpReadinessProbe(timeoutMs = 2_000): ReadinessProbe {
  return async (target) => {
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
}
