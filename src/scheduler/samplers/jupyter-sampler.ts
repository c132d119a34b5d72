// What a Jupyter server itself says about use: kernels that are computing right now, and when a
// terminal last saw input or output. Read with the instance's internal token, straight from the
// runtime target (never through the proxy, so these reads are not activity themselves).
import type { RuntimeTarget } from '../../domain/notebook.ts';

export interface JupyterActivity {
  /** Kernels whose execution_state is busy: a computation is running, browser or not. */
  busyKernels: number;
  kernels: number;
  /** The newest terminal last_activity (epoch ms), or null without terminals. */
  terminalActivityAt: number | null;
}

interface KernelModel {
  execution_state?: unknown;
}

interface TerminalModel {
  last_activity?: unknown;
}

async function getJson(target: RuntimeTarget, path: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(new URL(`${target.basePath}${path}`, target.origin), {
    headers: { Authorization: `token ${target.jupyterToken}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (res.status === 404 && path === 'api/terminals') return []; // terminals disabled on this server
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  return JSON.parse(text) as unknown;
}

/** Reads api/kernels and api/terminals; throws when the server does not answer as Jupyter does. */
export async function sampleJupyter(target: RuntimeTarget, timeoutMs: number): Promise<JupyterActivity> {
  const [kernels, terminals] = await Promise.all([getJson(target, 'api/kernels', timeoutMs), getJson(target, 'api/terminals', timeoutMs)]);
  if (!Array.isArray(kernels) || !Array.isArray(terminals)) throw new Error('api/kernels or api/terminals did not answer a list');
  const busyKernels = (kernels as KernelModel[]).filter((k) => k.execution_state === 'busy').length;
  let terminalActivityAt: number | null = null;
  for (const t of terminals as TerminalModel[]) {
    const at = typeof t.last_activity === 'string' ? Date.parse(t.last_activity) : NaN;
    if (Number.isFinite(at) && (terminalActivityAt === null || at > terminalActivityAt)) terminalActivityAt = at;
  }
  return { busyKernels, kernels: kernels.length, terminalActivityAt };
}
