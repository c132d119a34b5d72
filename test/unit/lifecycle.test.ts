// The lifecycle table (DESIGN §2, reference §6.4) is the one authority on which status may follow
// which and which operation is allowed in which status. These tables are its specification.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  canTransition,
  fieldRefusal,
  isTransitional,
  NOTEBOOK_STATUSES,
  operationRefusal,
  type NotebookStatus,
  type UpdatableField,
  type UserOperation,
} from '../../src/domain/lifecycle.ts';
import { DomainError } from '../../src/domain/errors.ts';

/** The 14 statuses of NotebookResp.status (reference §2.1). */
const API_STATUSES: NotebookStatus[] = [
  'INIT',
  'CREATING',
  'STARTING',
  'STOPPING',
  'DELETING',
  'RUNNING',
  'STOPPED',
  'SNAPSHOTTING',
  'CREATE_FAILED',
  'START_FAILED',
  'DELETE_FAILED',
  'ERROR',
  'DELETED',
  'FROZEN',
];
const FAILURES: NotebookStatus[] = ['CREATE_FAILED', 'START_FAILED', 'DELETE_FAILED', 'ERROR'];
const TRANSITIONAL_STATUSES: NotebookStatus[] = ['INIT', 'CREATING', 'STARTING', 'STOPPING', 'DELETING', 'SNAPSHOTTING'];

const successorsOf = (from: NotebookStatus) => NOTEBOOK_STATUSES.filter((to) => canTransition(from, to));

