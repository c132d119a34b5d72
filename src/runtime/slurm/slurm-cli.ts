// The Slurm command-line tools, called as notebookd's own service account. We drive Slurm
// through sbatch/scontrol/scancel/squeue/sacct rather than slurmrestd because the CLI is the
// more robust interface here: its output formats (--parsable, -o, scontrol -o) have been stable
// for a decade, it needs no JWT key (a key that lets its holder act as any user), it can signal
// the batch shell (slurmrestd cannot: `B:` signals are refused), and it works the same on
// Slurm 22.05 (REST v0.0.36-38 only) as on 24.x (where those REST versions are gone).
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface SlurmCliOptions {
  /** Directory holding sbatch, scontrol, ...; default: found on PATH. */
  binDir?: string;
  /** Added to notebookd's environment for every call (e.g. SLURM_CONF). */
  env?: Readonly<Record<string, string>>;
  /** One call may take this long. Default 30 s (slurmctld under load answers slowly, not never). */
  timeoutMs?: number;
}

export class SlurmCliError extends Error {
  override name = 'SlurmCliError';
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

export interface SlurmCli {
  run(tool: 'sbatch' | 'scontrol' | 'scancel' | 'squeue' | 'sacct' | 'sinfo', args: string[]): Promise<{ stdout: string; stderr: string }>;
}

export function createSlurmCli(opts: SlurmCliOptions = {}): SlurmCli {
  const env = { ...process.env, ...opts.env };
  const timeout = opts.timeoutMs ?? 30_000;
  return {
    run(tool, args) {
      const command = opts.binDir ? join(opts.binDir, tool) : tool;
      return new Promise((resolve, reject) => {
        execFile(command, args, { env, timeout, maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr });
          const code = typeof err.code === 'number' ? err.code : null;
          const detail = (stderr || stdout || err.message).trim().split('\n').slice(-3).join(' | ');
          const what = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} not found (install slurm-client)` : detail;
          reject(new SlurmCliError(`${tool} ${args.slice(0, 3).join(' ')}${args.length > 3 ? ' …' : ''}: ${what}`, stderr, code));
        });
      });
    },
  };
}
