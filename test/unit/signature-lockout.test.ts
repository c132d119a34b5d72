import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSignatureLockout } from '../../src/auth/signature-lockout.ts';

const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const MIN = 60_000;

describe('signature lockout', () => {
  it('4 failures do not lock; the 5th locks for 5 minutes', () => {
    const lockout = createSignatureLockout();
    for (let i = 0; i < 4; i++) lockout.recordFailure('AK1', T0 + i);
    assert.equal(lockout.isLocked('AK1', T0 + 10), false);
    lockout.recordFailure('AK1', T0 + 10);
    assert.equal(lockout.isLocked('AK1', T0 + 10), true);
    assert.equal(lockout.isLocked('AK1', T0 + 10 + 5 * MIN - 1), true);
    assert.equal(lockout.isLocked('AK1', T0 + 10 + 5 * MIN), false);
    assert.equal(lockout.isLocked('AK2', T0 + 10), false, 'other keys are unaffected');
  });

  it('failures while locked do not extend the lock, and the count restarts after it', () => {
    const lockout = createSignatureLockout();
    for (let i = 0; i < 5; i++) lockout.recordFailure('AK1', T0);
    lockout.recordFailure('AK1', T0 + 4 * MIN);
    assert.equal(lockout.isLocked('AK1', T0 + 5 * MIN), false);
    for (let i = 0; i < 4; i++) lockout.recordFailure('AK1', T0 + 6 * MIN);
    assert.equal(lockout.isLocked('AK1', T0 + 6 * MIN), false);
  });

  it('a success resets the count', () => {
    const lockout = createSignatureLockout();
    for (let i = 0; i < 4; i++) lockout.recordFailure('AK1', T0);
    lockout.recordSuccess('AK1');
    for (let i = 0; i < 4; i++) lockout.recordFailure('AK1', T0);
    assert.equal(lockout.isLocked('AK1', T0), false);
    lockout.recordFailure('AK1', T0);
    assert.equal(lockout.isLocked('AK1', T0), true);
  });

  it('honours custom limits', () => {
    const lockout = createSignatureLockout({ maxFailures: 2, lockMs: 1_000 });
    lockout.recordFailure('AK1', T0);
    lockout.recordFailure('AK1', T0);
    assert.equal(lockout.isLocked('AK1', T0 + 999), true);
    assert.equal(lockout.isLocked('AK1', T0 + 1_000), false);
  });

  it('stays bounded, forgetting the least recently failed keys first', () => {
    const lockout = createSignatureLockout({ maxKeys: 3 });
    for (const ak of ['A', 'B', 'C']) lockout.recordFailure(ak, T0);
    for (let i = 0; i < 4; i++) lockout.recordFailure('A', T0); // A now most recent, 5 failures → locked
    lockout.recordFailure('D', T0); // evicts B
    assert.equal(lockout.size, 3);
    assert.equal(lockout.isLocked('A', T0), true);
    for (let i = 0; i < 4; i++) lockout.recordFailure('B', T0);
    assert.equal(lockout.isLocked('B', T0), false, 'B started again from zero');
    assert.ok(lockout.size <= 3);
    const big = createSignatureLockout();
    for (let i = 0; i < 10_050; i++) big.recordFailure(`K${i}`, T0);
    assert.equal(big.size, 10_000);
  });
});
