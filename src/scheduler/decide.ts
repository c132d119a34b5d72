// What the reconciler should do next for one instance: a pure function of the record and now.
// The executor (reconciler.ts) carries the action out and writes what it observed.
import type { Notebook } from '../domain/notebook.ts';

export interface Timeouts {
  createMs: number;
  startMs: number;
  stopGraceMs: number;
  stopMs: number;
  deleteMs: number;
}

export type ReconcileAction =
  | { kind: 'prepare' }
  | { kind: 'launch' }
  | { kind: 'awaitReady' }
  | { kind: 'fail'; status: 'CREATE_FAILED' | 'START_FAILED' | 'ERROR'; reason: string }
  | { kind: 'halt'; graceMs: number }
  | { kind: 'teardown'; graceMs: number }
  | { kind: 'deleteFailed'; reason: string }
  | { kind: 'resize'; capacityGb: number }
  | { kind: 'health' };

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export function decide(nb: Notebook, now: number, t: Timeouts): ReconcileAction | null {
  const elapsed = now - nb.statusChangedAt;
  const failStatus = nb.operation === 'create' ? 'CREATE_FAILED' : 'START_FAILED';
  switch (nb.status) {
    case 'INIT':
    case 'CREATING':
      if (elapsed > t.createMs) return { kind: 'fail', status: 'CREATE_FAILED', reason: `Creation did not finish within ${seconds(t.createMs)}.` };
      return { kind: 'prepare' };
    case 'STARTING':
      if (elapsed > t.startMs) {
        return { kind: 'fail', status: failStatus, reason: `The notebook server did not become ready within ${seconds(t.startMs)}.` };
      }
      return nb.runtimeHandle ? { kind: 'awaitReady' } : { kind: 'launch' };
    case 'STOPPING':
      // Stop is always possible: past its timeout the runtime is told to kill without grace.
      return { kind: 'halt', graceMs: elapsed > t.stopMs ? 0 : t.stopGraceMs };
    case 'DELETING':
      if (elapsed > t.deleteMs) return { kind: 'deleteFailed', reason: `Deletion did not finish within ${seconds(t.deleteMs)}.` };
      return { kind: 'teardown', graceMs: elapsed > t.stopMs ? 0 : t.stopGraceMs };
    case 'SNAPSHOTTING':
      // Nothing of ours snapshots yet; an instance left in this state must still end somewhere.
      if (elapsed > t.createMs) return { kind: 'fail', status: 'ERROR', reason: `Saving the image did not finish within ${seconds(t.createMs)}.` };
      return null;
    case 'RUNNING':
      if (nb.volume.pendingCapacityGb !== undefined) return { kind: 'resize', capacityGb: nb.volume.pendingCapacityGb };
      return { kind: 'health' };
    default:
      return null;
  }
}

/** Whether the action waits on the outside world, so the executor should not repeat it at once. */
export const isPassive = (a: ReconcileAction): boolean => a.kind === 'health';
