// The four creation steps of action_progress (reference §2.1), reported as they really happen.
import type { ProgressStatus, ProgressStep } from './notebook.ts';

const DESCRIPTIONS = {
  1: 'Prepare the storage.',
  2: 'Prepare the compute resource.',
  3: 'Configuring the network.',
  4: 'Initialize the notebook instance.',
} as const;

export function initialProgress(): ProgressStep[] {
  return ([1, 2, 3, 4] as const).map((step) => ({ step, status: 'WAITING', description: DESCRIPTIONS[step] }));
}

export function withStep(progress: ProgressStep[], step: ProgressStep['step'], status: ProgressStatus): ProgressStep[] {
  return progress.map((p) => (p.step === step ? { ...p, status } : p));
}

/** Marks the step under way (or the first one not completed) as failed. */
export function failProgress(progress: ProgressStep[]): ProgressStep[] {
  const current = progress.find((p) => p.status === 'PROCESSING') ?? progress.find((p) => p.status !== 'COMPLETED');
  return current ? withStep(progress, current.step, 'FAILED') : progress;
}

/** A start (not a create) has storage, compute and network in place already. */
export function startProgress(): ProgressStep[] {
  return initialProgress().map((p) => (p.step === 4 ? p : { ...p, status: 'COMPLETED' }));
}
