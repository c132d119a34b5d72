// Lease arithmetic as specified in DESIGN §3 and reference §6.1: the stored duration is counted
// from the fixed createAt, so the stop time is always createAt + durationMs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkDuration,
  DEFAULT_LEASE_POLICY,
  dueAt,
  HOUR_MS,
  leaseStopAt,
  newLease,
  prolong,
  reanchor,
  recordActivity,
  remainingMs,
  type LeasePolicy,
} from '../../src/domain/lease.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { NOTEBOOK_STATUSES } from '../../src/domain/lifecycle.ts';
import type { Lease } from '../../src/domain/notebook.ts';

const MINUTE_MS = 60_000;
const POLICY = DEFAULT_LEASE_POLICY;

// Named instants.
const CREATED = Date.UTC(2026, 10, 22, 9, 0);
const TEN_MINUTES_LATER = CREATED + 10 * MINUTE_MS;
const TWENTY_MINUTES_LATER = CREATED + 20 * MINUTE_MS;
const HALF_AN_HOUR_LATER = CREATED + 30 * MINUTE_MS;
const ONE_HOUR_LATER = CREATED + HOUR_MS;
const TWO_HOURS_LATER = CREATED + 2 * HOUR_MS;
const THREE_HOURS_LATER = CREATED + 3 * HOUR_MS;

/** The predicted stop time, computed from the stored fields the way GET /lease presents them. */
const stopTimeOf = (lease: Lease) => lease.createAt + lease.durationMs;

describe('newLease', () => {
  const cases: {
    name: string;
    request: Parameters<typeof newLease>[1];
    expected: Pick<Lease, 'durationMs' | 'requestedMs' | 'type' | 'enable'>;
    stopAt: number | null;
  }[] = [
    {
      name: 'default: a one-hour TIMING lease',
      request: {},
      expected: { durationMs: HOUR_MS, requestedMs: HOUR_MS, type: 'TIMING', enable: true },
      stopAt: ONE_HOUR_LATER,
    },
    {
      name: 'explicit duration and type',
      request: { durationMs: 2 * HOUR_MS, type: 'IDLE' },
      expected: { durationMs: 2 * HOUR_MS, requestedMs: 2 * HOUR_MS, type: 'IDLE', enable: true },
      stopAt: TWO_HOURS_LATER,
    },
    {
      name: 'explicit duration, default type TIMING',
      request: { durationMs: 3 * HOUR_MS },
      expected: { durationMs: 3 * HOUR_MS, requestedMs: 3 * HOUR_MS, type: 'TIMING', enable: true },
      stopAt: THREE_HOURS_LATER,
    },
    {
      name: '-1 disables auto-stop (enable=false) and keeps a meaningful stored duration',
      request: { durationMs: -1 },
      expected: { durationMs: HOUR_MS, requestedMs: HOUR_MS, type: 'TIMING', enable: false },
      stopAt: null,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      // When an instance is created at CREATED
      const lease = newLease(CREATED, c.request, POLICY);
      // Then
      assert.deepEqual(lease, {
        createAt: CREATED,
        updateAt: CREATED,
        lastActivityAt: null,
        lastActivitySource: null,
        warnedFor: null,
        ...c.expected,
      });
      assert.equal(leaseStopAt(lease), c.stopAt);
    });
  }

  it('uses the policy default when no duration is given', () => {
    const policy: LeasePolicy = { ...POLICY, defaultMs: 4 * HOUR_MS };
    const lease = newLease(CREATED, {}, policy);
    assert.equal(lease.durationMs, 4 * HOUR_MS);
    assert.equal(stopTimeOf(lease), CREATED + 4 * HOUR_MS);
  });
});

