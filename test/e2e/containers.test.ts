// The app in a real browser against a real engine: `hangar serve` on a scratch library holding
// the tests' busybox image, runc as root. A container is made through the New Container wizard
// with the keyboard alone, typed into through its terminal, paused and resumed from the
// toolbar, and returned to a snapshot through the Restore Snapshot wizard.
// Each test leaves a screenshot in test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ContainersService } from '../../engine/containers/index.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from '../integration/containers/fixtures.ts';
import {
  buildRenderer, libraryItem, openBrowser, screenshot, startServe, toolbarButton, typeInTerminal, waitForState as waitForStateIn, waitForTerminal, type Browser, type Served,
} from './support.ts';

let scratch: ReturnType<typeof scratchDir>;
let served: Served;
let browser: Browser;
let page: Page;
let containers: ContainersService;

before(async () => {
  requireTools();
  buildRenderer();
  scratch = scratchDir('e2e');
  served = await startServe(scratch.dir);
  containers = await new ContainersService(join(served.home, 'containers')).init();
  const archive = join(scratch.dir, 'busybox.tar');
  await writeBusyboxArchive(archive);
  await containers.importArchive(archive);
  browser = await openBrowser(served.url);
  page = browser.page;
  // Loaded: the engine said containers work here (New Container is enabled once it has).
  await page.locator('.toolbar button:not([disabled])', { hasText: 'New Container' }).waitFor();
});

after(async () => {
  await browser?.close();
  await served?.stop();
  for (const c of await containers?.runtime.list() ?? []) await containers.runtime.remove(c.id, { force: true });
  scratch?.cleanup();
});

const item = (name: string) => libraryItem(page, name);
const toolbar = (label: string) => toolbarButton(page, label);
const waitForState = (name: string, state: string) => waitForStateIn(page, name, state, { engine: () => containers.runtime.list() });

test('New Container wizard, by keyboard alone: a container is created, started, and its terminal answers', async () => {
  // The image arrives in the library (images:changed) before the wizard is opened.
  await page.getByRole('button', { name: 'New Container' }).focus();
  await page.keyboard.press('Enter');
  const wizard = page.getByRole('dialog', { name: 'New Container' });
  await wizard.waitFor();
  await wizard.getByRole('listbox').or(wizard.getByRole('combobox')).first().waitFor();
  assert.match(await wizard.locator('select').inputValue(), /busybox/);
  await page.keyboard.press('Enter'); // Image: the local busybox → Next

  await wizard.getByRole('heading', { name: 'Name and command' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.closest('label')?.textContent), 'Name');
  await page.keyboard.type('e2e-shell');
  await page.keyboard.press('Tab');
  await page.keyboard.type('sh');
  await page.keyboard.press('Enter');

  await wizard.getByRole('heading', { name: 'Environment' }).waitFor();
  await page.keyboard.type('GREETING=hello');
  await page.keyboard.press('Control+Enter');

  await wizard.getByRole('heading', { name: 'Limits' }).waitFor();
  await page.keyboard.type('3'); // 3 MiB is refused in place
  await page.keyboard.press('Enter');
  await wizard.getByRole('alert').filter({ hasText: 'at least 6 MiB' }).waitFor();
  await page.keyboard.press('Backspace');
  await page.keyboard.type('64');
  await page.keyboard.press('Enter');

  await wizard.getByRole('heading', { name: 'Summary' }).waitFor();
  const summary = await wizard.locator('dl.summary').innerText();
  assert.match(summary, /e2e-shell/);
  assert.match(summary, /64 MiB/);
  assert.match(summary, /GREETING=hello/);
  await screenshot(page, 'new-container-wizard-summary');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Create and start');
  await page.keyboard.press('Enter');

  await wizard.waitFor({ state: 'detached', timeout: 30_000 });
  await waitForState('e2e-shell', 'running');
  await page.getByRole('tab', { name: 'Terminal', selected: true }).waitFor();
  await typeInTerminal(page, 'echo "$GREETING from $(hostname)" > /tmp/out; cat /tmp/out');
  await waitForTerminal(page, /^hello from [0-9a-f]{12}$/m);
  const info = (await containers.runtime.list()).find((c) => c.name === 'e2e-shell');
  assert.equal(info?.status, 'running');
  assert.equal((await containers.runtime.stats(info.id)).memoryLimitBytes, 64 << 20);
  await screenshot(page, 'container-terminal');
});

test('pause and resume from the toolbar: the library follows, the terminal waits and goes on', async () => {
  await item('e2e-shell').click();
  await toolbar('Pause').click();
  await waitForState('e2e-shell', 'paused');
  assert.equal(await toolbar('Resume').isEnabled(), true);
  assert.equal(await toolbar('Start').isEnabled(), false);
  // Typed while frozen: nothing runs until the container resumes.
  await typeInTerminal(page, 'echo after-$((6*7))');
  await page.waitForTimeout(500);
  assert.doesNotMatch(await page.locator('.xterm-rows').innerText(), /^after-42$/m);
  await screenshot(page, 'container-paused');

  await toolbar('Resume').click();
  await waitForState('e2e-shell', 'running');
  await waitForTerminal(page, /^after-42$/m);
  await screenshot(page, 'container-resumed');
});

test('snapshots: take one, change a file, restore through the wizard, the change is gone', async () => {
  await typeInTerminal(page, 'echo first > /marker; cat /marker');
  await waitForTerminal(page, /^first$/m);

  await toolbar('Take Snapshot').click();
  const take = page.getByRole('dialog', { name: /Take Snapshot/ });
  await take.getByRole('button', { name: 'Take snapshot' }).click();
  await take.waitFor({ state: 'detached', timeout: 30_000 });
  const tree = page.getByRole('tree');
  await tree.getByRole('treeitem').filter({ has: page.locator('.snapshot-id') }).first().waitFor();

  await page.getByRole('tab', { name: 'Terminal' }).click();
  await typeInTerminal(page, 'echo second > /marker; cat /marker');
  await waitForTerminal(page, /^second$/m);

  await toolbar('Stop').click();
  await waitForState('e2e-shell', 'exited');
  await toolbar('Restore Snapshot').click();
  const restore = page.getByRole('dialog', { name: /Restore Snapshot/ });
  await restore.getByRole('radio').first().check();
  await restore.getByRole('button', { name: 'Next' }).click();
  await restore.getByRole('checkbox', { name: /snapshot of the current state first/ }).uncheck();
  await restore.getByRole('checkbox', { name: /Start the container after restoring/ }).check();
  await restore.getByRole('button', { name: 'Next' }).click();
  assert.match(await restore.locator('dl.summary').innerText(), /discarded/);
  await screenshot(page, 'restore-snapshot-wizard');
  await restore.getByRole('button', { name: 'Restore' }).click();
  await restore.waitFor({ state: 'detached', timeout: 30_000 });

  await waitForState('e2e-shell', 'running');
  await page.getByRole('tab', { name: 'Terminal' }).click();
  await typeInTerminal(page, 'cat /marker');
  await waitForTerminal(page, /^first$/m);
  assert.doesNotMatch(await page.locator('.xterm-rows').innerText(), /^second$/m);
  await page.getByRole('tab', { name: 'Snapshots' }).click();
  await screenshot(page, 'container-snapshots');
});
