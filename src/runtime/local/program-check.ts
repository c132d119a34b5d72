// Can this host run an image's Jupyter program? Asked of Debian's Python once, then cached.
import { execFile } from 'node:child_process';
import type { ImageProgram } from '../../domain/catalog.ts';
import type { Availability } from '../runtime.ts';
import { missingProgramMessage, programInfo } from './jupyter-command.ts';

/** A missing program may be installed while notebookd runs: a negative answer is re-checked after this. */
const NEGATIVE_TTL_MS = 30_000;

// Import the server module (a broken install fails here too); only locate ipykernel, whose
// import costs half a second and is exercised by the first kernel anyway.
const PROBE = [
  'import importlib, importlib.util, sys',
  'importlib.import_module(sys.argv[1])',
  "sys.exit(0 if importlib.util.find_spec('ipykernel') else \"No module named 'ipykernel'\")",
].join('\n');

function probe(pythonPath: string, program: ImageProgram): Promise<Availability> {
  const info = programInfo(program);
  return new Promise((resolve) => {
    execFile(pythonPath, ['-c', PROBE, info.module], { timeout: 60_000, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } }, (err, _out, stderr) => {
      if (!err) return resolve({ available: true, message: `${info.displayName} is available (${pythonPath} -m ${info.module})` });
      const detail =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${pythonPath} not found`
          : stderr.trim().split('\n').pop() || err.message.split('\n')[0] || 'import failed';
      resolve({ available: false, message: missingProgramMessage(program, detail) });
    });
  });
}

export function createProgramCheck(pythonPath: string): (program: ImageProgram) => Promise<Availability> {
  const cache = new Map<ImageProgram, { at: number; result: Promise<Availability> }>();
  return async (program) => {
    programInfo(program); // an unknown program is a bug, not "unavailable"
    const cached = cache.get(program);
    if (cached) {
      const result = await cached.result;
      if (result.available || Date.now() - cached.at < NEGATIVE_TTL_MS) return result;
    }
    const entry = { at: Date.now(), result: probe(pythonPath, program) };
    cache.set(program, entry);
    return entry.result;
  };
}
