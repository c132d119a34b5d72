// Every stop records its reason, visible on the instance, in its events and in the metrics:
// user, admin, lease_expired, idle, runtime_lost and error, each reached the way it happens in use.
// Real notebookd in this process (fake runtime, system clock), leases of a second or two.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../src/auth/secrets.ts';
import type { FakeRuntime } from '../../src/runtime/fake/fake-runtime.ts';
import { ApiClient, createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const STOP_REASONS = ['user', 'admin', 'lease_expired', 'idle', 'runtime_lost', 'error'] as const;

describe('stop reasons: all six are reachable and visible', () => {
  let svc: TestService;
  let member: ApiClient;
  const seen = new Map<string, string>(); // reason → instance id

  before(async () => {
    svc = await startTestService({
      overrides: {
        lease: { minMs: 1_000, warningLeadMs: 0 },
        // Samplers run often: had notebookd's own probes counted, the IDLE instance would never stop.
        activity: { flushIntervalMs: 100, pollIntervalMs: 100, cpuBusyCores: 0.1, probeTimeoutMs: 1_000 },
      },
    });
    // A project member whose instance the system administrator stops.
    const now = Date.now();
    const memberToken = 'nbd_member-token-for-stop-reasons';
    await svc.service.store.identity.insertUser({ id: 'member1', projectId: PROJECT, name: 'member', domainId: PROJECT, domainName: 'default', role: 'member', systemAdmin: false, passwordHash: null, createAt: now });
    await svc.service.store.identity.insertToken({ tokenHash: hashToken(memberToken), userId: 'member1', projectId: PROJECT, expiresAt: now + 3_600_000, revoked: false, createAt: now });
    member = svc.api.withHeaders({ 'X-Auth-Token': memberToken });
  });

  after(async () => svc?.close());

  const runningInstance = async (api: ApiClient, body: Record<string, unknown>) => {
    const res = await api.post(NB, createBody(body));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (await waitForNotebook(svc.api, res.body.id, (nb) => nb.status === 'RUNNING')).id as string;
  };
  const fake = () => svc.service.runtime as FakeRuntime;

  const cases: { reason: (typeof STOP_REASONS)[number]; how: string; run: () => Promise<string>; final: string }[] = [
    {
      reason: 'user',
      how: 'the owner stops it',
      final: 'STOPPED',
      run: async () => {
        const id = await runningInstance(member, { name: 'by_user' });
        assert.equal((await member.post(`${NB}/${id}/stop`)).status, 200);
        return id;
      },
    },
    {
      reason: 'admin',
      how: 'a system administrator stops someone else’s instance',
      final: 'STOPPED',
      run: async () => {
        const id = await runningInstance(member, { name: 'by_admin' });
        assert.equal((await svc.api.post(`${NB}/${id}/stop`)).status, 200);
        return id;
      },
    },
    {
      reason: 'lease_expired',
      how: 'a TIMING lease runs out',
      final: 'STOPPED',
      run: () => runningInstance(svc.api, { name: 'timing', lease: { duration: 1_500, type: 'timing' } }),
    },
    {
      reason: 'idle',
      how: 'an IDLE lease passes with no activity (health and readiness probes do not count)',
      final: 'STOPPED',
      run: () => runningInstance(svc.api, { name: 'idle', lease: { duration: 1_500, type: 'idle' } }),
    },
    {
      reason: 'runtime_lost',
      how: 'the runtime can no longer find the server',
      final: 'ERROR',
      run: async () => {
        const id = await runningInstance(svc.api, { name: 'lost', lease: { duration: -1 } });
        const run = fake().currentRun(id)!;
        await run.server.close();
        fake().registry.runs.delete(run.generation);
        return id;
      },
    },
    {
      reason: 'error',
      how: 'the server exits by itself',
      final: 'ERROR',
      run: async () => {
        const id = await runningInstance(svc.api, { name: 'crashed', lease: { duration: -1 } });
        await fake().crash(id, 3);
        return id;
      },
    },
  ];

  for (const c of cases) {
    it(`${c.reason}: ${c.how}`, async () => {
      const id = await c.run();
      seen.set(c.reason, id);
      // On the instance
      const nb = await waitForNotebook(svc.api, id, (n) => n.status === c.final, 15_000);
      assert.equal(nb.stop_reason, c.reason);
      // In its events: the stop (or loss) carries the reason
      const events = (await svc.api.get(`${NB}/${id}/events`)).body.events as { type: string; data: Record<string, unknown> }[];
      const stop = events.find((e) => e.type === 'notebook.stopping' || e.type === 'notebook.lost');
      assert.ok(stop, `a stop event among ${events.map((e) => e.type).join(', ')}`);
      assert.equal(stop.data.reason, c.reason);
      if (c.final === 'STOPPED') assert.equal(events.find((e) => e.type === 'notebook.stopped')?.data.reason, c.reason);
      if (c.reason === 'idle') assert.equal(nb.lease.last_activity_at, null, 'nothing counted as activity');
    });
  }

  it('the metrics count stops by each reason', async () => {
    const text = await (await fetch(`${svc.url}/metrics`)).text();
    for (const reason of STOP_REASONS) {
      assert.match(text, new RegExp(`notebookd_notebook_stops_total\\{reason="${reason}"\\} [1-9]`), reason);
    }
    assert.equal(seen.size, STOP_REASONS.length);
  });
});
