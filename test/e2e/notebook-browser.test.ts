// The browser story: headless Chromium opens an instance's url (with its token) through
// notebookd's proxy, sees the classic notebook UI, opens a notebook and runs a cell printing 42.
// Real notebookd, real Jupyter (local runtime), real browser.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { Notebook } from '../../src/domain/notebook.ts';
import { killLeftoverServers, localHandleOf } from '../support/notebookd-process.ts';
import { createBody, PROJECT, startTestService, waitForNotebook, type TestService } from '../support/service.ts';

const NB = `/v1/${PROJECT}/notebooks`;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const EMPTY_NOTEBOOK = {
  type: 'notebook',
  content: {
    cells: [{ cell_type: 'code', source: '', metadata: {}, outputs: [], execution_count: null }],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    nbformat: 4,
    nbformat_minor: 5,
  },
};

describe('a browser opens the instance through the proxy', () => {
  let svc: TestService;
  let browser: Browser;
  let nb: any;

  before(async () => {
    svc = await startTestService({ overrides: { runtime: 'local' } });
    const res = await svc.api.post(NB, createBody({ name: 'browser-e2e' }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    nb = await waitForNotebook(svc.api, res.body.id, (n) => n.status === 'RUNNING' || /FAILED|ERROR/.test(n.status), 60_000);
    assert.equal(nb.status, 'RUNNING', nb.fail_reason);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    if (!svc) return;
    const all = await svc.service.store.notebooks.listActive().catch(() => [] as Notebook[]);
    await killLeftoverServers(svc.dataDir, all.map((n) => localHandleOf(n)).filter((h) => h !== null));
    await svc.close();
  });

  it('shows the classic notebook UI, opens a notebook and runs print(6*7) → 42', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      // The instance url is {publicUrl}/nb/{id}/tree; the test service listens on a port of its own choosing.
      const url = new URL(nb.url);
      assert.equal(url.pathname, `/nb/${nb.id}/tree`);
      const entry = `${svc.url}${url.pathname}?token=${nb.token}`;
      const response = await page.goto(entry);
      assert.equal(response?.status(), 200);
      assert.equal(new URL(page.url()).search, '', 'the token is dropped from the address bar');
      await page.waitForSelector('#notebook_list', { timeout: 20_000 });
      assert.match(await page.title(), /Home|Jupyter/);

      // The browser now holds only our cookie (and Jupyter's XSRF cookie), not Jupyter's login cookie.
      const cookies = await context.cookies();
      assert.ok(cookies.some((c) => c.name === 'nbd_access' && c.path === `/nb/${nb.id}/` && c.httpOnly));
      assert.ok(!cookies.some((c) => c.name.startsWith('username-')), JSON.stringify(cookies.map((c) => c.name)));

      // A notebook file, written through the proxy with the browser's own cookie, then opened in the UI.
      const put = await page.request.put(`${svc.url}/nb/${nb.id}/api/contents/demo.ipynb`, {
        data: EMPTY_NOTEBOOK,
        headers: { origin: new URL(svc.url).origin },
      });
      assert.equal(put.status(), 201, await put.text());
      await page.reload();
      await page.waitForSelector('#notebook_list a:has-text("demo.ipynb")', { timeout: 20_000 });

      await page.goto(`${svc.url}/nb/${nb.id}/notebooks/demo.ipynb`);
      await page.waitForFunction(
        () => {
          const k = (window as any).Jupyter?.notebook?.kernel;
          return !!k && k.is_connected() && document.querySelector('#kernel_indicator_icon.kernel_idle_icon') !== null;
        },
        undefined,
        { timeout: 60_000 },
      );
      await page.click('.cell .CodeMirror');
      await page.keyboard.type('print(6*7)');
      await page.keyboard.press('Shift+Enter');
      const output = page.locator('.output_area pre').first();
      await output.waitFor({ timeout: 30_000 });
      assert.equal((await output.textContent())?.trim(), '42');

      const html = await page.content();
      const stored = await svc.service.store.notebooks.get(nb.id);
      assert.ok(!html.includes(stored!.runtimeTarget!.jupyterToken), 'the internal Jupyter token never reaches the browser');
    } finally {
      await context.close();
    }
  });

  it('a browser without the token gets a readable page asking for it', async () => {
    const page = await browser.newPage();
    try {
      const response = await page.goto(`${svc.url}/nb/${nb.id}/tree`);
      assert.equal(response?.status(), 401);
      await page.fill('input[name=token]', nb.token);
      await Promise.all([page.waitForURL(/\/tree$/), page.click('button')]);
      await page.waitForSelector('#notebook_list', { timeout: 20_000 });
    } finally {
      await page.close();
    }
  });
});
