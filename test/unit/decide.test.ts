// decide(): what the reconciler does next for one instance, a pure function of the record and now.
// Every transitional status has a timeout that ends in a failure (DESIGN §2); stop is always
// possible, past its timeout without grace.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, isPassive, type ReconcileAction, type Timeouts } from '../../src/scheduler/decide.ts';
import { NOTEBOOK_STATUSES, TRANSITIONAL, type NotebookStatus } from '../../src/domain/lifecycle.ts';
import type { Notebook, Operation } from '../../src/domain/notebook.ts';
import { makeNotebook } from '../support/notebook-fixture.ts';

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;

const TIMEOUTS: Timeouts = {
  createMs: 300 * SECOND_MS,
  startMs: 120 * SECOND_MS,
  stopGraceMs: 10 * SECOND_MS,
  stopMs: 60 * SECOND_MS,
  deleteMs: 180 * SECOND_MS,
};

// Named instants.
const CREATED = Date.UTC(2026, 10, 22, 8, 0);
const STATUS_CHANGED = Date.UTC(2026, 10, 22, 9, 0);

const HANDLE = { pid: 4242, bootId: 'boot-1' };

function given(status: NotebookStatus, operation: Operation | null, handle: unknown, extra: Partial<Notebook> = {}): Notebook {
  return makeNotebook({ status, operation, runtimeHandle: handle, createAt: CREATED, statusChangedAt: STATUS_CHANGED, ...extra });
}

const CREATE_TIMED_OUT = 'Creation did not finish within 300 s.';
const START_TIMED_OUT = 'The notebook server did not become ready within 120 s.';
const DELETE_TIMED_OUT = 'Deletion did not finish within 180 s.';

interface Row {
  status: NotebookStatus;
  operation: Operation | null;
  handle: boolean;
  elapsedMs: number;
  expected: ReconcileAction | null;
  extra?: Partial<Notebook>;
  note?: string;
}

const rows: Row[] = [
  // Creation: prepare until the create timeout, then CREATE_FAILED.
  { status: 'INIT', operation: 'create', handle: false, elapsedMs: 0, expected: { kind: 'prepare' } },
  { status: 'INIT', operation: 'create', handle: false, elapsedMs: TIMEOUTS.createMs, expected: { kind: 'prepare' }, note: 'at the timeout' },
  { status: 'INIT', operation: 'create', handle: false, elapsedMs: TIMEOUTS.createMs + 1, expected: { kind: 'fail', status: 'CREATE_FAILED', reason: CREATE_TIMED_OUT } },
  { status: 'CREATING', operation: 'create', handle: false, elapsedMs: 5 * SECOND_MS, expected: { kind: 'prepare' } },
  { status: 'CREATING', operation: 'create', handle: false, elapsedMs: TIMEOUTS.createMs + 1, expected: { kind: 'fail', status: 'CREATE_FAILED', reason: CREATE_TIMED_OUT } },
  { status: 'CREATING', operation: 'create', handle: false, elapsedMs: DAY_MS, expected: { kind: 'fail', status: 'CREATE_FAILED', reason: CREATE_TIMED_OUT } },

  // Starting: launch without a handle, then await readiness; past the start timeout the failure
  // depends on whether this start is the first one of a create.
  { status: 'STARTING', operation: 'create', handle: false, elapsedMs: 0, expected: { kind: 'launch' } },
  { status: 'STARTING', operation: 'start', handle: false, elapsedMs: 0, expected: { kind: 'launch' } },
  { status: 'STARTING', operation: 'create', handle: true, elapsedMs: 30 * SECOND_MS, expected: { kind: 'awaitReady' } },
  { status: 'STARTING', operation: 'start', handle: true, elapsedMs: TIMEOUTS.startMs, expected: { kind: 'awaitReady' }, note: 'at the timeout' },
  { status: 'STARTING', operation: 'create', handle: true, elapsedMs: TIMEOUTS.startMs + 1, expected: { kind: 'fail', status: 'CREATE_FAILED', reason: START_TIMED_OUT } },
  { status: 'STARTING', operation: 'create', handle: false, elapsedMs: TIMEOUTS.startMs + 1, expected: { kind: 'fail', status: 'CREATE_FAILED', reason: START_TIMED_OUT } },
  { status: 'STARTING', operation: 'start', handle: true, elapsedMs: TIMEOUTS.startMs + 1, expected: { kind: 'fail', status: 'START_FAILED', reason: START_TIMED_OUT } },
  { status: 'STARTING', operation: 'start', handle: false, elapsedMs: TIMEOUTS.startMs + 1, expected: { kind: 'fail', status: 'START_FAILED', reason: START_TIMED_OUT } },
  { status: 'STARTING', operation: null, handle: true, elapsedMs: TIMEOUTS.startMs + 1, expected: { kind: 'fail', status: 'START_FAILED', reason: START_TIMED_OUT }, note: 'adopted, no operation' },

  // Stopping never fails: past its timeout the runtime is told to kill without grace.
  { status: 'STOPPING', operation: 'stop', handle: true, elapsedMs: 0, expected: { kind: 'halt', graceMs: TIMEOUTS.stopGraceMs } },
  { status: 'STOPPING', operation: 'stop', handle: true, elapsedMs: TIMEOUTS.stopMs, expected: { kind: 'halt', graceMs: TIMEOUTS.stopGraceMs }, note: 'at the timeout' },
  { status: 'STOPPING', operation: 'stop', handle: true, elapsedMs: TIMEOUTS.stopMs + 1, expected: { kind: 'halt', graceMs: 0 } },
  { status: 'STOPPING', operation: 'stop', handle: false, elapsedMs: TIMEOUTS.stopMs + 1, expected: { kind: 'halt', graceMs: 0 } },
  { status: 'STOPPING', operation: 'stop', handle: true, elapsedMs: DAY_MS, expected: { kind: 'halt', graceMs: 0 } },

  // Deleting: tear down (without grace once the stop timeout passed), DELETE_FAILED past its own timeout.
  { status: 'DELETING', operation: 'delete', handle: true, elapsedMs: 0, expected: { kind: 'teardown', graceMs: TIMEOUTS.stopGraceMs } },
  { status: 'DELETING', operation: 'delete', handle: false, elapsedMs: 0, expected: { kind: 'teardown', graceMs: TIMEOUTS.stopGraceMs } },
  { status: 'DELETING', operation: 'delete', handle: true, elapsedMs: TIMEOUTS.stopMs + 1, expected: { kind: 'teardown', graceMs: 0 } },
  { status: 'DELETING', operation: 'delete', handle: true, elapsedMs: TIMEOUTS.deleteMs, expected: { kind: 'teardown', graceMs: 0 }, note: 'at the timeout' },
  { status: 'DELETING', operation: 'delete', handle: true, elapsedMs: TIMEOUTS.deleteMs + 1, expected: { kind: 'deleteFailed', reason: DELETE_TIMED_OUT } },

  // Running: health checks, or a pending disk grow first.
  { status: 'RUNNING', operation: null, handle: true, elapsedMs: DAY_MS, expected: { kind: 'health' } },
  {
    status: 'RUNNING',
    operation: null,
    handle: true,
    elapsedMs: 0,
    expected: { kind: 'resize', capacityGb: 20 },
    extra: { volume: { category: 'EVS', ownership: 'MANAGED', capacityGb: 5, mountPath: '/home/ma-user/work/', readOnly: false, status: 'RESIZING', pendingCapacityGb: 20 } },
    note: 'pending resize',
  },

  // Settled statuses: nothing to do.
  ...(['STOPPED', 'DELETED', 'CREATE_FAILED', 'START_FAILED', 'DELETE_FAILED', 'ERROR', 'FROZEN'] as const).map(
    (status): Row => ({ status, operation: null, handle: false, elapsedMs: DAY_MS, expected: null }),
  ),
];

