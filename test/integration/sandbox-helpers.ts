// Helpers of the sandbox tests: real local-runtime instances, code run in their Jupyter kernels
// (REST + WebSocket, as a browser would) and commands run through runtime.exec (as SSH does).
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { RuntimeTarget } from '../../src/domain/notebook.ts';
import { createLocalRuntime } from '../../src/runtime/local/local-runtime.ts';
import type { InstanceSpec, Launched, Runtime } from '../../src/runtime/runtime.ts';
import { waitFor } from '../support/wait.ts';

export function instanceSpec(instanceId: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId,
    basePath: `/nb/${instanceId}/`,
    jupyterToken: randomBytes(16).toString('hex'),
    program: 'jupyter_server',
    imageId: 'img',
    vcpus: 1,
    memoryMb: 1024,
    capacityGb: 5,
    hooks: null,
    ...overrides,
  };
}

export async function waitReady(target: RuntimeTarget, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${target.origin}${target.basePath}api/status`, timeoutMs, async () => {
    try {
      const res = await fetch(`${target.origin}${target.basePath}api/status`, { headers: { Authorization: `token ${target.jupyterToken}` } });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  });
}

/** Prepares, starts and waits for an instance; remembers it for cleanup. */
export async function launchReady(runtime: Runtime, spec: InstanceSpec, launchedList: Launched[]): Promise<Launched> {
  await runtime.prepare(spec, () => {});
  const launched = await runtime.start(spec);
  launchedList.push(launched);
  await waitReady(launched.target);
  return launched;
}

export interface KernelResult {
  stdout: string;
  /** ename: evalue when the code raised. */
  error: string | null;
}

/** A Python kernel in an instance, driven over Jupyter's WebSocket protocol. */
export class Kernel {
  private constructor(
    private readonly ws: WebSocket,
    readonly kernelId: string,
  ) {}

  static async open(target: RuntimeTarget): Promise<Kernel> {
    const base = `${target.origin}${target.basePath}`;
    const res = await fetch(`${base}api/kernels`, {
      method: 'POST',
      headers: { Authorization: `token ${target.jupyterToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'python3', path: '' }),
    });
    assert.equal(res.status, 201, `POST api/kernels answered ${res.status}`);
    const { id } = (await res.json()) as { id: string };
    const url = `${base.replace(/^http/, 'ws')}api/kernels/${id}/channels?session_id=${randomUUID()}`;
    const ws = new WebSocket(url, { headers: { Authorization: `token ${target.jupyterToken}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Kernel(ws, id);
  }

  /**
   * Runs code; resolves with what it printed (or its exception) once both the execute_reply
   * (shell) and the idle status (iopub) have come: the two channels are not ordered.
   */
  run(code: string, timeoutMs = 60_000): Promise<KernelResult> {
    const msgId = randomUUID();
    return new Promise((resolve, reject) => {
      let stdout = '';
      let error: string | null = null;
      let replied = false;
      let idle = false;
      const timer = setTimeout(() => {
        this.ws.off('message', onMessage);
        reject(new Error(`kernel did not answer in ${timeoutMs} ms; printed so far: ${stdout}`));
      }, timeoutMs);
      const onMessage = (data: WebSocket.RawData) => {
        const msg = JSON.parse(data.toString()) as { parent_header?: { msg_id?: string }; msg_type: string; content: any; channel: string };
        if (msg.parent_header?.msg_id !== msgId) return;
        if (msg.msg_type === 'stream') stdout += msg.content.text;
        if (msg.msg_type === 'error') error = `${msg.content.ename}: ${msg.content.evalue}`;
        if (msg.msg_type === 'execute_reply') replied = true;
        if (msg.msg_type === 'status' && msg.content.execution_state === 'idle') idle = true;
        if (replied && idle) {
          clearTimeout(timer);
          this.ws.off('message', onMessage);
          resolve({ stdout, error });
        }
      };
      this.ws.on('message', onMessage);
      this.ws.on('close', () => {
        clearTimeout(timer);
        reject(new Error(`the kernel's socket closed; printed so far: ${stdout}`));
      });
      this.ws.send(
        JSON.stringify({
          header: { msg_id: msgId, username: 'test', session: randomUUID(), msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          channel: 'shell',
        }),
      );
    });
  }

  close(): void {
    this.ws.removeAllListeners('close');
    this.ws.terminate();
  }
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv through runtime.exec (what the SSH gateway does) and collects its output. */
export async function execIn(runtime: Runtime, launched: Launched, argv: string[], timeoutMs = 30_000): Promise<ExecResult> {
  const child = await runtime.exec!(launched.handle, { argv });
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`exec ${argv.join(' ')} did not end in ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, stdout, stderr };
}

/** Stops and destroys everything under a test data directory (servers, mounts, cgroups), then removes it. */
export async function removeDataDir(dataDir: string, launched: Launched[], runtime?: Runtime): Promise<void> {
  const sweeper = runtime ?? createLocalRuntime({ dataDir });
  for (const l of launched) await sweeper.stop(l.handle, 0).catch(() => {});
  for (const id of await readdir(join(dataDir, 'instances')).catch(() => [] as string[])) await sweeper.destroy(id).catch(() => {});
  await sweeper.close?.();
  await rm(dataDir, { recursive: true, force: true });
}