describe('prolong, TIMING: the deadline becomes now + D', () => {
  const cases: { name: string; renewAt: number; durationMs: number; expectedStopAt: number }[] = [
    { name: 'renewed at creation for 1 h', renewAt: CREATED, durationMs: HOUR_MS, expectedStopAt: ONE_HOUR_LATER },
    {
      name: 'renewed half-way for 1 h: 1 h from now, not 1 h added to the old deadline',
      renewAt: HALF_AN_HOUR_LATER,
      durationMs: HOUR_MS,
      expectedStopAt: HALF_AN_HOUR_LATER + HOUR_MS,
    },
    {
      name: 'renewed half-way for 2 h',
      renewAt: HALF_AN_HOUR_LATER,
      durationMs: 2 * HOUR_MS,
      expectedStopAt: HALF_AN_HOUR_LATER + 2 * HOUR_MS,
    },
    {
      name: 'renewed after the old deadline has passed',
      renewAt: THREE_HOURS_LATER,
      durationMs: HOUR_MS,
      expectedStopAt: THREE_HOURS_LATER + HOUR_MS,
    },
    {
      name: 'renewed for the maximum 72 h',
      renewAt: TEN_MINUTES_LATER,
      durationMs: 72 * HOUR_MS,
      expectedStopAt: TEN_MINUTES_LATER + 72 * HOUR_MS,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      // Given a default lease created at CREATED (deadline ONE_HOUR_LATER)
      const lease = newLease(CREATED, {}, POLICY);
      // When it is renewed
      const renewed = prolong(lease, c.renewAt, c.durationMs, 'TIMING');
      // Then create_at stays, duration is counted from it, and create_at + duration = deadline
      assert.equal(renewed.createAt, CREATED);
      assert.equal(renewed.durationMs, c.renewAt - CREATED + c.durationMs);
      assert.equal(stopTimeOf(renewed), c.expectedStopAt);
      assert.equal(leaseStopAt(renewed), c.expectedStopAt);
      assert.equal(renewed.updateAt, c.renewAt);
      assert.equal(renewed.requestedMs, c.durationMs);
      assert.equal(renewed.type, 'TIMING');
      assert.equal(renewed.enable, true);
    });
  }

  it('never adds to the old deadline, even when renewed repeatedly', () => {
    // Given a lease renewed for 2 h at TEN_MINUTES_LATER (deadline 2 h 10 min)
    const first = prolong(newLease(CREATED, {}, POLICY), TEN_MINUTES_LATER, 2 * HOUR_MS, 'TIMING');
    // When it is renewed again for 1 h ten minutes later
    const second = prolong(first, TWENTY_MINUTES_LATER, HOUR_MS, 'TIMING');
    // Then the deadline is 1 h from the second renewal: earlier than the previous one
    assert.equal(stopTimeOf(second), TWENTY_MINUTES_LATER + HOUR_MS);
    assert.ok(stopTimeOf(second) < stopTimeOf(first), 'the second renewal shortened the deadline');
    assert.notEqual(stopTimeOf(second), stopTimeOf(first) + HOUR_MS);
  });

  it('clears the expiry warning, which belonged to the old deadline', () => {
    const warned: Lease = { ...newLease(CREATED, {}, POLICY), warnedFor: ONE_HOUR_LATER };
    assert.equal(prolong(warned, HALF_AN_HOUR_LATER, HOUR_MS, 'TIMING').warnedFor, null);
  });

  it('turns auto-stop back on for a lease created with -1', () => {
    const disabled = newLease(CREATED, { durationMs: -1 }, POLICY);
    const renewed = prolong(disabled, HALF_AN_HOUR_LATER, 2 * HOUR_MS, 'TIMING');
    assert.equal(renewed.enable, true);
    assert.equal(leaseStopAt(renewed), HALF_AN_HOUR_LATER + 2 * HOUR_MS);
  });

  it('does not modify the lease it is given', () => {
    const lease = newLease(CREATED, {}, POLICY);
    const before = structuredClone(lease);
    prolong(lease, HALF_AN_HOUR_LATER, 2 * HOUR_MS, 'IDLE');
    assert.deepEqual(lease, before);
  });
});

