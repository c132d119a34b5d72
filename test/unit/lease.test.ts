// Lease arithmetic as specified in DESIGN §3 and reference §6.1: the stored duration is counted
// from the fixed createAt, so the stop time is always createAt + durationMs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkDuration,
  checkProlong,
  DEFAULT_LEASE_POLICY,
  dueAt,
  HOUR_MS,
  humanMs,
  leaseAction,
  leaseStopAt,
  newLease,
  policyForFlavor,
  policyProblem,
  prolong,
  reanchor,
  recordActivity,
  remainingMs,
  warnAt,
  warnExpiry,
  warningWithdrawn,
  warningWithdrawnEvent,
  type LeasePolicy,
} from '../../src/domain/lease.ts';
import { makeNotebook } from '../support/notebook-fixture.ts';
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
        // The policy's terms the lease keeps (a cap starts with the first run, not at creation).
        warningLeadMs: POLICY.warningLeadMs,
        maxRunningMs: null,
        capAt: null,
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
  const enabled = newLease(CREATED, {}, { ...POLICY, warningLeadMs: 0 });
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

// ---------------------------------------------------------------------------------------------
// Warnings, hard caps and per-flavor policy.

const FIFTY_MINUTES_LATER = CREATED + 50 * MINUTE_MS;
const FOUR_HOURS_LATER = CREATED + 4 * HOUR_MS;
const EIGHT_HOURS_LATER = CREATED + 8 * HOUR_MS;
/** Ten-minute warning, eight-hour cap on one run. */
const CAPPED: LeasePolicy = { ...POLICY, warningLeadMs: 10 * MINUTE_MS, maxRunningMs: 8 * HOUR_MS };

describe('the lease.expiring warning: once per deadline, at the lead time', () => {
  const lease = () => newLease(CREATED, {}, POLICY); // 1 h TIMING, stops at ONE_HOUR_LATER, 10 min lead

  const cases: { name: string; given: () => Lease; expectedWarnAt: number | null; expectedDueAt: number | null }[] = [
    { name: 'a fresh 1 h lease is warned 10 min before its stop time', given: lease, expectedWarnAt: FIFTY_MINUTES_LATER, expectedDueAt: FIFTY_MINUTES_LATER },
    {
      name: 'once warned for that deadline, the executor is next due at the stop time',
      given: () => ({ ...lease(), warnedFor: ONE_HOUR_LATER }),
      expectedWarnAt: null,
      expectedDueAt: ONE_HOUR_LATER,
    },
    {
      name: 'a warning for an older deadline does not count for the new one',
      given: () => ({ ...prolong(lease(), HALF_AN_HOUR_LATER, HOUR_MS, 'TIMING'), warnedFor: ONE_HOUR_LATER }),
      expectedWarnAt: HALF_AN_HOUR_LATER + 50 * MINUTE_MS,
      expectedDueAt: HALF_AN_HOUR_LATER + 50 * MINUTE_MS,
    },
    { name: 'no lead configured: no warning', given: () => newLease(CREATED, {}, { ...POLICY, warningLeadMs: 0 }), expectedWarnAt: null, expectedDueAt: ONE_HOUR_LATER },
    {
      name: 'a lease no longer than the lead gets no warning (it would fire at once)',
      given: () => newLease(CREATED, { durationMs: 10 * MINUTE_MS }, { ...POLICY, minMs: MINUTE_MS }),
      expectedWarnAt: null,
      expectedDueAt: TEN_MINUTES_LATER,
    },
    { name: 'auto-stop disabled: nothing is due', given: () => newLease(CREATED, { durationMs: -1 }, POLICY), expectedWarnAt: null, expectedDueAt: null },
    {
      name: 'a record written before leases kept their terms (no warningLeadMs): no warning',
      given: () => {
        const { warningLeadMs: _lead, maxRunningMs: _max, capAt: _cap, ...old } = lease();
        return old;
      },
      expectedWarnAt: null,
      expectedDueAt: ONE_HOUR_LATER,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const given = c.given();
      assert.equal(warnAt(given), c.expectedWarnAt);
      assert.equal(dueAt({ status: 'RUNNING', lease: given }), c.expectedDueAt);
    });
  }

  it('IDLE: activity moves the warning with the stop time', () => {
    const idle = newLease(CREATED, { type: 'IDLE' }, POLICY);
    const active = recordActivity(idle, HALF_AN_HOUR_LATER, 'kernel');
    assert.equal(warnAt(active), HALF_AN_HOUR_LATER + 50 * MINUTE_MS);
  });
});