describe('decide: (status, operation, handle, elapsed) → action', () => {
  for (const r of rows) {
    const label = `${r.status}, ${r.operation ?? 'no operation'}, ${r.handle ? 'handle' : 'no handle'}, +${r.elapsedMs} ms${r.note ? ` (${r.note})` : ''}`;
    it(`${label} → ${r.expected ? JSON.stringify(r.expected) : 'nothing'}`, () => {
      // Given an instance whose status changed at STATUS_CHANGED
      const nb = given(r.status, r.operation, r.handle ? HANDLE : null, r.extra);
      // When the reconciler looks at it elapsedMs later
      const action = decide(nb, STATUS_CHANGED + r.elapsedMs, TIMEOUTS);
      // Then
      assert.deepEqual(action, r.expected);
    });
  }

  it('measures from the last status change, not from creation', () => {
    // Given an instance created a day ago that entered CREATING (a retried create) just now
    const nb = given('CREATING', 'create', null, { createAt: STATUS_CHANGED - DAY_MS });
    // Then it is given the whole create timeout again
    assert.deepEqual(decide(nb, STATUS_CHANGED + SECOND_MS, TIMEOUTS), { kind: 'prepare' });
  });

  it('does not modify the record', () => {
    const nb = given('STARTING', 'start', HANDLE);
    const before = structuredClone(nb);
    decide(nb, STATUS_CHANGED + TIMEOUTS.startMs + 1, TIMEOUTS);
    assert.deepEqual(nb, before);
  });
});

describe('every transitional status ends (DESIGN §2: no instance stays stuck)', () => {
  // Far past every timeout the action must end the status: a failure, a forced stop, or a failed delete.
  const ending = (a: ReconcileAction | null) =>
    a !== null && (a.kind === 'fail' || a.kind === 'deleteFailed' || (a.kind === 'halt' && a.graceMs === 0));
  for (const status of NOTEBOOK_STATUSES.filter((s) => TRANSITIONAL.has(s))) {
    it(`${status}, a day later, is ended by the reconciler`, () => {
      const operation: Operation | null = status === 'STOPPING' ? 'stop' : status === 'DELETING' ? 'delete' : status === 'STARTING' ? 'start' : status === 'SNAPSHOTTING' ? null : 'create';
      const action = decide(given(status, operation, HANDLE), STATUS_CHANGED + DAY_MS, TIMEOUTS);
      assert.ok(ending(action), `${status} past every timeout → ${JSON.stringify(action)}; expected a failure or a forced stop`);
    });
  }
});

describe('isPassive', () => {
  const table: { action: ReconcileAction; passive: boolean }[] = [
    { action: { kind: 'health' }, passive: true },
    { action: { kind: 'prepare' }, passive: false },
    { action: { kind: 'launch' }, passive: false },
    { action: { kind: 'awaitReady' }, passive: false },
    { action: { kind: 'halt', graceMs: 0 }, passive: false },
    { action: { kind: 'teardown', graceMs: 0 }, passive: false },
    { action: { kind: 'resize', capacityGb: 10 }, passive: false },
    { action: { kind: 'fail', status: 'START_FAILED', reason: 'x' }, passive: false },
    { action: { kind: 'deleteFailed', reason: 'x' }, passive: false },
  ];
  for (const c of table) {
    it(`${c.action.kind} is ${c.passive ? '' : 'not '}passive`, () => assert.equal(isPassive(c.action), c.passive));
  }
});
