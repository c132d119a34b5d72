// action_progress: the four creation steps (reference §2.1) as they really happen.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failProgress, initialProgress, startProgress, withStep } from '../../src/domain/progress.ts';
import type { ProgressStatus, ProgressStep } from '../../src/domain/notebook.ts';

/** The documented step descriptions. */
const DESCRIPTION = {
  1: 'Prepare the storage.',
  2: 'Prepare the compute resource.',
  3: 'Configuring the network.',
  4: 'Initialize the notebook instance.',
} as const;

/** Builds progress from the four statuses in step order. */
const progress = (s1: ProgressStatus, s2: ProgressStatus, s3: ProgressStatus, s4: ProgressStatus): ProgressStep[] =>
  ([1, 2, 3, 4] as const).map((step, i) => ({ step, status: [s1, s2, s3, s4][i]!, description: DESCRIPTION[step] }));

const statusesOf = (p: ProgressStep[]) => p.map((s) => s.status);

describe('initialProgress', () => {
  it('lists the four documented steps, in order, all WAITING', () => {
    assert.deepEqual(initialProgress(), progress('WAITING', 'WAITING', 'WAITING', 'WAITING'));
  });

  it('returns a fresh array each time', () => {
    const a = initialProgress();
    a[0]!.status = 'FAILED';
    assert.equal(initialProgress()[0]!.status, 'WAITING');
  });
});

describe('startProgress', () => {
  it('a start has storage, compute and network in place: only initialisation is WAITING', () => {
    assert.deepEqual(startProgress(), progress('COMPLETED', 'COMPLETED', 'COMPLETED', 'WAITING'));
  });
});

describe('withStep', () => {
  const cases: { name: string; given: ProgressStep[]; step: ProgressStep['step']; status: ProgressStatus; expected: ProgressStatus[] }[] = [
    { name: 'storage starts', given: initialProgress(), step: 1, status: 'PROCESSING', expected: ['PROCESSING', 'WAITING', 'WAITING', 'WAITING'] },
    { name: 'storage completes', given: progress('PROCESSING', 'WAITING', 'WAITING', 'WAITING'), step: 1, status: 'COMPLETED', expected: ['COMPLETED', 'WAITING', 'WAITING', 'WAITING'] },
    { name: 'initialisation completes', given: progress('COMPLETED', 'COMPLETED', 'COMPLETED', 'PROCESSING'), step: 4, status: 'COMPLETED', expected: ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'] },
    { name: 'setting the same status again changes nothing', given: progress('COMPLETED', 'PROCESSING', 'WAITING', 'WAITING'), step: 2, status: 'PROCESSING', expected: ['COMPLETED', 'PROCESSING', 'WAITING', 'WAITING'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const before = structuredClone(c.given);
      const after = withStep(c.given, c.step, c.status);
      assert.deepEqual(statusesOf(after), c.expected);
      assert.deepEqual(after.map((s) => s.description), Object.values(DESCRIPTION), 'descriptions are kept');
      assert.deepEqual(c.given, before, 'the input is not modified');
    });
  }
});

describe('failProgress', () => {
  const cases: { name: string; given: ProgressStep[]; expected: ProgressStatus[] }[] = [
    { name: 'the step under way fails', given: progress('COMPLETED', 'PROCESSING', 'WAITING', 'WAITING'), expected: ['COMPLETED', 'FAILED', 'WAITING', 'WAITING'] },
    { name: 'initialisation under way fails', given: progress('COMPLETED', 'COMPLETED', 'COMPLETED', 'PROCESSING'), expected: ['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED'] },
    { name: 'nothing under way: the first step not completed fails', given: progress('COMPLETED', 'COMPLETED', 'WAITING', 'WAITING'), expected: ['COMPLETED', 'COMPLETED', 'FAILED', 'WAITING'] },
    { name: 'nothing started: storage fails', given: initialProgress(), expected: ['FAILED', 'WAITING', 'WAITING', 'WAITING'] },
    { name: 'a start that fails fails initialisation', given: startProgress(), expected: ['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED'] },
    { name: 'everything completed: unchanged', given: progress('COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'), expected: ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'] },
    { name: 'already failed: stays failed, nothing else fails', given: progress('COMPLETED', 'FAILED', 'WAITING', 'WAITING'), expected: ['COMPLETED', 'FAILED', 'WAITING', 'WAITING'] },
    { name: 'no progress recorded: stays empty', given: [], expected: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const before = structuredClone(c.given);
      assert.deepEqual(statusesOf(failProgress(c.given)), c.expected);
      assert.deepEqual(c.given, before, 'the input is not modified');
    });
  }

  it('marks exactly one step FAILED', () => {
    const failed = failProgress(progress('COMPLETED', 'PROCESSING', 'WAITING', 'WAITING'));
    assert.equal(failed.filter((s) => s.status === 'FAILED').length, 1);
  });
});