describe('the captured real sequence (reference §6.1)', () => {
  // Real timestamps from the OTC use case; the lease create_at stays fixed throughout.
  const LEASE_CREATED = 1687656452470;
  const SHOWN_RUNNING = 1687656479842;
  const PATCHED = 1687657510014;
  const STOPPED = 1687659052284;
  const STARTED = 1687659392569;

  const steps: { step: string; at: number; apply: (l: Lease, at: number) => Lease; duration: number }[] = [
    { step: 'create (default 1 h)', at: LEASE_CREATED, apply: (_l, at) => newLease(at, {}, POLICY), duration: 3600000 },
    { step: 'show, once RUNNING (re-anchored)', at: SHOWN_RUNNING, apply: (l, at) => reanchor(l, at), duration: 3627372 },
    {
      step: 'PATCH lease {"duration":3600000,"type":"timing"}',
      at: PATCHED,
      apply: (l, at) => prolong(l, at, 3600000, 'TIMING'),
      duration: 4657544,
    },
    { step: 'stop (re-anchored)', at: STOPPED, apply: (l, at) => reanchor(l, at), duration: 6199814 },
    { step: 'start (re-anchored)', at: STARTED, apply: (l, at) => reanchor(l, at), duration: 6540099 },
  ];

  it('reproduces duration and update_at at every step, with create_at + duration − update_at = 3600000', () => {
    let lease = newLease(LEASE_CREATED, {}, POLICY);
    for (const s of steps) {
      lease = s.apply(lease, s.at);
      assert.equal(lease.createAt, LEASE_CREATED, `${s.step}: create_at stays fixed`);
      assert.equal(lease.durationMs, s.duration, `${s.step}: duration`);
      assert.equal(lease.updateAt, s.at, `${s.step}: update_at`);
      assert.equal(lease.createAt + lease.durationMs - lease.updateAt, 3600000, `${s.step}: invariant`);
      assert.equal(lease.type, 'TIMING', `${s.step}: type`);
      assert.equal(lease.enable, true, `${s.step}: enable`);
    }
  });
});

describe('reanchor (reaching RUNNING, start)', () => {
  it('counts the running time from now with the lease’s own requested duration', () => {
    // Given a 2 h lease created at CREATED
    const lease = newLease(CREATED, { durationMs: 2 * HOUR_MS }, POLICY);
    // When the instance reaches RUNNING ten minutes later
    const anchored = reanchor(lease, TEN_MINUTES_LATER);
    // Then the deadline is 2 h after that
    assert.equal(stopTimeOf(anchored), TEN_MINUTES_LATER + 2 * HOUR_MS);
    assert.equal(anchored.createAt, CREATED);
    assert.equal(anchored.updateAt, TEN_MINUTES_LATER);
  });

  const startCases: {
    name: string;
    initial: Parameters<typeof newLease>[1];
    start: Parameters<typeof reanchor>[2];
    expected: { enable: boolean; type: Lease['type']; requestedMs: number; stopAt: number | null };
  }[] = [
    {
      name: 'start without a lease request keeps duration and type',
      initial: { durationMs: 2 * HOUR_MS, type: 'IDLE' },
      start: undefined,
      expected: { enable: true, type: 'IDLE', requestedMs: 2 * HOUR_MS, stopAt: THREE_HOURS_LATER + 2 * HOUR_MS },
    },
    {
      name: 'start with a duration replaces it',
      initial: {},
      start: { durationMs: 3 * HOUR_MS },
      expected: { enable: true, type: 'TIMING', requestedMs: 3 * HOUR_MS, stopAt: THREE_HOURS_LATER + 3 * HOUR_MS },
    },
    {
      name: 'start with a type replaces it',
      initial: {},
      start: { type: 'IDLE' },
      expected: { enable: true, type: 'IDLE', requestedMs: HOUR_MS, stopAt: THREE_HOURS_LATER + HOUR_MS },
    },
    {
      name: 'start with -1 disables auto-stop',
      initial: {},
      start: { durationMs: -1 },
      expected: { enable: false, type: 'TIMING', requestedMs: HOUR_MS, stopAt: null },
    },
    {
      name: 'start with a duration re-enables a lease created with -1',
      initial: { durationMs: -1 },
      start: { durationMs: 2 * HOUR_MS },
      expected: { enable: true, type: 'TIMING', requestedMs: 2 * HOUR_MS, stopAt: THREE_HOURS_LATER + 2 * HOUR_MS },
    },
    {
      name: 'start without a request leaves a disabled lease disabled',
      initial: { durationMs: -1 },
      start: undefined,
      expected: { enable: false, type: 'TIMING', requestedMs: HOUR_MS, stopAt: null },
    },
  ];

  for (const c of startCases) {
    it(c.name, () => {
      // Given a lease created at CREATED; When the instance is started at THREE_HOURS_LATER
      const started = reanchor(newLease(CREATED, c.initial, POLICY), THREE_HOURS_LATER, c.start);
      // Then
      assert.equal(started.enable, c.expected.enable);
      assert.equal(started.type, c.expected.type);
      assert.equal(started.requestedMs, c.expected.requestedMs);
      assert.equal(leaseStopAt(started), c.expected.stopAt);
      assert.equal(started.updateAt, THREE_HOURS_LATER);
      assert.equal(started.createAt, CREATED);
      assert.equal(started.createAt + started.durationMs - started.updateAt, started.requestedMs);
    });
  }
});

