// The one authority on which status may follow which, and which user operation is allowed in
// which status. Service and reconciler both ask this table; nothing else hard-codes statuses.
import { errors, type DomainError } from './errors.ts';

export const NOTEBOOK_STATUSES = [
  'INIT',
  'CREATING',
  'STARTING',
  'RUNNING',
  'STOPPING',
  'STOPPED',
  'DELETING',
  'DELETED',
  'SNAPSHOTTING',
  'CREATE_FAILED',
  'START_FAILED',
  'DELETE_FAILED',
  'ERROR',
  'FROZEN',
] as const;
export type NotebookStatus = (typeof NOTEBOOK_STATUSES)[number];

/** Statuses in which the reconciler still has work to do; each has a timeout. */
export const TRANSITIONAL: ReadonlySet<NotebookStatus> = new Set(['INIT', 'CREATING', 'STARTING', 'STOPPING', 'DELETING', 'SNAPSHOTTING']);

export const isTransitional = (s: NotebookStatus): boolean => TRANSITIONAL.has(s);

const TRANSITIONS: Record<NotebookStatus, readonly NotebookStatus[]> = {
  INIT: ['CREATING', 'CREATE_FAILED', 'DELETING', 'STOPPING'],
  CREATING: ['STARTING', 'CREATE_FAILED', 'DELETING', 'STOPPING'],
  STARTING: ['RUNNING', 'START_FAILED', 'CREATE_FAILED', 'STOPPING', 'DELETING', 'ERROR'],
  RUNNING: ['STOPPING', 'DELETING', 'ERROR', 'SNAPSHOTTING'],
  SNAPSHOTTING: ['RUNNING', 'ERROR', 'STOPPING', 'DELETING'],
  STOPPING: ['STOPPED', 'ERROR', 'DELETING'],
  STOPPED: ['STARTING', 'DELETING'],
  DELETING: ['DELETED', 'DELETE_FAILED'],
  DELETED: [],
  CREATE_FAILED: ['DELETING', 'CREATING'],
  START_FAILED: ['STARTING', 'DELETING', 'STOPPING'],
  DELETE_FAILED: ['DELETING'],
  ERROR: ['STARTING', 'STOPPING', 'DELETING'],
  FROZEN: ['DELETING'],
};

export const canTransition = (from: NotebookStatus, to: NotebookStatus): boolean => TRANSITIONS[from].includes(to);

export type UserOperation = 'start' | 'stop' | 'delete' | 'renewLease' | 'showLease' | 'update';

/**
 * Decides whether a user operation may run now. Returns the error to send, or null.
 * Stop and delete are always possible except where they would be no-ops or are already under way.
 */
export function operationRefusal(op: UserOperation, status: NotebookStatus): DomainError | null {
  switch (op) {
    case 'start':
      if (status === 'RUNNING' || status === 'SNAPSHOTTING') return errors.alreadyRunning();
      if (status === 'STARTING' || status === 'CREATING' || status === 'INIT') return errors.starting();
      if (status === 'STOPPING') return errors.stopping();
      if (status === 'FROZEN') return errors.frozen();
      if (status === 'DELETING' || status === 'DELETE_FAILED' || status === 'DELETED') return errors.conflict('The instance is being deleted.');
      return null;
    case 'stop':
      if (status === 'STOPPED') return errors.alreadyStopped();
      if (status === 'STOPPING') return errors.stopping();
      if (status === 'DELETING' || status === 'DELETE_FAILED' || status === 'DELETED') return errors.conflict('The instance is being deleted.');
      if (status === 'CREATE_FAILED') return errors.conflict('The instance failed to be created; delete it instead.');
      if (status === 'FROZEN') return errors.frozen();
      return null;
    case 'delete':
      if (status === 'DELETING' || status === 'DELETED') return errors.conflict('The instance is already being deleted.');
      return null;
    case 'renewLease':
    case 'showLease':
      return status === 'RUNNING' ? null : errors.notRunning();
    case 'update':
      if (status === 'DELETING' || status === 'DELETED' || status === 'DELETE_FAILED') return errors.conflict('The instance is being deleted.');
      return null;
  }
}

/** Fields of UpdateNotebook and the statuses in which each may change (reference §6.3). */
export type UpdatableField = 'name' | 'description' | 'storage_new_size' | 'flavor' | 'image_id' | 'endpoints' | 'hooks';

const STOPPED_ONLY: ReadonlySet<UpdatableField> = new Set(['flavor', 'image_id', 'endpoints', 'hooks']);
const QUIESCENT: ReadonlySet<NotebookStatus> = new Set(['STOPPED', 'START_FAILED', 'CREATE_FAILED', 'ERROR']);
const LIVE_EDITABLE: ReadonlySet<NotebookStatus> = new Set([...QUIESCENT, 'RUNNING']);

export function fieldRefusal(field: UpdatableField, status: NotebookStatus): DomainError | null {
  const allowed = STOPPED_ONLY.has(field) ? QUIESCENT : LIVE_EDITABLE;
  // Disk size only grows where a runtime can act on it; a half-created instance has nothing to grow.
  return allowed.has(status) ? null : errors.notModifiable(status, field);
}
