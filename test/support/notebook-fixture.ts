// Builds valid Notebook records for tests: sensible defaults, any field overridable.
import { randomUUID } from 'node:crypto';
import { DEFAULT_LEASE_POLICY, newLease } from '../../src/domain/lease.ts';
import type { NotebookStatus } from '../../src/domain/lifecycle.ts';
import type { Desired, Notebook, Owner } from '../../src/domain/notebook.ts';

/** The instant fixtures are created at; the same as FakeClock's default start. */
export const FIXTURE_NOW = Date.UTC(2026, 10, 22, 9, 0, 0);

export const makeOwner = (id = 'u1'): Owner => ({ id, name: `user-${id}`, domainId: 'd1', domainName: 'domain1' });

/** The intent that matches a status, so a fixture in any status looks like a converged instance. */
function desiredFor(status: NotebookStatus): Desired {
  switch (status) {
    case 'INIT':
    case 'CREATING':
    case 'STARTING':
    case 'RUNNING':
    case 'SNAPSHOTTING':
      return 'running';
    case 'DELETING':
    case 'DELETED':
    case 'DELETE_FAILED':
      return 'deleted';
    default:
      return 'stopped';
  }
}

let sequence = 0;

/**
 * A STOPPED notebook of owner u1 in project p1, created at `createAt` (default FIXTURE_NOW) with a
 * default one-hour TIMING lease. `desired` follows `status` unless given.
 */
export function makeNotebook(overrides: Partial<Notebook> = {}): Notebook {
  sequence += 1;
  const createAt = overrides.createAt ?? FIXTURE_NOW;
  const status = overrides.status ?? 'STOPPED';
  return {
    id: randomUUID(),
    projectId: 'p1',
    owner: makeOwner('u1'),
    name: `notebook-${sequence}`,
    description: '',
    feature: 'NOTEBOOK',
    flavorId: 'modelarts.vm.cpu.2u',
    imageId: 'image-default',
    workspaceId: '0',
    poolId: null,
    volume: {
      category: 'EVS',
      ownership: 'MANAGED',
      capacityGb: 5,
      mountPath: '/home/ma-user/work/',
      readOnly: false,
      status: 'IN_USE',
    },
    endpoints: [],
    hooks: null,
    tags: [],
    desired: desiredFor(status),
    status,
    operation: null,
    statusChangedAt: createAt,
    failReason: null,
    stopReason: null,
    actionProgress: [],
    token: null,
    lease: newLease(createAt, {}, DEFAULT_LEASE_POLICY),
    runtimeHandle: null,
    runtimeTarget: null,
    createAt,
    updateAt: createAt,
    version: 1,
    ...overrides,
  };
}