describe('IDLE', () => {
  it('prolong takes D as the idle timeout, counted from now', () => {
    const lease = newLease(CREATED, {}, POLICY);
    const idle = prolong(lease, HALF_AN_HOUR_LATER, 2 * HOUR_MS, 'IDLE');
    assert.equal(idle.type, 'IDLE');
    assert.equal(idle.requestedMs, 2 * HOUR_MS);
    assert.equal(stopTimeOf(idle), HALF_AN_HOUR_LATER + 2 * HOUR_MS);
  });
});

describe('recordActivity', () => {
  const idleLease = () => newLease(CREATED, { durationMs: HOUR_MS, type: 'IDLE' }, POLICY);
  const timingLease = () => newLease(CREATED, { durationMs: HOUR_MS, type: 'TIMING' }, POLICY);

  const cases: {
    name: string;
    given: () => Lease;
    activityAt: number;
    expectedStopAt: number | null;
    expectedLastActivityAt: number;
  }[] = [
    {
      name: 'IDLE: activity moves the stop time to activity + timeout',
      given: idleLease,
      activityAt: TEN_MINUTES_LATER,
      expectedStopAt: TEN_MINUTES_LATER + HOUR_MS,
      expectedLastActivityAt: TEN_MINUTES_LATER,
    },
    {
      name: 'IDLE: activity at the very start leaves the stop time where it is',
      given: idleLease,
      activityAt: CREATED,
      expectedStopAt: ONE_HOUR_LATER,
      expectedLastActivityAt: CREATED,
    },
    {
      name: 'IDLE: activity never moves the stop time earlier',
      // Renewed at ONE_HOUR_LATER for 1 h: stops at TWO_HOURS_LATER; activity reported for HALF_AN_HOUR_LATER
      given: () => prolong(idleLease(), ONE_HOUR_LATER, HOUR_MS, 'IDLE'),
      activityAt: HALF_AN_HOUR_LATER,
      expectedStopAt: TWO_HOURS_LATER,
      expectedLastActivityAt: HALF_AN_HOUR_LATER,
    },
    {
      name: 'TIMING: activity is recorded only; the deadline stays',
      given: timingLease,
      activityAt: HALF_AN_HOUR_LATER,
      expectedStopAt: ONE_HOUR_LATER,
      expectedLastActivityAt: HALF_AN_HOUR_LATER,
    },
    {
      name: 'IDLE with auto-stop disabled: recorded only',
      given: () => newLease(CREATED, { durationMs: -1, type: 'IDLE' }, POLICY),
      activityAt: HALF_AN_HOUR_LATER,
      expectedStopAt: null,
      expectedLastActivityAt: HALF_AN_HOUR_LATER,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const given = c.given();
      const after = recordActivity(given, c.activityAt, 'proxy');
      assert.equal(leaseStopAt(after), c.expectedStopAt);
      assert.equal(after.lastActivityAt, c.expectedLastActivityAt);
      assert.equal(after.lastActivitySource, 'proxy');
      assert.equal(after.createAt, given.createAt, 'create_at never moves');
      assert.equal(after.type, given.type);
    });
  }

  it('IDLE: successive activity keeps pushing the stop time out', () => {
    let lease = idleLease();
    for (const at of [TEN_MINUTES_LATER, TWENTY_MINUTES_LATER, HALF_AN_HOUR_LATER]) {
      lease = recordActivity(lease, at, 'kernel');
      assert.equal(stopTimeOf(lease), at + HOUR_MS);
    }
  });

  it('ignores activity older than (or as old as) the last one recorded', () => {
    // Given activity at TWENTY_MINUTES_LATER from ssh
    const recent = recordActivity(idleLease(), TWENTY_MINUTES_LATER, 'ssh');
    // When a late batch reports activity at TEN_MINUTES_LATER, or again at TWENTY_MINUTES_LATER
    for (const at of [TEN_MINUTES_LATER, TWENTY_MINUTES_LATER]) {
      const after = recordActivity(recent, at, 'proxy');
      // Then nothing changes, not even the source
      assert.deepEqual(after, recent);
    }
  });

  it('IDLE: moving the stop time clears the expiry warning for the old one', () => {
    const warned: Lease = { ...idleLease(), warnedFor: ONE_HOUR_LATER };
    assert.equal(recordActivity(warned, HALF_AN_HOUR_LATER, 'proxy').warnedFor, null);
  });
});

