// The real `notebookd` binary against a real server: login, the notebook life cycle with --wait,
// tables and --json, and exit codes that tell success from failure.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { saveProfile } from '../../src/cli/profile.ts';
import { NOTEBOOK_IMAGE, PROJECT, startTestService, TOKEN, type TestService } from '../support/service.ts';

let svc: TestService;
let home: string;
before(async () => {
  svc = await startTestService();
  home = await mkdtemp(join(tmpdir(), 'notebookd-cli-'));
});
after(async () => {
  await svc.close();
  await rm(home, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/notebookd.js', ...args],
      { env: { ...process.env, NOTEBOOKD_PROFILE_FILE: join(home, 'profiles.json') }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('notebookd CLI', () => {
  it('refuses to work before login, with exit code 2 and a hint', async () => {
    const r = await cli('notebooks', 'list');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not logged in/);
  });

  it('logs in, checking the credentials, and stores the profile with mode 0600', async () => {
    const bad = await cli('login', '--endpoint', svc.url, '--project-id', PROJECT, '--token', 'nbd_wrong');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ModelArts\.0203/);
    const r = await cli('login', '--endpoint', svc.url, '--project-id', PROJECT, '--token', TOKEN);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(home, 'profiles.json'))).mode & 0o777, 0o600);
  });

  it('runs a notebook through its life with --wait, tables and --json', async () => {
    const created = await cli('--json', 'notebooks', 'create', '--name', 'cli_nb', '--image', NOTEBOOK_IMAGE, '--lease', '2h', '--wait');
    assert.equal(created.code, 0, created.stderr);
    const nb = JSON.parse(created.stdout);
    assert.equal(nb.status, 'RUNNING');
    assert.match(created.stderr, /RUNNING/, 'progress is shown on stderr');

    const list = await cli('notebooks', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^ID\s+NAME\s+STATUS/m);
    assert.match(list.stdout, new RegExp(`${nb.id}\\s+cli_nb\\s+RUNNING`));

    const prolong = await cli('--json', 'notebooks', 'prolong', nb.id, '3h');
    assert.equal(prolong.code, 0, prolong.stderr);
    const lease = JSON.parse(prolong.stdout);
    assert.equal(lease.stop_at - lease.update_at, 3 * 3_600_000);
    assert.match((await cli('notebooks', 'lease', nb.id)).stdout, /TIMING/);
    assert.match((await cli('notebooks', 'open', nb.id)).stdout, new RegExp(`/nb/${nb.id}/tree\\?token=`));

    assert.equal((await cli('notebooks', 'stop', nb.id, '--wait')).code, 0);
    const updated = await cli('--json', 'notebooks', 'update', nb.id, '--flavor', 'modelarts.vm.cpu.4u', '--storage', '10');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(JSON.parse(updated.stdout).flavor, 'modelarts.vm.cpu.4u');
    const started = await cli('--json', 'notebooks', 'start', nb.id, '--wait', '--lease', '90m');
    assert.equal(started.code, 0, started.stderr);
    assert.notEqual(JSON.parse(started.stdout).token, nb.token);
    const events = await cli('notebooks', 'events', nb.id);
    assert.match(events.stdout, /notebook\.stopped/);
    assert.equal((await cli('notebooks', 'delete', nb.id, '--wait')).code, 0);
    const gone = await cli('notebooks', 'show', nb.id);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /ModelArts\.6404/);
  });

  it('reports API refusals with their error code and exit code 1', async () => {
    const r = await cli('notebooks', 'create', '--name', 'bad name', '--image', NOTEBOOK_IMAGE);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ModelArts\.6334/);
    const running = JSON.parse((await cli('--json', 'notebooks', 'create', '--name', 'x', '--image', NOTEBOOK_IMAGE, '--wait')).stdout);
    const refused = await cli('notebooks', 'update', running.id, '--flavor', 'modelarts.vm.cpu.4u');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ModelArts\.6347/);
  });

  it('creates (private key once, to a 0600 file), imports, lists and deletes key pairs', async () => {
    const keyFile = join(home, 'cli_key');
    const created = await cli('keypairs', 'create', 'cli_key', '--out', keyFile);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.match(await readFile(keyFile, 'utf8'), /PRIVATE KEY/);
    const shown = JSON.parse((await cli('--json', 'keypairs', 'list')).stdout);
    const pub = shown.find((k: { name: string }) => k.name === 'cli_key').public_key as string;
    await writeFile(join(home, 'imported.pub'), pub + '\n');
    assert.equal((await cli('keypairs', 'import', 'cli_imported', join(home, 'imported.pub'))).code, 0);
    assert.match((await cli('keypairs', 'list')).stdout, /cli_imported/);
    assert.equal((await cli('keypairs', 'delete', 'cli_imported')).code, 0);
    assert.doesNotMatch((await cli('keypairs', 'list')).stdout, /cli_imported/);
  });

  it('lists flavors and images', async () => {
    assert.match((await cli('flavors', 'list')).stdout, /modelarts\.vm\.cpu\.2u/);
    assert.match((await cli('images', 'list')).stdout, /jupyter-notebook:6\.4/);
  });

  it('says so when the server cannot be reached, or the profile does not exist (exit code 2)', async () => {
    await saveProfile('down', { endpoint: 'http://127.0.0.1:3', projectId: PROJECT, credentials: { token: TOKEN } }, join(home, 'profiles.json'));
    const down = await cli('--profile', 'down', 'flavors', 'list');
    assert.equal(down.code, 2);
    assert.match(down.stderr, /cannot reach the server/);
    const r = await cli('--profile', 'nowhere', 'flavors', 'list');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no profile named 'nowhere'/);
  });
});