function reachableFrom(start: NotebookStatus): Set<NotebookStatus> {
  const seen = new Set<NotebookStatus>([start]);
  const queue = [start];
  while (queue.length) {
    for (const next of successorsOf(queue.shift()!)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen;
}

describe('statuses', () => {
  it('are exactly the 14 of the API', () => {
    assert.deepEqual([...NOTEBOOK_STATUSES].sort(), [...API_STATUSES].sort());
    assert.equal(new Set(NOTEBOOK_STATUSES).size, 14);
  });

  for (const status of NOTEBOOK_STATUSES) {
    const expected = TRANSITIONAL_STATUSES.includes(status);
    it(`${status} is ${expected ? '' : 'not '}transitional`, () => {
      assert.equal(isTransitional(status), expected);
    });
  }
});

describe('transition table', () => {
  it('DELETED is terminal: it has no successors', () => {
    assert.deepEqual(successorsOf('DELETED'), []);
  });

  it('no status transitions to itself', () => {
    for (const s of NOTEBOOK_STATUSES) assert.equal(canTransition(s, s), false, s);
  });

  it('DELETED is entered only from DELETING', () => {
    assert.deepEqual(
      NOTEBOOK_STATUSES.filter((s) => canTransition(s, 'DELETED')),
      ['DELETING'],
    );
  });

  for (const status of TRANSITIONAL_STATUSES) {
    it(`transitional ${status} can end in a failure or DELETING directly (its timeout has somewhere to go)`, () => {
      const exits = successorsOf(status).filter((s) => FAILURES.includes(s) || s === 'DELETING');
      assert.ok(exits.length > 0, `${status} → ${successorsOf(status).join(', ')}`);
    });
  }

  for (const status of NOTEBOOK_STATUSES.filter((s) => s !== 'DELETING' && s !== 'DELETED')) {
    it(`${status}: delete is always possible (→ DELETING) and DELETED is reachable`, () => {
      assert.ok(canTransition(status, 'DELETING'), `${status} → DELETING`);
      assert.ok(reachableFrom(status).has('DELETED'), `${status} reaches DELETED`);
    });
  }

  it('DELETING ends in DELETED or DELETE_FAILED, and a failed delete can be retried', () => {
    assert.deepEqual(successorsOf('DELETING').sort(), ['DELETED', 'DELETE_FAILED'].sort());
    assert.ok(canTransition('DELETE_FAILED', 'DELETING'), 'DELETE_FAILED → DELETING');
  });

  // Wherever something may be running, stop is possible (DESIGN §2: "stop/delete are always possible").
  for (const status of ['INIT', 'CREATING', 'STARTING', 'RUNNING', 'SNAPSHOTTING', 'START_FAILED', 'ERROR'] as const) {
    it(`${status} → STOPPING`, () => assert.ok(canTransition(status, 'STOPPING'), `${status} → STOPPING`));
  }

  // The transitions src/service and src/scheduler actually write. The table must admit each of them,
  // otherwise it is not the authority it claims to be.
  const performed: { by: string; from: NotebookStatus; to: NotebookStatus }[] = [
    { by: 'reconciler: storage ready', from: 'CREATING', to: 'STARTING' },
    { by: 'reconciler: create failed or timed out', from: 'CREATING', to: 'CREATE_FAILED' },
    { by: 'reconciler: create timed out in INIT', from: 'INIT', to: 'CREATE_FAILED' },
    { by: 'reconciler: server ready', from: 'STARTING', to: 'RUNNING' },
    { by: 'reconciler: start failed', from: 'STARTING', to: 'START_FAILED' },
    { by: 'reconciler: first start of a create failed', from: 'STARTING', to: 'CREATE_FAILED' },
    { by: 'reconciler: runtime lost', from: 'RUNNING', to: 'ERROR' },
    { by: 'reconciler: stopped', from: 'STOPPING', to: 'STOPPED' },
    { by: 'reconciler: stopping failed', from: 'STOPPING', to: 'ERROR' },
    { by: 'reconciler: deleted', from: 'DELETING', to: 'DELETED' },
    { by: 'reconciler: delete failed or timed out', from: 'DELETING', to: 'DELETE_FAILED' },
    { by: 'service: start after a failed create prepares storage again', from: 'CREATE_FAILED', to: 'CREATING' },
  ];
  for (const t of performed) {
    it(`admits ${t.from} → ${t.to} (${t.by})`, () =>
      assert.ok(canTransition(t.from, t.to), `${t.by}: the table has no ${t.from} → ${t.to} (it allows ${successorsOf(t.from).join(', ')})`));
  }
});

// Expected refusal codes per status and operation (reference §3, §6.1, §6.4). null = allowed.
const OK = null;
const OPERATIONS: UserOperation[] = ['start', 'stop', 'delete', 'renewLease', 'showLease', 'update'];
const EXPECTED_REFUSALS: Record<NotebookStatus, Record<UserOperation, string | null>> = {
  //              start             stop              delete            renewLease        showLease         update
  INIT:          { start: '6306', stop: OK,     delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  CREATING:      { start: '6306', stop: OK,     delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  STARTING:      { start: '6306', stop: OK,     delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  RUNNING:       { start: '6305', stop: OK,     delete: OK,     renewLease: OK,     showLease: OK,     update: OK },
  STOPPING:      { start: '6308', stop: '6308', delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  STOPPED:       { start: OK,     stop: '6307', delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  DELETING:      { start: '6357', stop: '6357', delete: '6357', renewLease: '6327', showLease: '6327', update: '6357' },
  DELETED:       { start: '6357', stop: '6357', delete: '6357', renewLease: '6327', showLease: '6327', update: '6357' },
  SNAPSHOTTING:  { start: '6305', stop: OK,     delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  CREATE_FAILED: { start: OK,     stop: '6357', delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  START_FAILED:  { start: OK,     stop: OK,     delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  DELETE_FAILED: { start: '6357', stop: '6357', delete: OK,     renewLease: '6327', showLease: '6327', update: '6357' },
  ERROR:         { start: OK,     stop: OK,     delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
  FROZEN:        { start: '6326', stop: '6326',    delete: OK,     renewLease: '6327', showLease: '6327', update: OK },
};

describe('operationRefusal: every status × operation', () => {
  it('the expectation table covers all 14 statuses', () => {
    assert.deepEqual(Object.keys(EXPECTED_REFUSALS).sort(), [...NOTEBOOK_STATUSES].sort());
  });

  for (const status of NOTEBOOK_STATUSES) {
    for (const op of OPERATIONS) {
      const code = EXPECTED_REFUSALS[status][op];
      it(`${op} on ${status} → ${code === null ? 'allowed' : `ModelArts.${code}`}`, () => {
        const refusal = operationRefusal(op, status);
        if (code === null) {
          assert.equal(refusal, null, refusal?.message);
        } else {
          assert.ok(refusal instanceof DomainError, `${op} on ${status} is refused`);
          assert.equal(refusal.code, `ModelArts.${code}`);
          assert.equal(refusal.httpStatus, 400);
        }
      });
    }
  }

  it('uses the documented wording', () => {
    assert.equal(operationRefusal('start', 'RUNNING')?.message, 'The instance is already running.');
    assert.equal(operationRefusal('start', 'STARTING')?.message, 'The instance is starting.');
    assert.equal(operationRefusal('stop', 'STOPPED')?.message, 'The instance has already been stopped.');
    assert.equal(operationRefusal('stop', 'STOPPING')?.message, 'The instance is stopping.');
    assert.equal(
      operationRefusal('renewLease', 'STOPPED')?.message,
      'The instance is not in running. Please refresh the page and start it.',
    );
  });
});

describe('operationRefusal agrees with the transition table', () => {
  // An operation that is allowed must lead somewhere the table permits.
  const targetOf: Partial<Record<UserOperation, NotebookStatus>> = { start: 'STARTING', stop: 'STOPPING', delete: 'DELETING' };
  for (const op of ['start', 'stop', 'delete'] as const) {
    for (const status of NOTEBOOK_STATUSES) {
      if (operationRefusal(op, status) !== null) continue;
      // A failed create never got its storage: starting it creates again.
      const target = op === 'start' && status === 'CREATE_FAILED' ? 'CREATING' : targetOf[op]!;
      it(`${op} is allowed on ${status}, so ${status} → ${target} is in the table`, () => {
        assert.ok(canTransition(status, target), `operationRefusal allows ${op} on ${status} but the table has no ${status} → ${target}`);
      });
    }
  }
});

// Per-field update rules (reference §6.3): configuration only where nothing runs; name,
// description and disk growth also while RUNNING.
const QUIESCENT: NotebookStatus[] = ['STOPPED', 'START_FAILED', 'CREATE_FAILED', 'ERROR'];
const EDITABLE_IN: Record<UpdatableField, NotebookStatus[]> = {
  flavor: QUIESCENT,
  image_id: QUIESCENT,
  endpoints: QUIESCENT,
  hooks: QUIESCENT,
  name: [...QUIESCENT, 'RUNNING'],
  description: [...QUIESCENT, 'RUNNING'],
  storage_new_size: [...QUIESCENT, 'RUNNING'],
};

describe('fieldRefusal: every field × status', () => {
  for (const [field, allowed] of Object.entries(EDITABLE_IN) as [UpdatableField, NotebookStatus[]][]) {
    for (const status of NOTEBOOK_STATUSES) {
      const ok = allowed.includes(status);
      it(`${field} in ${status} → ${ok ? 'allowed' : 'ModelArts.6347'}`, () => {
        const refusal = fieldRefusal(field, status);
        if (ok) {
          assert.equal(refusal, null);
        } else {
          assert.ok(refusal instanceof DomainError, `${field} in ${status} is refused`);
          assert.equal(refusal.code, 'ModelArts.6347');
          assert.equal(
            refusal.message,
            `When the instance is in the '${status}' status, the '${field}' parameter cannot be modified.`,
          );
        }
      });
    }
  }

  it('no field is editable while a transition is under way', () => {
    for (const field of Object.keys(EDITABLE_IN) as UpdatableField[]) {
      for (const status of TRANSITIONAL_STATUSES) assert.notEqual(fieldRefusal(field, status), null, `${field} in ${status}`);
    }
  });
});
