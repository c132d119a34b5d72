// What Slurm says about a job, and what that means for an instance. Pure: parses `scontrol -o
// show job` and `sacct -P` output, maps job states to poll results with readable reasons, and
// does the minute arithmetic of time limits. Unit-tested in test/unit/slurm-job-state.test.ts.
import type { PollResult } from '../runtime.ts';

export interface JobView {
  jobId: string;
  name: string;
  /** Base state without flags: RUNNING, PENDING, TIMEOUT, OUT_OF_MEMORY, ... */
  state: string;
  /** Slurm's Reason field ("None", "Resources", "TimeLimit", "OutOfMemory", ...). */
  reason: string;
  /** ExitCode=<code>:<signal> of the batch script. */
  exitCode: number | null;
  exitSignal: number | null;
  runTimeMs: number;
  /** null for UNLIMITED (or a limit only the partition knows). */
  timeLimitMin: number | null;
  comment: string;
  nodeList: string;
  /** The memory Slurm granted, in MB, when it says. */
  memoryMb: number | null;
}

/** The states in which the job (and so the server) still exists or will exist. */
const ALIVE = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'SUSPENDED',
  'RESIZING',
  'SIGNALING',
  'STAGE_OUT',
  'STOPPED',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESV_DEL_HOLD',
]);

export const isAlive = (state: string): boolean => ALIVE.has(state);
/** COMPLETING: the job ended but Slurm is still killing its processes. */
export const isOver = (state: string): boolean => !ALIVE.has(state) && state !== 'COMPLETING';

/**
 * Splits `scontrol -o show job` (one line of Key=Value pairs) into fields. Values may contain
 * spaces (Command, WorkDir), so a field ends only where the next `Key=` begins.
 */
export function parseScontrolRecord(line: string): Record<string, string> {
  const fields: Record<string, string> = {};
  const keyAt = /(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=/g;
  const starts: { key: string; valueFrom: number; matchFrom: number }[] = [];
  for (let m = keyAt.exec(line); m; m = keyAt.exec(line)) {
    starts.push({ key: m[1]!, valueFrom: m.index + m[0].length, matchFrom: m.index });
  }
  starts.forEach((s, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]!.matchFrom : line.length;
    fields[s.key] = line.slice(s.valueFrom, end).trim();
  });
  return fields;
}