describe('leaseAction: what the executor does at a named instant', () => {
  const running = (lease: Lease) => ({ status: 'RUNNING' as const, lease });
  const timing = newLease(CREATED, {}, POLICY);
  const idle = newLease(CREATED, { type: 'IDLE' }, POLICY);
  const warned = { ...timing, warnedFor: ONE_HOUR_LATER };

  const cases: { name: string; nb: Parameters<typeof leaseAction>[0]; now: number; expected: ReturnType<typeof leaseAction> }[] = [
    { name: 'before the warning time: nothing', nb: running(timing), now: HALF_AN_HOUR_LATER, expected: null },
    { name: 'at the warning time: warn', nb: running(timing), now: FIFTY_MINUTES_LATER, expected: { kind: 'warn', stopAt: ONE_HOUR_LATER, warnAt: FIFTY_MINUTES_LATER } },
    { name: 'warned already: nothing until the stop time', nb: running(warned), now: FIFTY_MINUTES_LATER + MINUTE_MS, expected: null },
    { name: 'TIMING at the stop time: lease_expired', nb: running(warned), now: ONE_HOUR_LATER, expected: { kind: 'stop', reason: 'lease_expired', stopAt: ONE_HOUR_LATER, capped: false } },
    {
      name: 'past the stop time without a warning (notebookd was down): stop, no warning first',
      nb: running(timing),
      now: THREE_HOURS_LATER,
      expected: { kind: 'stop', reason: 'lease_expired', stopAt: ONE_HOUR_LATER, capped: false },
    },
    { name: 'IDLE at the stop time: idle', nb: running(idle), now: ONE_HOUR_LATER, expected: { kind: 'stop', reason: 'idle', stopAt: ONE_HOUR_LATER, capped: false } },
    { name: 'not RUNNING: nothing, however late', nb: { status: 'STOPPING', lease: timing }, now: THREE_HOURS_LATER, expected: null },
    { name: 'auto-stop disabled: nothing', nb: running(newLease(CREATED, { durationMs: -1 }, POLICY)), now: THREE_HOURS_LATER, expected: null },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(leaseAction(c.nb, c.now), c.expected));
  }
});

describe('warnExpiry and withdrawal', () => {
  it('records lease.expiring once, with the stop time, and marks the deadline warned', () => {
    // Given a RUNNING instance whose 1 h TIMING lease stops at ONE_HOUR_LATER
    const nb = makeNotebook({ status: 'RUNNING', createAt: CREATED, lease: newLease(CREATED, {}, POLICY) });
    // When the executor warns at FIFTY_MINUTES_LATER
    const t = warnExpiry(nb, FIFTY_MINUTES_LATER, ONE_HOUR_LATER);
    // Then
    assert.equal(t.next.lease.warnedFor, ONE_HOUR_LATER);
    assert.equal(t.next.status, 'RUNNING');
    assert.equal(t.events.length, 1);
    assert.equal(t.events[0]!.type, 'lease.expiring');
    assert.deepEqual(t.events[0]!.data, { stopAt: ONE_HOUR_LATER, reason: 'lease_expired', type: 'TIMING', capped: false });
    assert.match(t.events[0]!.message, /stops at 2026-11-22T10:00:00\.000Z \(in 10 min\).*Renew the lease/);
    // And it is not due for another warning
    assert.deepEqual(leaseAction(t.next, FIFTY_MINUTES_LATER + 1), null);
  });

  it('IDLE warnings say that activity keeps the instance', () => {
    const nb = makeNotebook({ status: 'RUNNING', createAt: CREATED, lease: newLease(CREATED, { type: 'IDLE' }, POLICY) });
    const t = warnExpiry(nb, FIFTY_MINUTES_LATER, ONE_HOUR_LATER);
    assert.equal(t.events[0]!.data!.reason, 'idle');
    assert.match(t.events[0]!.message, /idle for too long.*activity/);
  });

  const warnedTiming: Lease = { ...newLease(CREATED, {}, POLICY), warnedFor: ONE_HOUR_LATER };
  const warnedIdle: Lease = { ...newLease(CREATED, { type: 'IDLE' }, POLICY), warnedFor: ONE_HOUR_LATER };
  const cases: { name: string; before: Lease; after: (l: Lease) => Lease; withdrawn: boolean }[] = [
    { name: 'a renewal after the warning withdraws it', before: warnedTiming, after: (l) => prolong(l, FIFTY_MINUTES_LATER, HOUR_MS, 'TIMING'), withdrawn: true },
    { name: 'IDLE activity that moves the stop time withdraws it', before: warnedIdle, after: (l) => recordActivity(l, FIFTY_MINUTES_LATER, 'ssh'), withdrawn: true },
    { name: 'activity on a TIMING lease does not (the deadline stays)', before: warnedTiming, after: (l) => recordActivity(l, FIFTY_MINUTES_LATER, 'http'), withdrawn: false },
    { name: 'IDLE activity older than the stop time it would move does not', before: warnedIdle, after: (l) => recordActivity(l, CREATED - 1, 'http'), withdrawn: false },
    { name: 'nothing to withdraw without a warning', before: newLease(CREATED, {}, POLICY), after: (l) => prolong(l, FIFTY_MINUTES_LATER, HOUR_MS, 'TIMING'), withdrawn: false },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(warningWithdrawn(c.before, c.after(c.before)), c.withdrawn));
  }

  it('the withdrawal event names the new stop time and the cause', () => {
    const nb = makeNotebook({ status: 'RUNNING', createAt: CREATED, lease: warnedTiming });
    const after = prolong(warnedTiming, FIFTY_MINUTES_LATER, HOUR_MS, 'TIMING');
    const e = warningWithdrawnEvent(nb, FIFTY_MINUTES_LATER, after, 'lease renewed by alice');
    assert.equal(e.type, 'lease.expiring_cancelled');
    assert.deepEqual(e.data, { stopAt: FIFTY_MINUTES_LATER + HOUR_MS, previousStopAt: ONE_HOUR_LATER, cause: 'lease renewed by alice' });
  });
});

