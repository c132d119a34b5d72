// Quota arithmetic (domain/quota.ts): usage from instance rows, the first exhausted resource,
// patches over limits. Table tests; no I/O.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NotebookStatus } from '../../src/domain/lifecycle.ts';
import { NOTEBOOK_STATUSES } from '../../src/domain/lifecycle.ts';
import {
  anyLimit,
  demandOf,
  exceeded,
  flavorAllowed,
  holdsCompute,
  mergeLimits,
  UNLIMITED,
  usageOf,
  ZERO_USAGE,
  type ProjectQuotaLimits,
  type QuotaLimits,
  type UsageRow,
} from '../../src/domain/quota.ts';

const FLAVORS: Record<string, { vcpus: number; gpus: number }> = { small: { vcpus: 2, gpus: 0 }, gpu: { vcpus: 8, gpus: 1 }, tiny: { vcpus: 0.1, gpus: 0 } };
const flavorOf = (id: string) => FLAVORS[id];
let n = 0;
const row = (status: NotebookStatus, flavorId = 'small', storageGb = 5, ownerId = 'u1'): UsageRow => ({ id: `nb${++n}`, ownerId, status, flavorId, storageGb });

describe('holdsCompute', () => {
  const holding: NotebookStatus[] = ['INIT', 'CREATING', 'STARTING', 'RUNNING', 'SNAPSHOTTING'];
  for (const status of NOTEBOOK_STATUSES) {
    it(`${status} ${holding.includes(status) ? 'holds' : 'does not hold'} compute`, () => {
      assert.equal(holdsCompute(status), holding.includes(status));
    });
  }
});

describe('usageOf', () => {
  it('counts every live instance and its storage, and compute only for those holding it', () => {
    const usage = usageOf([row('RUNNING'), row('CREATING', 'gpu', 10), row('STOPPED', 'gpu', 20), row('STOPPING'), row('ERROR'), row('DELETED', 'gpu', 99)], flavorOf);
    assert.deepEqual(usage, { instances: 5, runningInstances: 2, vcpus: 10, gpus: 1, storageGb: 45 });
  });

  it('counts an unknown flavor (removed from the catalog) as no compute rather than failing', () => {
    assert.deepEqual(usageOf([row('RUNNING', 'gone')], flavorOf), { instances: 1, runningInstances: 1, vcpus: 0, gpus: 0, storageGb: 5 });
  });

  it('given no rows, is zero', () => {
    assert.deepEqual(usageOf([], flavorOf), ZERO_USAGE);
  });
});

describe('exceeded', () => {
  const limits = (l: Partial<QuotaLimits>): QuotaLimits => ({ ...UNLIMITED, ...l });
  const usage = { instances: 2, runningInstances: 1, vcpus: 2, gpus: 0, storageGb: 10 };
  const table: [string, QuotaLimits, ReturnType<typeof demandOf>, string | null][] = [
    ['no limits', UNLIMITED, demandOf(FLAVORS.gpu!, 100, true), null],
    ['exactly at the limit fits', limits({ instances: 3 }), demandOf(FLAVORS.small!, 5, true), null],
    ['one over', limits({ instances: 2 }), demandOf(FLAVORS.small!, 5, true), 'instances'],
    ['a start needs no instance slot', limits({ instances: 2 }), demandOf(FLAVORS.small!, 0, false), null],
    ['running instances', limits({ runningInstances: 1 }), demandOf(FLAVORS.small!, 0, false), 'runningInstances'],
    ['vcpus', limits({ vcpus: 9 }), demandOf(FLAVORS.gpu!, 0, false), 'vcpus'],
    ['gpus at zero', limits({ gpus: 0 }), demandOf(FLAVORS.gpu!, 0, false), 'gpus'],
    ['gpus at zero, CPU flavor', limits({ gpus: 0 }), demandOf(FLAVORS.small!, 0, false), null],
    ['storage', limits({ storageGb: 14 }), demandOf(FLAVORS.small!, 5, true), 'storageGb'],
    ['the first in order wins', limits({ instances: 0, storageGb: 0 }), demandOf(FLAVORS.small!, 5, true), 'instances'],
    ['a limit already passed still lets zero-demand through', limits({ storageGb: 1 }), demandOf(FLAVORS.small!, 0, false), null],
  ];
  for (const [name, l, demand, want] of table) {
    it(name, () => assert.equal(exceeded(l, usage, demand), want));
  }

  it('fractional vCPUs add up without floating-point surprises', () => {
    const used = usageOf([row('RUNNING', 'tiny'), row('RUNNING', 'tiny')], flavorOf);
    assert.equal(exceeded({ ...UNLIMITED, vcpus: 0.3 }, used, demandOf(FLAVORS.tiny!, 0, false)), null);
  });
});

describe('limits', () => {
  it('mergeLimits: absent keys keep the base, null lifts, numbers set', () => {
    const base: ProjectQuotaLimits = { ...UNLIMITED, instances: 5, vcpus: 8, flavors: ['a'] };
    assert.deepEqual(mergeLimits(base, { instances: null, gpus: 1 }), { ...base, instances: null, gpus: 1 });
    assert.deepEqual(mergeLimits(base, {}), base);
  });

  it('anyLimit and flavorAllowed', () => {
    assert.equal(anyLimit(UNLIMITED), false);
    assert.equal(anyLimit({ ...UNLIMITED, gpus: 0 }), true);
    assert.equal(flavorAllowed({ ...UNLIMITED, flavors: null }, 'x'), true);
    assert.equal(flavorAllowed({ ...UNLIMITED, flavors: ['a'] }, 'a'), true);
    assert.equal(flavorAllowed({ ...UNLIMITED, flavors: [] }, 'a'), false);
  });
});
