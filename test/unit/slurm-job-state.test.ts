// What Slurm says about a job, read as an instance's state: parsing scontrol and sacct output,
// ended jobs mapped to readable reasons, and the lease as a time limit in whole minutes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  endedResult,
  initialTimeLimit,
  isAlive,
  isOver,
  jobView,
  parseSacct,
  parseScontrolRecord,
  parseSlurmDuration,
  timeLimitFor,
} from '../../src/runtime/slurm/job-state.ts';
import type { EndFacts } from '../../src/runtime/slurm/job-state.ts';

const SCONTROL_LINE =
  'JobId=42 JobName=nbd-abc UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) QOS=(null) ' +
  'JobState=OUT_OF_MEMORY Reason=OutOfMemory Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:125 ' +
  'RunTime=1-02:03:04 TimeLimit=01:01:00 TimeMin=N/A SubmitTime=2026-11-22T07:46:05 NodeList=node07 BatchHost=node07 ' +
  'NumNodes=1 NumCPUs=2 NumTasks=1 CPUs/Task=2 ReqB:S:C:T=0:0:*:* TRES=cpu=2,mem=768M,node=1,billing=2 Socks/Node=* ' +
  'MinMemoryNode=768M Command=/shared/instances/abc/job.sh WorkDir=/shared/my dir/with spaces Comment=notebookd:abc:0123456789abcdef ' +
  'StdOut=/shared/instances/abc/slurm-42.out Power= ';

describe('parseScontrolRecord / jobView', () => {
  it('splits Key=Value pairs, keeping spaces inside values and odd keys (CPUs/Task, ReqB:S:C:T)', () => {
    const f = parseScontrolRecord(SCONTROL_LINE);
    assert.equal(f.JobId, '42');
    assert.equal(f['CPUs/Task'], '2');
    assert.equal(f['ReqB:S:C:T'], '0:0:*:*');
    assert.equal(f.WorkDir, '/shared/my dir/with spaces');
    assert.equal(f.Power, '');
    assert.equal(f.Comment, 'notebookd:abc:0123456789abcdef');
  });

  it('reads the fields an instance needs', () => {
    assert.deepEqual(jobView(parseScontrolRecord(SCONTROL_LINE)), {
      jobId: '42',
      name: 'nbd-abc',
      state: 'OUT_OF_MEMORY',
      reason: 'OutOfMemory',
      exitCode: 0,
      exitSignal: 125,
      runTimeMs: ((26 * 60 + 3) * 60 + 4) * 1000,
      timeLimitMin: 61,
      comment: 'notebookd:abc:0123456789abcdef',
      nodeList: 'node07',
      memoryMb: 768,
    });
  });

  for (const [text, ms] of [
    ['00:00:30', 30_000],
    ['05:00', 300_000],
    ['1-00:00:00', 86_400_000],
    ['UNLIMITED', null],
    ['Partition_Limit', null],
    ['INVALID', null],
  ] as const) {
    it(`parseSlurmDuration(${text}) = ${ms}`, () => assert.equal(parseSlurmDuration(text), ms));
  }

  it('an UNLIMITED time limit reads as null', () => {
    assert.equal(jobView(parseScontrolRecord('JobId=1 JobState=RUNNING TimeLimit=UNLIMITED')).timeLimitMin, null);
  });

  for (const [state, alive, over] of [
    ['PENDING', true, false],
    ['RUNNING', true, false],
    ['SUSPENDED', true, false],
    ['COMPLETING', false, false],
    ['COMPLETED', false, true],
    ['CANCELLED', false, true],
    ['TIMEOUT', false, true],
    ['OUT_OF_MEMORY', false, true],
    ['NODE_FAIL', false, true],
  ] as const) {
    it(`${state}: alive ${alive}, over ${over}`, () => {
      assert.equal(isAlive(state), alive);
      assert.equal(isOver(state), over);
    });
  }
});

describe('parseSacct', () => {
  it('finds the allocation line and who cancelled it', () => {
    const out = '41|COMPLETED|0:0\n42|CANCELLED by 1001|0:15\n';
    assert.deepEqual(parseSacct(out, '42'), { jobId: '42', state: 'CANCELLED', exitCode: 0, exitSignal: 15, by: '1001' });
    assert.equal(parseSacct(out, '43'), null);
  });
});

