// The last lines of a log file, for failure reasons ("jupyter exited with code 1; last log lines: ...").
import { open } from 'node:fs/promises';

/** Up to `lines` last lines written at or after `fromOffset`, reading at most the last `maxBytes`. */
export async function readTail(path: string, opts: { lines?: number; fromOffset?: number; maxBytes?: number } = {}): Promise<string> {
  const { lines = 10, fromOffset = 0, maxBytes = 4096 } = opts;
  const handle = await open(path, 'r').catch(() => null);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const from = Math.max(fromOffset, size - maxBytes);
    const buffer = Buffer.alloc(Math.max(0, size - from));
    await handle.read(buffer, 0, buffer.length, from);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
