// Crash safety: notebookd (the real binary, local runtime, real Jupyter, SQLite) is SIGKILLed in
// the middle of 50 lifecycle operations (create, start, stop, update, prolong, delete) sent
// concurrently over a dozen instances, then started again on the same data directory. Every
// instance must converge to what its last accepted operation (HTTP 200 before the kill) asked
// for; an operation in flight at the kill may or may not have landed, but nothing else may
// happen: no instance lost or duplicated, no Jupyter process left without an instance, and
// every lease honoured. Repeated with the kill after 10 %, 50 % and 90 % of the operations.
//
// Operations on one instance are sent one after another (each waits for its answer, and for a
// status that allows it), so "the last accepted operation" is well defined; the instances'
// chains run concurrently, so many operations are in flight at once.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { leaseStopAt } from '../../src/domain/lease.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import type { LocalHandle } from '../../src/runtime/local/local-runtime.ts';
import { readProcStat } from '../../src/runtime/local/process-identity.ts';
import {
  killLeftoverServers,
  localHandleOf,
  readStoredNotebooks,
  startNotebookd,
  type NotebookdProcess,
} from '../support/notebookd-process.ts';
import { createBody, PROJECT, type ApiClient } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const SETUP_RUNNING = 8;
const SETUP_STOPPED = 4;
/** A lease short enough to run out while notebookd is down or just after it is back. */
const SHORT_LEASE_MS = 3_000;
const LONG_LEASE_MS = 2 * 3_600_000;
const CONVERGE_MS = 240_000;
const WAIT_STATUS_MS = 120_000;

// Generous timeouts: a dozen Jupyter servers start at once on two cores, next to other tests.
const CONFIG = {
  reconcile: { healthIntervalMs: 300, readinessPollMs: 100, concurrency: 16 },
  lease: { minMs: 1_000, warningLeadMs: 0 },
  timeouts: { createMs: 180_000, startMs: 180_000, stopGraceMs: 3_000, stopMs: 30_000, deleteMs: 120_000 },
  limits: { instancesPerUser: 200, rateLimit: { enabled: false, perSecond: 1, burst: 1 } },
};

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type OpKind = 'create' | 'start' | 'stop' | 'delete' | 'rename' | 'prolong' | 'prolongShort';
type Outcome = 'accepted' | 'rejected' | 'unknown' | 'not-sent';

/** What the client may conclude about an instance from the answers it got. */
interface Expectation {
  exists: boolean;
  desired: 'running' | 'stopped' | 'deleted';
  name: string;
  /** The exact stop time an accepted prolong answered with, while nothing re-anchored it since. */
  stopAt: number | null;
  /** An accepted short prolong: the lease must stop it (reason lease_expired). */
  shortLease: boolean;
}

interface OpRecord {
  kind: OpKind;
  outcome: Outcome;
  status?: number;
  body?: any;
}

interface Chain {
  label: string;
  id: string | null;
  createName?: string;
  ops: OpKind[];
  records: OpRecord[];
  /** The states the instance may end in, computed after the run. */
  possible: Expectation[];
}

function apply(e: Expectation, op: OpKind, chain: Chain, body: any): Expectation {
  switch (op) {
    case 'create':
      return { exists: true, desired: 'running', name: chain.createName!, stopAt: null, shortLease: false };
    case 'start':
      return { ...e, desired: 'running', stopAt: null, shortLease: false };
    case 'stop':
      return { ...e, desired: 'stopped', stopAt: null, shortLease: false };
    case 'delete':
      return { ...e, desired: 'deleted' };
    case 'rename':
      return { ...e, name: body?.name ?? e.name };
    case 'prolong':
      return { ...e, stopAt: typeof body?.stop_at === 'number' ? body.stop_at : null, shortLease: false };
    case 'prolongShort':
      return { ...e, stopAt: null, shortLease: true };
  }
}