describe('endedResult', () => {
  const base: EndFacts = {
    jobId: '42',
    state: 'FAILED',
    reason: 'None',
    exitCode: 1,
    exitSignal: 0,
    memoryMb: 768,
    nodeList: 'node07',
    stopRequested: false,
    exit: null,
  };
  const cases: [string, Partial<EndFacts>, PollLike][] = [
    ['TIMEOUT', { state: 'TIMEOUT' }, { state: 'exited', reason: /reached its time limit.*TIMEOUT/ }],
    ['COMPLETING with Reason=TimeLimit', { state: 'COMPLETING', reason: 'TimeLimit' }, { state: 'exited', reason: /time limit/ }],
    ['OUT_OF_MEMORY', { state: 'OUT_OF_MEMORY' }, { state: 'exited', reason: /ran out of memory.*768 MB.*OUT_OF_MEMORY/ }],
    ['NODE_FAIL', { state: 'NODE_FAIL' }, { state: 'lost', reason: /lost with its node node07 \(NODE_FAIL\)/ }],
    ['BOOT_FAIL', { state: 'BOOT_FAIL' }, { state: 'lost', reason: /did not boot/ }],
    ['PREEMPTED', { state: 'PREEMPTED' }, { state: 'exited', reason: /preempted/ }],
    ['CANCELLED by notebookd', { state: 'CANCELLED', stopRequested: true }, { state: 'exited', reason: /cancelled by notebookd/ }],
    ['CANCELLED by someone else', { state: 'CANCELLED', cancelledBy: '1001' }, { state: 'exited', reason: /cancelled outside notebookd by uid 1001/ }],
    ['pre_start hook failed', { exit: { nonce: 'n', phase: 'pre_start', exitCode: 7 } }, { state: 'exited', reason: /pre_start hook failed with exit code 7/, exitCode: 7 }],
    ['server killed by SIGKILL', { exit: { nonce: 'n', phase: 'server', exitCode: 137 } }, { state: 'exited', reason: /killed by signal 9 \(exit code 137\)/, exitCode: 137 }],
    ['server exited cleanly', { state: 'COMPLETED', exitCode: 0, exit: { nonce: 'n', phase: 'server', exitCode: 0 } }, { state: 'exited', reason: /COMPLETED.*exited with code 0/, exitCode: 0 }],
  ];
  for (const [name, facts, expected] of cases) {
    it(name, () => {
      const result = endedResult({ ...base, ...facts });
      assert.equal(result.state, expected.state);
      assert.match((result as { reason: string }).reason, expected.reason);
      if (expected.exitCode !== undefined) assert.equal((result as { exitCode: number | null }).exitCode, expected.exitCode);
    });
  }
});

interface PollLike {
  state: 'exited' | 'lost';
  reason: RegExp;
  exitCode?: number;
}

describe('time limits', () => {
  const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
  const cases: [string, Parameters<typeof timeLimitFor>[0], number | 'UNLIMITED'][] = [
    ['a lease ending in 1 h on a job that just started', { stopAt: T0 + 3_600_000, now: T0, runTimeMs: 0, graceMs: 0 }, 60],
    ['counted from the job start: 30 min run + 1 h left', { stopAt: T0 + 3_600_000, now: T0, runTimeMs: 1_800_000, graceMs: 0 }, 90],
    ['rounded up, never down: 1 s past a minute', { stopAt: T0 + 61_000, now: T0, runTimeMs: 0, graceMs: 0 }, 2],
    ['with 2 min grace', { stopAt: T0 + 3_600_000, now: T0, runTimeMs: 0, graceMs: 120_000 }, 62],
    ['a stop time already past is still at least a minute', { stopAt: T0 - 600_000, now: T0, runTimeMs: 0, graceMs: 0 }, 1],
    ['auto-stop off', { stopAt: null, now: T0, runTimeMs: 5_000, graceMs: 0 }, 'UNLIMITED'],
  ];
  for (const [name, input, minutes] of cases) {
    it(`timeLimitFor: ${name} → ${minutes}`, () => assert.equal(timeLimitFor(input), minutes));
  }

  it('initialTimeLimit: the lease plus the start allowance plus the grace; none without a lease', () => {
    assert.equal(initialTimeLimit(3_600_000, 110_000, 120_000), 64);
    assert.equal(initialTimeLimit(null, 110_000, 120_000), null);
    assert.equal(initialTimeLimit(undefined, 110_000, 120_000), null);
  });
});
