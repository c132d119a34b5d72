// The web console end to end: headless Chromium drives the built console (web/dist) served by a
// real notebookd running real Jupyter servers (local runtime). A user signs in with a password,
// creates a notebook with an SSH endpoint, waits for RUNNING, sees the lease warning, prolongs and
// sees the new stop time, finds the stopped-only settings locked while it runs, stops it (with a
// confirmation), changes its flavor, starts it, opens it and runs a cell, and deletes it.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CONSOLE_DIST, ensureConsoleBundle } from '../../src/api/routes/console.ts';
import type { Notebook } from '../../src/domain/notebook.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { PROJECT, startTestService, TOKEN, waitForNotebook, type TestService } from '../support/service.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const NB = `/v1/${PROJECT}/notebooks`;
const USER = { name: 'alice', password: 'correct-horse-battery' };
const HOUR = 3_600_000;
const SLOW = { timeout: 60_000 };

const EMPTY_NOTEBOOK = {
  type: 'notebook',
  content: {
    cells: [{ cell_type: 'code', source: '', metadata: {}, outputs: [], execution_count: null }],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  },
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('the console bundle', () => {
  before(async () => {
    const state = await ensureConsoleBundle({ info: () => undefined, warn: (m) => console.error(m) });
    assert.equal(state, 'fresh', 'web/dist could not be built');
  });

  it('carries no Node built-in: the AK/SK signer (node:crypto) stays out of the browser', async () => {
    const assets = join(CONSOLE_DIST, 'assets');
    const scripts = (await readdir(assets)).filter((f) => f.endsWith('.js'));
    assert.ok(scripts.length > 0);
    for (const f of scripts) {
      const js = await readFile(join(assets, f), 'utf8');
      assert.doesNotMatch(js, /node:crypto|createHmac|from\s*["']node:/, f);
    }
  });
});

describe('the console, end to end in Chromium against real Jupyter instances', () => {
  let svc: TestService;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let notebookId = '';
  let stopAtBefore = 0;
  /** Errors the page logged: script errors and Content-Security-Policy violations must not be among them. */
  const browserErrors: string[] = [];

  // One story in order: once a step fails, the later ones fail at once instead of timing out.
  let failed: string | null = null;
  const step = (name: string, fn: () => Promise<void>) =>
    it(name, async () => {
      assert.equal(failed, null, `an earlier step failed: ${failed}`);
      try {
        await fn();
      } catch (e) {
        failed = name;
        throw e;
      }
    });

  const api = () => svc.api;
  const show = async (): Promise<any> => (await api().get(`${NB}/${notebookId}`)).body;
  /** The instance reaches `wanted` (a failure status ends the wait with its fail_reason), then the page shows it. */
  async function reaches(wanted: string, badge: string) {
    const nb = await waitForNotebook(api(), notebookId, (n) => n.status === wanted || /FAILED|ERROR/.test(n.status), 60_000);
    assert.equal(nb.status, wanted, `fail_reason: ${nb.fail_reason}`);
    await page.locator(`${badge} [data-status="${wanted}"]`).first().waitFor();
  }

  before(async () => {
    const state = await ensureConsoleBundle({ info: () => undefined, warn: (m) => console.error(m) });
    assert.equal(state, 'fresh');
    // A fixed port, so the instance URL ({publicUrl}/nb/{id}/tree) the console opens points here.
    // The warning lead is just under the 1 h lease, so lease.expiring arrives right after RUNNING.
    svc = await startTestService({ port: await freePort(), overrides: { runtime: 'local', lease: { warningLeadMs: HOUR - 1_000 } } });
    const created = await api().post('/v3/users', { user: { name: USER.name, password: USER.password, role: 'member' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (m) => m.type() === 'error' && browserErrors.push(m.text()));
    page.on('pageerror', (e) => browserErrors.push(`uncaught: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => [] as Notebook[]);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  step('serves the console at / and on its own paths only, never over the API', async () => {
    for (const path of ['/', '/sign-in', '/notebooks', '/notebooks/abc/edit', '/keypairs', '/admin/users']) {
      const res = await fetch(svc.url + path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/, path);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    }
    for (const path of ['/v1/nope', '/v3/nope', '/something-else', '/assets/missing.js', '/assets/..%2f..%2fpackage.json']) {
      const res = await fetch(svc.url + path);
      assert.equal(res.status, 404, path);
      assert.equal((await res.json()).error_code, 'APIGW.0101', path);
    }
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${svc.url}${NB}`)).status, 401, 'the API still wants credentials');
    const html = await (await fetch(svc.url)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const asset = await fetch(svc.url + script);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  });

  step('refuses a wrong password with the API error code, then signs in', async () => {
    await page.goto(`${svc.url}/notebooks`);
    await page.waitForURL(/\/sign-in/);
    await page.getByLabel('User name', { exact: true }).fill(USER.name);
    await page.getByLabel('Password', { exact: true }).fill('wrong-password-123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const error = page.getByTestId('error');
    await error.waitFor();
    assert.match(await error.innerText(), /ModelArts\.0201/);

    // Keyboard only from here: the password field, Enter submits.
    await page.getByLabel('Password', { exact: true }).fill(USER.password);
    await page.getByLabel('Password', { exact: true }).press('Enter');
    await page.getByRole('heading', { name: 'Notebooks', exact: true }).waitFor();
    assert.equal(await page.getByTestId('whoami').innerText(), USER.name);
    await page.getByText('No notebooks yet').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Administration' }).count(), 0, 'a member sees no administration');
  });

  step('creates a key pair and shows its private key once', async () => {
    await page.getByRole('link', { name: 'Key pairs' }).click();
    await page.getByRole('heading', { name: 'Key pairs', exact: true }).waitFor();
    await page.getByLabel('Name').fill('e2e-key');
    await page.getByRole('button', { name: 'Generate key pair' }).click();
    await page.getByText('Save the private key of e2e-key now').waitFor();
    assert.ok(await page.getByRole('link', { name: 'Download e2e-key.pem' }).getAttribute('href').then((h) => h?.includes('PRIVATE%20KEY')));
    await page.locator('tr[data-keypair="e2e-key"]').waitFor();
  });

  step('creates a notebook with an SSH endpoint and follows it to RUNNING', async () => {
    await page.getByRole('link', { name: 'Notebooks', exact: true }).click();
    await page.getByRole('link', { name: 'Create your first notebook' }).click();
    await page.getByRole('heading', { name: 'Create notebook' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('console-e2e');
    await page.getByLabel('Flavor').selectOption('modelarts.vm.cpu.2u');
    await page.getByLabel('Stop after').selectOption(String(HOUR));
    await page.getByLabel('Enable SSH access').check();
    await page.getByLabel('e2e-key').check();
    await page.getByLabel('SSH access from').fill('127.0.0.1\n10.0.0.0/8');
    await page.getByRole('button', { name: 'Create notebook' }).click();

    await page.getByRole('heading', { name: 'console-e2e', exact: true }).waitFor();
    notebookId = page.url().split('/').pop()!;
    await reaches('RUNNING', '.page-head');
    const nb = await show();
    assert.equal(nb.status, 'RUNNING');
    assert.deepEqual(
      nb.endpoints.find((e: any) => e.service === 'SSH'),
      { ...nb.endpoints.find((e: any) => e.service === 'SSH'), key_pair_names: ['e2e-key'], allowed_access_ips: ['127.0.0.1', '10.0.0.0/8'] },
    );
    assert.equal(nb.lease.stop_at - nb.lease.update_at, HOUR);
    // The timeline shows the steps as they happened.
    await page.locator('[data-event-type="notebook.running"]').waitFor();
  });

  step('shows the lease warning as a banner, prolongs with one click and shows the new stop time', async () => {
    // lease.expiring arrives over Server-Sent Events a second after RUNNING.
    const banner = page.getByTestId('lease-warning');
    await banner.waitFor();
    assert.match(await banner.innerText(), /stops at .* because its lease runs out/);
    await page.locator('[data-event-type="lease.expiring"]').waitFor();

    const timeLeft = page.locator('.lease [data-testid="time-left"]');
    stopAtBefore = Number(await timeLeft.getAttribute('data-stop-at'));
    assert.match(await timeLeft.innerText(), /^(59 min|1 h 0 min)/);
    const prolong = page.locator('.lease [data-testid="prolong"]');
    assert.match(await prolong.innerText(), /Allowed 1 h – 3 d/);
    await prolong.getByLabel('Keep running for').selectOption(String(2 * HOUR));
    await prolong.getByRole('button', { name: 'Prolong' }).click();

    await page.waitForFunction((atLeast) => Number(document.querySelector('.lease [data-testid="time-left"]')?.getAttribute('data-stop-at')) > atLeast, stopAtBefore + HOUR - 60_000);
    assert.match(await timeLeft.innerText(), /^(1 h 59 min|2 h 0 min)/);
    const lease = (await show()).lease;
    assert.equal(Number(await timeLeft.getAttribute('data-stop-at')), lease.stop_at, 'the console shows the stop time the server holds');
    assert.equal(lease.stop_at - lease.update_at, 2 * HOUR);
    // The renewal withdrew the warning.
    await banner.waitFor({ state: 'detached' });
    await page.locator('[data-event-type="lease.renewed"]').waitFor();
  });

  step('locks flavor, image, access and hooks while it runs, saying why', async () => {
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: 'Edit console-e2e' }).waitFor();
    assert.equal(await page.getByLabel('Flavor').isDisabled(), true);
    assert.equal(await page.getByLabel('Image').isDisabled(), true);
    assert.equal(await page.getByLabel('Enable SSH access').isDisabled(), true);
    assert.equal(await page.getByLabel('Name', { exact: true }).isEnabled(), true, 'the name may change while it runs');
    const why = page.locator('[data-section="Compute and software"] [data-testid="locked-reason"]');
    assert.match(await why.innerText(), /Stop the instance to change this\. .*'RUNNING'.*'flavor'/);
    // The fieldset names its reason to assistive technology.
    const describedBy = await page.locator('fieldset[data-section="Compute and software"]').getAttribute('aria-describedby');
    assert.equal(await page.locator(`[id="${describedBy}"]`).count(), 1);
  });

  step('stops after a confirmation (Escape cancels it) and unlocks those settings', async () => {
    await page.getByRole('button', { name: 'Stop instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop console-e2e?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await show()).status, 'RUNNING', 'cancelling changed nothing');

    await page.getByRole('button', { name: 'Stop instance' }).click();
    await dialog.getByRole('button', { name: 'Stop instance' }).click();
    await reaches('STOPPED', '.title-row');
    // The form follows the instance's status: the section unlocks once it has stopped.
    await page.locator('fieldset[data-section="Compute and software"]:not([disabled])').waitFor();
    assert.equal(await page.getByLabel('Flavor').isEnabled(), true);
    assert.equal(await page.locator('[data-section="Compute and software"] [data-testid="locked-reason"]').count(), 0);
  });

  step('changes the flavor of the stopped instance', async () => {
    await page.getByLabel('Flavor').selectOption('modelarts.vm.cpu.4u');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'console-e2e', exact: true }).waitFor();
    assert.equal((await show()).flavor, 'modelarts.vm.cpu.4u');
    await page.getByText('modelarts.vm.cpu.4u').first().waitFor();
    // The stop and its reason are on the timeline.
    const stopped = page.locator('[data-event-type="notebook.stopped"]').first();
    await stopped.waitFor();
    assert.match(await stopped.innerText(), /reason: stopped by a user/);
  });

  step('starts it again, opens it and runs a cell through the proxy', async () => {
    await page.getByRole('button', { name: 'Start console-e2e' }).click();
    await reaches('RUNNING', '.page-head');

    const [tab] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: 'Open notebook console-e2e in a new tab' }).click()]);
    await tab.waitForSelector('#notebook_list', SLOW);
    assert.ok(tab.url().startsWith(`${svc.url}/nb/${notebookId}/tree`), tab.url());
    try {
      const put = await tab.request.put(`${svc.url}/nb/${notebookId}/api/contents/console.ipynb`, { data: EMPTY_NOTEBOOK, headers: { origin: svc.url } });
      assert.equal(put.status(), 201, await put.text());
      await tab.goto(`${svc.url}/nb/${notebookId}/notebooks/console.ipynb`);
      await tab.waitForFunction(
        () => {
          const k = (window as any).Jupyter?.notebook?.kernel;
          return !!k && k.is_connected() && document.querySelector('#kernel_indicator_icon.kernel_idle_icon') !== null;
        },
        undefined,
        SLOW,
      );
      await tab.click('.cell .CodeMirror');
      await tab.keyboard.type('print(6*7)');
      await tab.keyboard.press('Shift+Enter');
      const output = tab.locator('.output_area pre').first();
      await output.waitFor(SLOW);
      assert.equal((await output.textContent())?.trim(), '42');
    } finally {
      await tab.close();
    }
  });

  step('lists it with its time left and deletes it after a confirmation', async () => {
    await page.getByRole('link', { name: '← Notebooks' }).click();
    const row = page.locator('tr[data-notebook="console-e2e"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'RUNNING');
    assert.match(await row.getByTestId('time-left').innerText(), /\d+ (h|min)/);
    await row.getByRole('button', { name: 'Delete console-e2e' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete console-e2e?' });
    await dialog.getByRole('button', { name: 'Delete instance' }).click();
    await row.waitFor({ state: 'detached', timeout: 60_000 });
    await page.getByText('No notebooks yet').waitFor();
    const deadline = Date.now() + 30_000;
    while ((await api().get(`${NB}/${notebookId}`)).status !== 404) {
      assert.ok(Date.now() < deadline, 'the notebook is deleted');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  step('ran without script errors or Content-Security-Policy violations', async () => {
    const bad = browserErrors.filter((e) => /uncaught|Content Security Policy|Refused to/i.test(e));
    assert.deepEqual(bad, []);
  });

  step('signs in with a token too, and shows administrators the users', async () => {
    const admin = await browser.newContext();
    const p = await admin.newPage();
    try {
      await p.goto(`${svc.url}/sign-in`);
      await p.getByRole('tab', { name: 'Access token' }).click();
      await p.getByLabel('X-Auth-Token').fill(TOKEN);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('heading', { name: 'Notebooks', exact: true }).waitFor();
      await p.getByRole('link', { name: 'Administration' }).click();
      await p.locator('tr[data-user="alice"]').waitFor();
      assert.equal(await p.locator('tr[data-user="alice"] select').inputValue(), 'member');
    } finally {
      await admin.close();
    }
  });
});