describe('hard cap on one run (maxRunningMs)', () => {
  // Given an instance created at CREATED that reaches RUNNING at CREATED under an 8 h cap
  const anchored = (req: Parameters<typeof newLease>[1] = {}) => reanchor(newLease(CREATED, req, CAPPED), CREATED);

  it('reaching RUNNING starts the run: the cap is 8 h from then', () => {
    const lease = anchored();
    assert.equal(lease.capAt, EIGHT_HOURS_LATER);
    assert.equal(leaseStopAt(lease), ONE_HOUR_LATER);
  });

  it('TIMING renewals up to the cap are accepted and reach it exactly', () => {
    const lease = anchored();
    assert.doesNotThrow(() => checkProlong(lease, FOUR_HOURS_LATER, 4 * HOUR_MS, 'TIMING', CAPPED));
    assert.equal(leaseStopAt(prolong(lease, FOUR_HOURS_LATER, 4 * HOUR_MS, 'TIMING')), EIGHT_HOURS_LATER);
  });

  it('a TIMING renewal past the cap is refused with 6349 and the range that is left', () => {
    const lease = anchored();
    assert.throws(() => checkProlong(lease, FOUR_HOURS_LATER, 5 * HOUR_MS, 'TIMING', CAPPED), (e: unknown) => {
      assert.ok(e instanceof DomainError);
      assert.equal(e.code, 'ModelArts.6349');
      assert.match(e.message, /ranges from 3600000 to 14400000\. This run may last at most 8 h and ends at 2026-11-22T17:00:00\.000Z\./);
      return true;
    });
  });

  it('less than the minimum left: no renewal is possible, and the message says how to go on', () => {
    const lease = anchored();
    assert.throws(() => checkProlong(lease, EIGHT_HOURS_LATER - 30 * MINUTE_MS, HOUR_MS, 'TIMING', CAPPED), {
      code: 'ModelArts.6349',
      message: /reached its maximum running time \(8 h\).*stop and start the instance/,
    });
  });

  it('IDLE activity never moves the stop time past the cap', () => {
    const lease = anchored({ type: 'IDLE' });
    const late = recordActivity(lease, EIGHT_HOURS_LATER - 30 * MINUTE_MS, 'kernel');
    assert.equal(leaseStopAt(late), EIGHT_HOURS_LATER);
    assert.deepEqual(leaseAction({ status: 'RUNNING', lease: late }, EIGHT_HOURS_LATER), {
      kind: 'stop',
      reason: 'lease_expired',
      stopAt: EIGHT_HOURS_LATER,
      capped: true,
    });
  });

  it('an IDLE renewal is clamped to the cap rather than refused', () => {
    const lease = anchored({ type: 'IDLE' });
    assert.doesNotThrow(() => checkProlong(lease, FOUR_HOURS_LATER + 2 * HOUR_MS, 4 * HOUR_MS, 'IDLE', CAPPED));
    assert.equal(leaseStopAt(prolong(lease, FOUR_HOURS_LATER + 2 * HOUR_MS, 4 * HOUR_MS, 'IDLE')), EIGHT_HOURS_LATER);
  });

  it('a new start begins a new run with a new cap', () => {
    const restarted = reanchor(anchored(), THREE_HOURS_LATER + 8 * HOUR_MS, undefined, CAPPED);
    assert.equal(restarted.capAt, THREE_HOURS_LATER + 16 * HOUR_MS);
  });

  it('the warning before a capped stop says it cannot be prolonged', () => {
    const lease = reanchor(newLease(CREATED, { durationMs: 8 * HOUR_MS }, CAPPED), CREATED);
    const nb = makeNotebook({ status: 'RUNNING', createAt: CREATED, lease });
    const action = leaseAction(nb, EIGHT_HOURS_LATER - 10 * MINUTE_MS);
    assert.deepEqual(action, { kind: 'warn', stopAt: EIGHT_HOURS_LATER, warnAt: EIGHT_HOURS_LATER - 10 * MINUTE_MS });
    const t = warnExpiry(nb, EIGHT_HOURS_LATER - 10 * MINUTE_MS, EIGHT_HOURS_LATER);
    assert.match(t.events[0]!.message, /maximum running time.*cannot be prolonged/);
    assert.equal(t.events[0]!.data!.capped, true);
  });
});