/** Why an actual record does not (yet) satisfy an expectation; null when it does. */
function mismatch(nb: Notebook | undefined, e: Expectation): string | null {
  if (!e.exists) return nb ? `exists (${nb.status}) but its create was never accepted` : null;
  if (!nb) return 'missing from the store';
  if (e.desired === 'deleted') return nb.status === 'DELETED' ? null : `status ${nb.status}, expected DELETED`;
  if (nb.name !== e.name) return `name ${nb.name}, expected ${e.name}`;
  if (e.desired === 'stopped' || e.shortLease) {
    if (nb.status !== 'STOPPED') return `status ${nb.status}, expected STOPPED${e.shortLease ? ' (lease expired)' : ''}`;
    const reason = e.shortLease ? 'lease_expired' : 'user';
    return nb.stopReason === reason ? null : `stop_reason ${nb.stopReason}, expected ${reason}`;
  }
  if (nb.status !== 'RUNNING') return `status ${nb.status}, expected RUNNING`;
  if (e.stopAt !== null && leaseStopAt(nb.lease) !== e.stopAt) return `stop time ${leaseStopAt(nb.lease)}, expected ${e.stopAt} (the accepted prolong)`;
  return null;
}

/** The statuses in which an operation makes sense; the chain waits for one before sending it. */
const renameTo = (round: string, chain: Chain, n: number) => `${round}-${chain.label.replace('#', '')}-r${n}`;

const READY_FOR: Partial<Record<OpKind, readonly string[]>> = {
  start: ['STOPPED'],
  rename: ['RUNNING', 'STOPPED'],
  prolong: ['RUNNING'],
  prolongShort: ['RUNNING'],
};

interface ProcInfo {
  pid: number;
  ppid: number;
  startTime: number;
  argv: string[];
  /** The instance whose Jupyter server this is (its base_url names it), if it is one. */
  serverOf: string | null;
}

/**
 * Live processes of this test's instances, however the runtime wraps them (plain process,
 * bubblewrap sandbox): a command line that points into the data directory or names an
 * instance's base path /nb/<id>/ (ids are UUIDs, so never another test's), and their descendants.
 */
async function instanceProcesses(dataDir: string, ids: ReadonlySet<string>, exclude: ReadonlySet<number>): Promise<ProcInfo[]> {
  const all = new Map<number, ProcInfo>();
  const marks = [join(dataDir, 'volumes') + '/', join(dataDir, 'instances') + '/'];
  const ours = new Set<number>();
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    const s = await readProcStat(pid);
    if (!s || s.state === 'Z' || s.state === 'X') continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
    const base = argv.map((a) => /base_url=\/nb\/([^/]+)\//.exec(a)?.[1]).find((id) => id !== undefined && ids.has(id)) ?? null;
    const isServer = base !== null && argv.some((a) => /^-m$|jupyter|notebook/.test(a)) && !argv[0]?.endsWith('bwrap');
    all.set(pid, { pid, ppid: s.ppid, startTime: s.startTime, argv, serverOf: isServer ? base : null });
    if (base !== null || argv.some((a) => marks.some((m) => a.includes(m)))) ours.add(pid);
  }
  const isOurs = (pid: number): boolean => {
    for (let p = pid, depth = 0; p > 1 && depth < 32; depth++) {
      if (ours.has(p)) return true;
      const info = all.get(p);
      if (!info) return false;
      p = info.ppid;
    }
    return false;
  };
  return [...all.values()].filter((p) => isOurs(p.pid));
}

