// The SSH gateway on the local runtime with a real Jupyter server: a session works in the same
// tree as the notebook (a file uploaded with sftp is what Jupyter's contents API serves), and the
// instance's own Jupyter port is forwardable while notebookd's port is not.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Notebook } from '../../src/domain/notebook.ts';
import { freePort, killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';
import { keyDir, parseSshUri, portAccepts, run, SSH_OPTIONS, ssh, sshBackground, writeKey, type Target } from './ssh-support.ts';
import { waitFor } from '../support/wait.ts';

const NB = `/v1/${PROJECT}/notebooks`;

describe('SSH gateway on the local runtime (real Jupyter)', () => {
  let svc: TestService;
  let dir: string;
  let key: string;
  let target: Target;
  let nb: any;

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local' } });
    dir = await keyDir();
    const kp = await svc.api.post(`/v3/${PROJECT}/keypairs`, { keypair: { name: 'local-key' } });
    assert.equal(kp.status, 200, JSON.stringify(kp.body));
    key = await writeKey(dir, 'local-key', kp.body.keypair.private_key);
    const res = await svc.api.post(NB, createBody({ name: 'ssh-local', endpoints: [{ service: 'SSH', key_pair_names: ['local-key'] }] }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    nb = await waitForNotebook(svc.api, res.body.id, (n) => n.status === 'RUNNING' || /FAILED|ERROR/.test(n.status), 60_000);
    assert.equal(nb.status, 'RUNNING', nb.fail_reason);
    target = parseSshUri(nb.endpoints.find((e: any) => e.service === 'SSH').uri);
  });

  after(async () => {
    if (svc) {
      const all = await svc.service.store.notebooks.listActive().catch(() => [] as Notebook[]);
      await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
      await svc.close();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs commands in the instance: in its working tree and environment, not notebookd’s', async () => {
    const r = await ssh(target, key, 'echo probe > probe.txt; echo "db=${NOTEBOOKD_DATABASE_URL:-unset}"; echo "id=$NOTEBOOKD_INSTANCE_ID"');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `db=unset\nid=${nb.id}\n`);
    // The session's working directory is the notebook's root: Jupyter serves what it wrote.
    const res = await fetch(`${svc.url}/nb/${nb.id}/api/contents/probe.txt`, { headers: { Authorization: `token ${nb.token}` } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { content: string }).content, 'probe\n');
  });

  it('a file uploaded with sftp is the file Jupyter serves', async () => {
    const local = join(dir, 'hello.txt');
    await writeFile(local, 'from sftp\n');
    const batch = join(dir, 'batch');
    await writeFile(batch, `put ${local} hello.txt\n`);
    const r = await run('sftp', [...SSH_OPTIONS, '-i', key, '-P', String(target.port), '-b', batch, `${target.user}@${target.host}`]);
    assert.equal(r.code, 0, r.stderr);
    const res = await fetch(`${svc.url}/nb/${nb.id}/api/contents/hello.txt`, { headers: { Authorization: `token ${nb.token}` } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { content: string }).content, 'from sftp\n');
  });

  it("forwards to the instance's own Jupyter port, not to notebookd's", async () => {
    const stored = await svc.service.store.notebooks.get(nb.id);
    const jupyterPort = Number(new URL(stored!.runtimeTarget!.origin).port);
    const local = await freePort();
    const refused = await freePort();
    const tunnels = [
      sshBackground(target, key, ['-N', '-L', `127.0.0.1:${local}:127.0.0.1:${jupyterPort}`]),
      sshBackground(target, key, ['-N', '-L', `127.0.0.1:${refused}:127.0.0.1:${new URL(svc.url).port}`]),
    ];
    try {
      await waitFor('the tunnel', 15_000, () => portAccepts(local));
      const version = await waitFor('Jupyter through the tunnel', 15_000, async () => {
        const res = await fetch(`http://127.0.0.1:${local}/nb/${nb.id}/api`).catch(() => null);
        return res?.status === 200 ? ((await res.json()) as { version: string }) : null;
      });
      assert.match(version.version, /^\d+\.\d+/);
      await waitFor('the second tunnel', 15_000, () => portAccepts(refused));
      const through = await fetch(`http://127.0.0.1:${refused}/healthz`).then(
        (r) => `status ${r.status}`,
        () => 'refused',
      );
      assert.equal(through, 'refused');
    } finally {
      for (const t of tunnels) t.kill('SIGTERM');
    }
  });
});
