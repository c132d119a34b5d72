// The instance records bench/api writes straight through the store before notebookd starts: one
// owner's instances, mostly STOPPED, some failed, every fifth tagged, one second apart, so that
// bench/api/run.ts (over HTTP) and bench/api/list-store.ts (the store alone) query the same data.
import { randomUUID } from 'node:crypto';
import { DEFAULT_LEASE_POLICY, newLease } from '../../src/domain/lease.ts';
import type { NotebookStatus } from '../../src/domain/lifecycle.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import type { Store } from '../../src/store/store.ts';

export const BENCH_IMAGE = '5b1f7c1e-8a7d-4c1e-9d2a-000000000001';

const STATUSES: NotebookStatus[] = ['STOPPED', 'STOPPED', 'STOPPED', 'STOPPED', 'ERROR', 'START_FAILED', 'STOPPED', 'STOPPED', 'STOPPED', 'CREATE_FAILED'];

/** Writes `count` instance records named nb-0… of `owner`, the first created at `firstAt`. */
export async function populate(store: Store, owner: Notebook['owner'], count: number, firstAt: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const at = firstAt + i * 1000;
    const status = STATUSES[i % STATUSES.length]!;
    const nb: Notebook = {
      id: randomUUID(),
      projectId: owner.domainId,
      owner,
      name: `nb-${i}`,
      description: '',
      feature: 'NOTEBOOK',
      flavorId: i % 3 === 0 ? 'modelarts.vm.cpu.4u' : 'modelarts.vm.cpu.2u',
      imageId: BENCH_IMAGE,
      workspaceId: '0',
      poolId: null,
      volume: { category: 'EVS', ownership: 'MANAGED', capacityGb: 5, mountPath: '/home/ma-user/work/', readOnly: false, status: 'IN_USE' },
      endpoints: [],
      hooks: null,
      tags: i % 5 === 0 ? [{ key: 'team', value: `t${i % 7}` }] : [],
      desired: 'stopped',
      status,
      operation: null,
      statusChangedAt: at,
      failReason: status === 'STOPPED' ? null : 'bench',
      stopReason: status === 'STOPPED' ? 'user' : null,
      actionProgress: [],
      token: null,
      lease: newLease(at, {}, DEFAULT_LEASE_POLICY),
      runtimeHandle: null,
      runtimeTarget: null,
      createAt: at,
      updateAt: at,
      version: 1,
    };
    await store.notebooks.insert(nb, [{ notebookId: nb.id, at, type: 'notebook.created', message: 'bench' }]);
  }
}