/** Processes of the instances that no stored RUNNING instance's handle accounts for (itself or an ancestor). */
async function orphans(dataDir: string, stored: Notebook[], exclude: ReadonlySet<number>): Promise<ProcInfo[]> {
  const owners = new Map<number, number>();
  for (const nb of stored) {
    if (nb.status !== 'RUNNING') continue;
    const h = localHandleOf(nb);
    if (h) owners.set(h.pid, h.startTime);
  }
  const procs = await instanceProcesses(dataDir, new Set(stored.map((n) => n.id)), exclude);
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  // A handle's process, its descendants (kernels) and its wrappers (the sandbox it runs in).
  const accounted = new Set<number>();
  for (const p of procs) {
    if (owners.get(p.pid) !== p.startTime) continue;
    for (let cur: ProcInfo | undefined = p, depth = 0; cur && depth < 32; depth++, cur = byPid.get(cur.ppid)) accounted.add(cur.pid);
  }
  const owned = (p: ProcInfo): boolean => {
    for (let cur: ProcInfo | undefined = p, depth = 0; cur && depth < 32; depth++, cur = byPid.get(cur.ppid)) {
      if (owners.get(cur.pid) === cur.startTime || accounted.has(cur.pid)) return true;
    }
    return false;
  };
  return procs.filter((p) => !owned(p));
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('crash safety: SIGKILL during 50 concurrent lifecycle operations (real binary, local runtime)', () => {
  let dataDir: string;
  let nbd: NotebookdProcess | null = null;
  let seenHandles: LocalHandle[] = [];
  let pastOutput = '';

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'notebookd-crash-'));
    seenHandles = [];
    pastOutput = '';
  });

  afterEach(async () => {
    if (nbd) await nbd.kill('SIGTERM');
    nbd = null;
    await killLeftoverServers(dataDir, seenHandles);
    await rm(dataDir, { recursive: true, force: true });
  });

  const rememberHandles = () => {
    for (const nb of readStoredNotebooks(dataDir)) {
      const h = localHandleOf(nb);
      if (h && !seenHandles.some((s) => s.pid === h.pid && s.startTime === h.startTime)) seenHandles.push(h);
    }
  };

  async function waitForStatus(api: ApiClient, id: string, statuses: readonly string[], timeoutMs: number, isKilled: () => boolean): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !isKilled()) {
      let res;
      try {
        res = await api.get(`${NB}/${id}`);
      } catch {
        return false;
      }
      if (res.status === 200 && statuses.includes(res.body.status)) return true;
      if (res.status === 404 || (res.status === 200 && /FAILED|ERROR/.test(res.body.status))) return false;
      await delay(150);
    }
    return false;
  }

  async function setup(api: ApiClient, round: string): Promise<{ running: string[]; stopped: string[] }> {
    const ids: string[] = [];
    for (let i = 0; i < SETUP_RUNNING + SETUP_STOPPED; i++) {
      const res = await api.post(NB, createBody({ name: `${round}-s${i}`, lease: { duration: LONG_LEASE_MS, type: 'TIMING' } }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      ids.push(res.body.id);
    }
    // Why an instance did not get there: its status and reason, its last events and its Jupyter log.
    const why = async (id: string) => {
      const nb = (await api.get(`${NB}/${id}`)).body;
      const events = ((await api.get(`${NB}/${id}/events`)).body.events ?? []).slice(-6).map((e: { type: string; message: string }) => `${e.type}: ${e.message}`);
      const log = await readFile(join(dataDir, 'instances', id, 'jupyter.log'), 'utf8').catch((e) => String(e));
      return `${nb.status} (${nb.fail_reason ?? nb.stop_reason ?? ''})\nevents:\n${events.join('\n')}\njupyter.log:\n${log.slice(-2000)}\n${nbd?.output().slice(-2000) ?? ''}`;
    };
    for (const id of ids) assert.ok(await waitForStatus(api, id, ['RUNNING'], CONVERGE_MS, () => false), `setup: ${id} did not reach RUNNING: ${await why(id)}`);
    const stopped = ids.slice(SETUP_RUNNING);
    for (const id of stopped) assert.equal((await api.post(`${NB}/${id}/stop`)).status, 200);
    for (const id of stopped) assert.ok(await waitForStatus(api, id, ['STOPPED'], CONVERGE_MS, () => false), `setup: ${id} did not reach STOPPED: ${await why(id)}`);
    return { running: ids.slice(0, SETUP_RUNNING), stopped };
  }

  async function crashRound(killFraction: number): Promise<void> {
    const round = `k${Math.round(killFraction * 100)}`;
    nbd = await startNotebookd({ dataDir, config: CONFIG, readyTimeoutMs: 60_000 });
    const first = nbd;
    const { running, stopped } = await setup(first.api, round);
    const baseline = new Map<string, Expectation>();
    for (const nb of readStoredNotebooks(dataDir)) {
      baseline.set(nb.id, { exists: true, desired: nb.status === 'RUNNING' ? 'running' : 'stopped', name: nb.name, stopAt: null, shortLease: false });
    }
    rememberHandles();

    // 50 operations: 8 chains on running instances, 5 on stopped ones, 6 creating new ones.
    const onRunning: OpKind[][] = [
      ['prolong', 'rename', 'stop', 'start', 'prolong'],
      ['rename', 'prolong', 'delete'],
      ['stop', 'rename', 'start', 'stop'],
      ['prolongShort'],
      ['delete'],
      ['prolong', 'prolong', 'rename', 'prolongShort'],
      ['stop', 'delete'],
      ['rename', 'rename', 'stop', 'start'],
    ];
    const onStopped: OpKind[][] = [
      ['start', 'prolong', 'rename', 'stop'],
      ['rename', 'start', 'delete'],
      ['start', 'stop', 'start'],
      ['delete'],
    ];
    const creating: OpKind[][] = [
      ['create', 'prolong', 'rename'],
      ['create', 'stop', 'start'],
      ['create', 'delete'],
      ['create'],
      ['create', 'stop', 'start', 'prolong'],
      ['create', 'rename'],
    ];
    const chains: Chain[] = [
      ...onRunning.map((ops, i) => ({ label: `running#${i}`, id: running[i]!, ops, records: [], possible: [] })),
      ...onStopped.map((ops, i) => ({ label: `stopped#${i}`, id: stopped[i]!, ops, records: [], possible: [] })),
      ...creating.map((ops, i) => ({ label: `new#${i}`, id: null, createName: `${round}-new${i}`, ops, records: [], possible: [] })),
    ];
    const total = chains.reduce((n, c) => n + c.ops.length, 0);
    assert.equal(total, 50);
    const killAfter = Math.max(1, Math.round(total * killFraction));

    let sent = 0;
    let killed = false;
    let killedAt = 0;
    let sentAtKill = 0;
    const isKilled = () => killed;
    const killNow = () => {
      if (killed) return;
      killed = true;
      killedAt = Date.now();
      sentAtKill = sent;
      process.kill(first.pid, 'SIGKILL');
    };

    const request = (chain: Chain, op: OpKind, n: number): Promise<{ status: number; body: any }> => {
      const api = first.api;
      switch (op) {
        case 'create':
          return api.post(NB, createBody({ name: chain.createName, lease: { duration: LONG_LEASE_MS, type: 'TIMING' } }));
        case 'start':
          return api.post(`${NB}/${chain.id}/start`);
        case 'stop':
          return api.post(`${NB}/${chain.id}/stop`);
        case 'delete':
          return api.delete(`${NB}/${chain.id}`);
        case 'rename':
          return api.put(`${NB}/${chain.id}`, { name: renameTo(round, chain, n) });
        case 'prolong':
          return api.patch(`${NB}/${chain.id}/lease`, { duration: LONG_LEASE_MS + n * 60_000, type: 'TIMING' });
        case 'prolongShort':
          return api.patch(`${NB}/${chain.id}/lease`, { duration: SHORT_LEASE_MS, type: 'TIMING' });
      }
    };

    async function runChain(chain: Chain): Promise<void> {
      for (const [n, op] of chain.ops.entries()) {
        const record: OpRecord = { kind: op, outcome: 'not-sent' };
        chain.records.push(record);
        if (killed) return;
        if (op !== 'create' && !chain.id) return;
        const ready = READY_FOR[op];
        if (ready && chain.id && !(await waitForStatus(first.api, chain.id, ready, WAIT_STATUS_MS, isKilled))) {
          if (killed) return;
          continue; // never reached a status that allows it (e.g. refused earlier): skip
        }
        if (killed) return;
        sent += 1;
        const pending = request(chain, op, n);
        if (sent === killAfter) setTimeout(killNow, Math.floor(Math.random() * 5));
        try {
          const res = await pending;
          record.status = res.status;
          record.body = res.body;
          record.outcome = res.status === 200 ? 'accepted' : 'rejected';
          if (op === 'create' && res.status === 200) chain.id = res.body.id;
          if (res.status >= 500) assert.fail(`${chain.label} ${op}: ${res.status} ${JSON.stringify(res.body)}`);
        } catch {
          record.outcome = 'unknown'; // the process died with the request in flight
          return;
        }
      }
    }

    await Promise.all(chains.map(runChain));
    // Operations skipped (a status never reached) may leave the kill point unreached: kill now.
    if (!killed) killNow();
    const exit = await first.exited;
    assert.equal(exit.signal, 'SIGKILL');
    pastOutput += first.output();
    nbd = null;
    rememberHandles();

    // What each instance may converge to, from the answers alone.
    for (const chain of chains) {
      let state: Expectation = chain.id && baseline.has(chain.id)
        ? baseline.get(chain.id)!
        : { exists: false, desired: 'deleted', name: chain.createName ?? '', stopAt: null, shortLease: false };
      const possible: Expectation[] = [];
      for (const r of chain.records) {
        const sentName = r.kind === 'rename' ? { name: renameTo(round, chain, chain.records.indexOf(r)) } : undefined;
        if (r.outcome === 'accepted') state = apply(state, r.kind, chain, sentName ?? r.body);
        if (r.outcome === 'unknown') possible.push(apply(state, r.kind, chain, sentName));
      }
      possible.unshift(state);
      chain.possible = possible;
    }
    const summary = chains.map((c) => `${c.label}: ${c.records.map((r) => `${r.kind}=${r.outcome}${r.status && r.status !== 200 ? `(${r.status} ${r.body?.error_code})` : ''}`).join(' ')}`).join('\n');

    // notebookd comes back on the same data directory.
    const second = await startNotebookd({ dataDir, config: CONFIG, readyTimeoutMs: 60_000 });
    nbd = second;
    const readyAfterKillMs = second.readyAt - killedAt;

    // An unknown create has no id: find it by its unique name (at most one record may carry it).
    const byName = (name: string) => readStoredNotebooks(dataDir).filter((n) => n.name === name);
    const deadline = Date.now() + CONVERGE_MS;
    let problems: string[] = [];
    for (;;) {
      const stored = readStoredNotebooks(dataDir);
      const byId = new Map(stored.map((n) => [n.id, n]));
      problems = [];
      for (const chain of chains) {
        let nb = chain.id ? byId.get(chain.id) : undefined;
        if (!chain.id && chain.createName) {
          const named = byName(chain.createName);
          if (named.length > 1) problems.push(`${chain.label}: ${named.length} instances named ${chain.createName} (duplicated)`);
          nb = named[0];
        }
        const why = chain.possible.map((e) => mismatch(nb, e));
        if (why.every((w) => w !== null)) problems.push(`${chain.label} (${chain.id ?? chain.createName}): ${why.join(' | or | ')}`);
      }
      if (problems.length === 0 || Date.now() > deadline) break;
      await delay(250);
    }
    rememberHandles();
    assert.deepEqual(problems, [], `instances did not converge to their last accepted operation within ${CONVERGE_MS} ms:\n${problems.join('\n')}\n--- operations ---\n${summary}`);

    // None lost, none duplicated: exactly the setup instances plus the creates that landed.
    const stored = readStoredNotebooks(dataDir);
    const roundRecords = stored.filter((n) => n.name.startsWith(`${round}-`) || baseline.has(n.id) || chains.some((c) => c.id === n.id));
    const expectedIds = new Set([...baseline.keys(), ...chains.filter((c) => c.id).map((c) => c.id!)]);
    for (const nb of roundRecords) {
      if (expectedIds.has(nb.id)) continue;
      const chain = chains.find((c) => c.createName === nb.name && !c.id);
      assert.ok(chain && chain.records[0]!.outcome === 'unknown', `instance ${nb.id} (${nb.name}) was created by no request that could have landed`);
    }
    for (const id of expectedIds) assert.ok(stored.some((n) => n.id === id), `instance ${id} is in the store`);
    assert.equal(new Set(stored.map((n) => n.id)).size, stored.length, 'ids are unique');

    // No Jupyter process without a RUNNING instance, and every RUNNING instance's server is alive.
    // Give the reconciler a few health passes to stop servers of instances that are not RUNNING.
    let leftovers: ProcInfo[] = [];
    const quiet = Date.now() + 30_000;
    for (;;) {
      const now = readStoredNotebooks(dataDir);
      leftovers = await orphans(dataDir, now, new Set([second.pid, process.pid]));
      if (leftovers.length === 0 || Date.now() > quiet) break;
      await delay(250);
    }
    assert.deepEqual(leftovers.map((p) => `${p.pid} ${p.argv.join(' ').slice(0, 200)}`), [], 'orphaned processes under the data directory');
    const final = readStoredNotebooks(dataDir);
    // The detector does see the servers: exactly one per RUNNING instance (none twice).
    const procs = await instanceProcesses(dataDir, new Set(final.map((n) => n.id)), new Set([second.pid, process.pid]));
    const runningIds = final.filter((n) => n.status === 'RUNNING').map((n) => n.id).sort();
    const serverIds = procs.flatMap((p) => (p.serverOf ? [p.serverOf] : [])).sort();
    assert.deepEqual(serverIds, runningIds, `one Jupyter server per RUNNING instance; processes:\n${procs.map((p) => `${p.pid}<${p.ppid} ${p.argv.join(' ').slice(0, 300)}`).join('\n')}`);
    for (const nb of final) {
      if (nb.status === 'RUNNING') {
        const h = localHandleOf(nb);
        assert.ok(h, `${nb.id} is RUNNING with a handle`);
        const s = await readProcStat(h.pid);
        assert.ok(s && s.state !== 'Z' && s.startTime === h.startTime, `the server of RUNNING ${nb.id} (pid ${h.pid}) is alive`);
        // A running instance's lease is in the future (an overdue one would have been stopped).
        const stopAt = leaseStopAt(nb.lease);
        assert.ok(stopAt === null || stopAt > Date.now() - 2_000, `RUNNING ${nb.id} has an overdue lease (${stopAt})`);
      } else if (nb.status === 'DELETED') {
        assert.ok(!(await exists(join(dataDir, 'volumes', nb.id))), `the volume of deleted ${nb.id} is removed`);
        const gone = await second.api.get(`${NB}/${nb.id}`);
        assert.equal(gone.status, 404);
      } else {
        assert.equal(nb.runtimeHandle, null, `${nb.status} ${nb.id} holds no runtime handle`);
      }
    }
    // Leases that ran out were honoured with their reason, and not before their deadline.
    for (const chain of chains) {
      const nb = final.find((n) => n.id === chain.id);
      if (!nb || nb.stopReason !== 'lease_expired') continue;
      const events = (await second.api.get(`${NB}/${nb.id}/events?limit=1000`)).body.events as any[];
      const renewed = events.filter((e) => e.type === 'lease.renewed').pop();
      const stopping = events.filter((e) => e.type === 'notebook.stopping').pop();
      assert.ok(renewed && stopping, `${chain.label}: events of the renew and the stop`);
      assert.equal(stopping.data.reason, 'lease_expired');
      assert.ok(stopping.at >= renewed.data.stopAt, `${chain.label}: stopped at ${stopping.at}, not before the deadline ${renewed.data.stopAt}`);
    }
    const accepted = chains.flatMap((c) => c.records).filter((r) => r.outcome === 'accepted').length;
    const unknown = chains.flatMap((c) => c.records).filter((r) => r.outcome === 'unknown').length;
    console.log(`# kill after ${sentAtKill}/50 sent (kill point ${killAfter}): ${accepted} accepted, ${unknown} in flight; ready ${readyAfterKillMs} ms after the kill; ${runningIds.length} running at the end\n${summary.replace(/^/gm, '#   ')}`);
  }

  const withOutput = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (e) {
      const out = (pastOutput + (nbd?.output() ?? '')).trim();
      if (e instanceof Error && out) e.message += `\n--- notebookd output ---\n${out.slice(-6_000)}`;
      throw e;
    }
  };

  for (const fraction of [0.1, 0.5, 0.9]) {
    it(`converges after a kill at ${fraction * 100} % of the operations`, { timeout: 900_000 }, withOutput(() => crashRound(fraction)));
  }
});