describe('checkDuration under a cap', () => {
  it('durations above the cap are out of range, and the range says so', () => {
    const policy: LeasePolicy = { ...POLICY, maxRunningMs: 8 * HOUR_MS };
    assert.doesNotThrow(() => checkDuration(8 * HOUR_MS, policy, false));
    assert.throws(() => checkDuration(9 * HOUR_MS, policy, false), { code: 'ModelArts.6349', message: /ranges from 3600000 to 28800000\. An instance of this flavor runs at most 8 h per start\./ });
  });

  it('-1 is refused where a cap applies, even though the policy allows disabling', () => {
    const policy: LeasePolicy = { ...POLICY, allowDisable: true, maxRunningMs: 8 * HOUR_MS };
    assert.throws(() => checkDuration(-1, policy, true), { code: 'ModelArts.6349', message: /cannot be disabled.*at most 8 h per start/ });
  });
});

describe('reanchor with the flavor policy (start)', () => {
  it('takes the policy’s current terms for the new run', () => {
    const lease = newLease(CREATED, {}, POLICY);
    const started = reanchor(lease, THREE_HOURS_LATER, undefined, { ...POLICY, warningLeadMs: 5 * MINUTE_MS, maxRunningMs: 4 * HOUR_MS });
    assert.equal(started.warningLeadMs, 5 * MINUTE_MS);
    assert.equal(started.capAt, THREE_HOURS_LATER + 4 * HOUR_MS);
  });

  it('turns auto-stop back on when the policy no longer allows it off', () => {
    const disabled = newLease(CREATED, { durationMs: -1 }, POLICY);
    const started = reanchor(disabled, THREE_HOURS_LATER, undefined, { ...POLICY, allowDisable: false });
    assert.equal(started.enable, true);
    assert.equal(leaseStopAt(started), THREE_HOURS_LATER + HOUR_MS);
  });

  it('keeps auto-stop off where the policy allows it', () => {
    const disabled = newLease(CREATED, { durationMs: -1 }, POLICY);
    assert.equal(reanchor(disabled, THREE_HOURS_LATER, undefined, POLICY).enable, false);
  });
});

describe('per-flavor policy', () => {
  const perFlavor = { 'gpu.large': { maxMs: 8 * HOUR_MS, maxRunningMs: 12 * HOUR_MS, allowDisable: false } };
  const cases: { name: string; flavorId: string; expected: Partial<LeasePolicy> }[] = [
    { name: 'a flavor with overrides gets them on top of the base', flavorId: 'gpu.large', expected: { minMs: HOUR_MS, maxMs: 8 * HOUR_MS, maxRunningMs: 12 * HOUR_MS, allowDisable: false } },
    { name: 'any other flavor gets the base policy', flavorId: 'cpu.small', expected: { minMs: HOUR_MS, maxMs: 72 * HOUR_MS, maxRunningMs: null, allowDisable: true } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = policyForFlavor(POLICY, perFlavor, c.flavorId);
      for (const [k, v] of Object.entries(c.expected)) assert.equal(p[k as keyof LeasePolicy], v, k);
    });
  }

  const problems: { name: string; policy: LeasePolicy; expected: RegExp | null }[] = [
    { name: 'the default policy is consistent', policy: POLICY, expected: null },
    { name: 'default below the minimum', policy: { ...POLICY, defaultMs: MINUTE_MS }, expected: /minMs <= defaultMs <= maxMs/ },
    { name: 'a cap shorter than the shortest lease', policy: { ...POLICY, maxRunningMs: MINUTE_MS }, expected: /maxRunningMs must be at least minMs/ },
  ];
  for (const c of problems) {
    it(c.name, () => {
      const found = policyProblem(c.policy);
      if (c.expected === null) assert.equal(found, null);
      else assert.match(found ?? '', c.expected);
    });
  }
});

describe('humanMs', () => {
  const cases: [number, string][] = [
    [8 * HOUR_MS, '8 h'],
    [90 * MINUTE_MS, '90 min'],
    [10 * MINUTE_MS, '10 min'],
    [45_000, '45 s'],
    [-5, '0 s'],
  ];
  for (const [ms, text] of cases) it(`${ms} ms → ${text}`, () => assert.equal(humanMs(ms), text));
});