describe('checkDuration', () => {
  const accepted: { name: string; durationMs: number; allowDisableHere: boolean }[] = [
    { name: 'the minimum, 1 h', durationMs: HOUR_MS, allowDisableHere: false },
    { name: '2 h', durationMs: 2 * HOUR_MS, allowDisableHere: false },
    { name: 'the maximum, 72 h', durationMs: 72 * HOUR_MS, allowDisableHere: false },
    { name: '-1 where disabling is allowed (create, start)', durationMs: -1, allowDisableHere: true },
  ];
  for (const c of accepted) {
    it(`accepts ${c.name}`, () => {
      assert.doesNotThrow(() => checkDuration(c.durationMs, POLICY, c.allowDisableHere));
    });
  }

  const refused: { name: string; durationMs: number; allowDisableHere: boolean; policy?: LeasePolicy }[] = [
    { name: 'one ms below the minimum', durationMs: HOUR_MS - 1, allowDisableHere: true },
    { name: 'one ms above the maximum', durationMs: 72 * HOUR_MS + 1, allowDisableHere: true },
    { name: 'zero', durationMs: 0, allowDisableHere: true },
    { name: 'a fraction', durationMs: HOUR_MS + 0.5, allowDisableHere: true },
    { name: 'NaN', durationMs: Number.NaN, allowDisableHere: true },
    { name: 'Infinity', durationMs: Number.POSITIVE_INFINITY, allowDisableHere: true },
    { name: '-2', durationMs: -2, allowDisableHere: true },
    { name: '-1 where disabling is not allowed (renew)', durationMs: -1, allowDisableHere: false },
    { name: '-1 when the policy forbids disabling', durationMs: -1, allowDisableHere: true, policy: { ...POLICY, allowDisable: false } },
  ];
  for (const c of refused) {
    it(`refuses ${c.name} with ModelArts.6349 naming the range`, () => {
      assert.throws(
        () => checkDuration(c.durationMs, c.policy ?? POLICY, c.allowDisableHere),
        (e: unknown) => {
          assert.ok(e instanceof DomainError, 'a DomainError');
          assert.equal(e.code, 'ModelArts.6349');
          assert.equal(e.httpStatus, 400);
          assert.match(e.message, /The value ranges from 3600000 to 259200000\./);
          return true;
        },
      );
    });
  }

  it('names the operator’s range, not the API default, in the message', () => {
    const policy: LeasePolicy = { ...POLICY, minMs: 15 * MINUTE_MS, maxMs: 8 * HOUR_MS };
    assert.doesNotThrow(() => checkDuration(15 * MINUTE_MS, policy, false));
    assert.throws(() => checkDuration(9 * HOUR_MS, policy, false), {
      code: 'ModelArts.6349',
      message: /ranges from 900000 to 28800000/,
    });
  });
});

describe('dueAt: only a RUNNING instance with auto-stop enabled is due', () => {
  const enabled = newLease(CREATED, {}, POLICY);
  const disabled = newLease(CREATED, { durationMs: -1 }, POLICY);
  for (const status of NOTEBOOK_STATUSES) {
    const expected = status === 'RUNNING' ? ONE_HOUR_LATER : null;
    it(`${status}, enabled → ${expected === null ? 'null' : 'the stop time'}; disabled → null`, () => {
      assert.equal(dueAt({ status, lease: enabled }), expected);
      assert.equal(dueAt({ status, lease: disabled }), null);
    });
  }
});

describe('remainingMs', () => {
  const lease = newLease(CREATED, {}, POLICY); // stops at ONE_HOUR_LATER
  const cases: { name: string; now: number; expected: number | null; lease?: Lease }[] = [
    { name: 'at creation: the whole hour', now: CREATED, expected: HOUR_MS },
    { name: 'half-way', now: HALF_AN_HOUR_LATER, expected: 30 * MINUTE_MS },
    { name: 'at the deadline', now: ONE_HOUR_LATER, expected: 0 },
    { name: 'past the deadline: zero, never negative', now: TWO_HOURS_LATER, expected: 0 },
    { name: 'auto-stop disabled: null', now: HALF_AN_HOUR_LATER, expected: null, lease: newLease(CREATED, { durationMs: -1 }, POLICY) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(remainingMs(c.lease ?? lease, c.now), c.expected);
    });
  }
});