/** "2-03:04:05", "03:04:05", "04:05" → ms; null for UNLIMITED, INVALID, N/A and the like. */
export function parseSlurmDuration(text: string): number | null {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text.trim());
  if (!m) return null;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = m;
  return (((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
}

/** "512M", "2G", "1024" (MB) → MB. */
function parseMemoryMb(text: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(text ?? '');
  if (!m) return null;
  const factor = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, '': 1 }[m[2] as 'K' | 'M' | 'G' | 'T' | ''];
  return Math.round(Number(m[1]) * factor);
}

export function jobView(fields: Record<string, string>): JobView {
  const [code, signal] = (fields.ExitCode ?? '').split(':');
  const limitMs = parseSlurmDuration(fields.TimeLimit ?? '');
  const tresMem = /(?:^|,)mem=([^,]+)/.exec(fields.TRES ?? '')?.[1];
  return {
    jobId: fields.JobId ?? '',
    name: fields.JobName ?? '',
    state: (fields.JobState ?? 'UNKNOWN').split(/[\s+]/)[0]!,
    reason: fields.Reason ?? 'None',
    exitCode: code !== undefined && /^\d+$/.test(code) ? Number(code) : null,
    exitSignal: signal !== undefined && /^\d+$/.test(signal) ? Number(signal) : null,
    runTimeMs: parseSlurmDuration(fields.RunTime ?? '') ?? 0,
    timeLimitMin: limitMs === null ? null : Math.round(limitMs / 60_000),
    comment: fields.Comment ?? '',
    nodeList: fields.NodeList ?? '',
    memoryMb: parseMemoryMb(tresMem ?? fields.MinMemoryNode),
  };
}

/** `sacct -n -P -X -o JobID,State,ExitCode` lines → a view of the job, or null. */
export function parseSacct(output: string, jobId: string): Pick<JobView, 'jobId' | 'state' | 'exitCode' | 'exitSignal'> & { by: string | null } | null {
  for (const line of output.split('\n')) {
    const [id, state, exit] = line.trim().split('|');
    if (id !== jobId || !state) continue;
    const [code, signal] = (exit ?? '').split(':');
    const by = /\bby (\S+)/.exec(state)?.[1] ?? null;
    return {
      jobId,
      state: state.split(/\s/)[0]!,
      exitCode: code && /^\d+$/.test(code) ? Number(code) : null,
      exitSignal: signal && /^\d+$/.test(signal) ? Number(signal) : null,
      by,
    };
  }
  return null;
}

/** What the job script records when the server or a BLOCK pre_start hook ends (exit.json). */
export interface ExitRecord {
  nonce: string;
  phase: 'pre_start' | 'server';
  exitCode: number;
}

export interface EndFacts {
  jobId: string;
  state: string;
  reason: string;
  exitCode: number | null;
  exitSignal: number | null;
  memoryMb: number | null;
  nodeList: string;
  /** notebookd itself asked for this job to end. */
  stopRequested: boolean;
  /** Who cancelled it, when accounting says ("CANCELLED by 1001"). */
  cancelledBy?: string | null;
  exit: ExitRecord | null;
}

function exitText(exit: ExitRecord | null, code: number | null, signal: number | null): string {
  if (exit?.phase === 'pre_start') return `its pre_start hook failed with exit code ${exit.exitCode}`;
  const status = exit?.exitCode ?? code;
  if (status !== null && status > 128 && status < 160) return `the Jupyter server was killed by signal ${status - 128} (exit code ${status})`;
  if (status !== null) return `the Jupyter server exited with code ${status}`;
  return signal ? `the job was killed by signal ${signal}` : 'the job ended';
}

/** The poll result for a job that is no longer alive, with a reason a user can act on. */
export function endedResult(f: EndFacts): PollResult {
  const job = `Slurm job ${f.jobId}`;
  const exitCode = f.exit?.exitCode ?? f.exitCode;
  const exited = (reason: string): PollResult => ({ state: 'exited', exitCode, reason });
  if (f.state === 'TIMEOUT' || f.reason === 'TimeLimit') {
    return exited(`${job} reached its time limit and Slurm ended it (TIMEOUT); notebookd mirrors the lease onto the limit, so the lease was not prolonged in time or notebookd was down`);
  }
  if (f.state === 'OUT_OF_MEMORY' || f.reason === 'OutOfMemory') {
    const limit = f.memoryMb ? ` of ${f.memoryMb} MB` : '';
    return exited(`${job} ran out of memory: Slurm killed it at the flavor's limit${limit} (OUT_OF_MEMORY); choose a flavor with more memory`);
  }
  if (f.state === 'NODE_FAIL' || f.reason === 'NodeDown') {
    return { state: 'lost', reason: `${job} was lost with its node ${f.nodeList || '(unknown)'} (NODE_FAIL)` };
  }
  if (f.state === 'BOOT_FAIL') return { state: 'lost', reason: `${job} failed because its node did not boot (BOOT_FAIL)` };
  if (f.state === 'PREEMPTED') return exited(`${job} was preempted by a higher-priority job (PREEMPTED)`);
  if (f.state === 'DEADLINE') return exited(`${job} reached its deadline (DEADLINE)`);
  if (f.state === 'CANCELLED') {
    if (f.stopRequested) return exited(`${job} was cancelled by notebookd (stop)`);
    const by = f.cancelledBy ? ` by uid ${f.cancelledBy}` : '';
    return exited(`${job} was cancelled outside notebookd${by} (scancel by a user or an operator)`);
  }
  if (f.state === 'COMPLETING') return exited(`${job} is ending: ${exitText(f.exit, f.exitCode, f.exitSignal)}${f.reason !== 'None' ? ` (${f.reason})` : ''}`);
  if (f.stopRequested) return exited(`${job} was stopped by notebookd (${f.state})`);
  return exited(`${job} ended (${f.state}): ${exitText(f.exit, f.exitCode, f.exitSignal)}`);
}

export interface TimeLimitInput {
  /** The lease's stop time; null when auto-stop is off. */
  stopAt: number | null;
  now: number;
  /** How long the job has run so far (its limit counts from its start). */
  runTimeMs: number;
  /** Slack past the lease, so that notebookd's own stop (exact, graceful) comes first. */
  graceMs: number;
}

/** The job's time limit in whole minutes (Slurm's resolution), rounded up; 'UNLIMITED' without a stop time. */
export function timeLimitFor(input: TimeLimitInput): number | 'UNLIMITED' {
  if (input.stopAt === null) return 'UNLIMITED';
  const totalMs = input.runTimeMs + (input.stopAt - input.now) + input.graceMs;
  return Math.max(1, Math.ceil(totalMs / 60_000));
}

/** The limit to submit with: the lease plus the time a start may take plus the grace; none without a lease. */
export function initialTimeLimit(leaseMs: number | null | undefined, startAllowanceMs: number, graceMs: number): number | null {
  if (leaseMs === null || leaseMs === undefined) return null;
  return Math.max(1, Math.ceil((leaseMs + startAllowanceMs + graceMs) / 60_000));
}
