// The VM half of the app in a real browser against a real engine: `hangar serve` on a scratch
// library (the Debian guest comes from the download cache, fetched there the first time). A VM
// is made through the New VM wizard with the keyboard alone, boots to the shell on its serial
// console, answers a command typed there; a snapshot with RAM is taken through its wizard, a
// marker file written, the snapshot restored through the Restore wizard (keeping the current
// state as a snapshot first), and the marker is gone: the guest runs on from the snapshot.
// Deleting it while it runs is refused by the engine, shown in the Delete wizard.
// Screenshots of the key steps go to test-results/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  buildRenderer, libraryItem, openBrowser, screenshot, startServe, toolbarButton, typeInTerminal, waitForState as waitForStateIn, waitForTerminal, type Browser, type Served,
} from './support.ts';

// The guest boots in 30-90 s on a loaded machine; saving and restoring 384 MiB take seconds more.
const BOOT_TIMEOUT_MS = 240_000;
const LONG_STEP_MS = 180_000;
/** busybox ash's prompt as xterm shows it: "~ #" at the end of a row. */
const PROMPT = /^[~/][^\n]*#\s*$/m;

let scratch: string;
let served: Served;
let browser: Browser;
let page: Page;

before(async () => {
  buildRenderer();
  scratch = mkdtempSync(join(tmpdir(), 'hangar-e2e-vm-'));
  served = await startServe(scratch);
  browser = await openBrowser(served.url);
  page = browser.page;
  // Loaded: the engine said VMs work here (New VM is enabled once it has).
  await page.locator('.toolbar button:not([disabled])', { hasText: 'New VM' }).waitFor();
});

after(async () => {
  await browser?.close();
  await served?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const item = (name: string) => libraryItem(page, name);
const toolbar = (label: string) => toolbarButton(page, label);
const waitForState = (name: string, state: string, timeout = 60_000) => waitForStateIn(page, name, state, { timeout });

/** Waits for the terminal to show the pattern; the failure leaves a screenshot. */
async function expectTerminal(pattern: RegExp, timeoutMs: number, shot: string): Promise<string> {
  try {
    return await waitForTerminal(page, pattern, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n(the screen: ${await screenshot(page, shot)})`);
  }
}

/**
 * Types a command until its output shows: the console may be reconnecting to a restored
 * machine when the first keys are typed.
 */
async function runInConsole(line: string, pattern: RegExp, timeoutMs: number, shot: string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await typeInTerminal(page, line);
    try {
      return await waitForTerminal(page, pattern, 10_000);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${(err as Error).message}\n(the screen: ${await screenshot(page, shot)})`);
    }
  }
}

test('New VM wizard, by keyboard alone: a Debian VM is created, boots to its shell, and its console answers', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async () => {
  await page.getByRole('button', { name: 'New VM' }).focus();
  await page.keyboard.press('Enter');
  const wizard = page.getByRole('dialog', { name: 'New VM' });
  await wizard.waitFor();

  // Name and preset: the name field has focus; the Debian preset is the one chosen.
  await wizard.getByRole('heading', { name: 'Name and preset' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.closest('label')?.textContent), 'Name');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('e2e-debian');
  assert.equal(await wizard.getByRole('radio', { name: /^Debian trixie/ }).isChecked(), true);
  await page.keyboard.press('Enter');

  // Resources: vCPUs, memory (a value out of range is refused in place), disk size.
  await wizard.getByRole('heading', { name: 'Resources' }).waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('1');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('8');
  await page.keyboard.press('Enter');
  await wizard.getByRole('alert').filter({ hasText: 'Memory: must be a whole number from 16 MiB' }).waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('384');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('1');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.checked), true, 'Start the VM when it is created');
  await page.keyboard.press('Enter');

  await wizard.getByRole('heading', { name: 'Summary' }).waitFor();
  const summary = await wizard.locator('dl.summary').innerText();
  assert.match(summary, /e2e-debian/);
  assert.match(summary, /Debian/);
  assert.match(summary, /vCPUs\s+1/);
  assert.match(summary, /384 MiB/);
  assert.match(summary, /1 GiB, empty/);
  assert.match(summary, /Then\s+start it/);
  await screenshot(page, 'new-vm-wizard-summary');
  // Back goes back with the values kept, Next returns.
  await wizard.getByRole('button', { name: 'Back' }).click();
  assert.equal(await wizard.getByLabel('Memory (MiB)').inputValue(), '384');
  await page.keyboard.press('Enter');
  await wizard.getByRole('heading', { name: 'Summary' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Create and start');
  await page.keyboard.press('Enter');

  await wizard.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await waitForState('e2e-debian', 'running', LONG_STEP_MS);
  assert.match(await item('e2e-debian').innerText(), /1 vCPU · 384 MiB/);
  await page.getByRole('tab', { name: 'Console', selected: true }).waitFor();
  await expectTerminal(PROMPT, BOOT_TIMEOUT_MS, 'failed-vm-boot');
  await runInConsole('echo "$((6*7)) from $(uname -m)"', /^42 from riscv64$/m, 60_000, 'failed-vm-console');
  // The library shows the running VM's resource use, measured by the engine (vms:usage).
  await item('e2e-debian').getByText(/CPU \d+(\.\d)?% · 384 MiB/).waitFor({ timeout: 30_000 });
  await screenshot(page, 'vm-console');
});

test('Take Snapshot wizard: a snapshot with RAM appears in the tree, the current state under it', { timeout: LONG_STEP_MS + 60_000 }, async () => {
  await toolbar('Take Snapshot').click();
  const wizard = page.getByRole('dialog', { name: /Take Snapshot/ });
  await wizard.waitFor();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('booted');
  await wizard.getByLabel('Description (optional)').fill('at the shell prompt');
  assert.equal(await wizard.getByRole('checkbox', { name: /Include the machine's memory/ }).isChecked(), true);
  await wizard.getByRole('button', { name: 'Next' }).click();
  assert.match(await wizard.locator('dl.summary').innerText(), /the disks, and up to 384 MiB of memory/);
  await wizard.getByRole('button', { name: 'Take snapshot' }).click();
  await wizard.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await waitForState('e2e-debian', 'running');

  await page.getByRole('tab', { name: 'Snapshots' }).click();
  const tree = page.getByRole('tree', { name: 'Snapshots of e2e-debian' });
  const booted = tree.getByRole('treeitem').filter({ has: page.locator('.snapshot-name', { hasText: 'booted' }) });
  await booted.waitFor();
  assert.match(await booted.locator('.node').first().innerText(), /RAM/);
  // The current state grew from it: it is the snapshot's child.
  await booted.getByRole('treeitem', { selected: true }).waitFor();
  await screenshot(page, 'vm-snapshots');
});

test('Restore Snapshot wizard: the marker written after the snapshot is gone, and the state it replaced was kept', { timeout: LONG_STEP_MS * 2 }, async () => {
  await page.getByRole('tab', { name: 'Console' }).click();
  await expectTerminal(PROMPT, 30_000, 'failed-vm-console-back');
  await runInConsole('touch /tmp/marker; ls /tmp/marker', /^\/tmp\/marker$/m, 60_000, 'failed-vm-marker');

  await toolbar('Restore Snapshot').click();
  const wizard = page.getByRole('dialog', { name: /Restore Snapshot/ });
  await wizard.waitFor();
  assert.equal(await wizard.getByRole('radio', { name: /booted/ }).isChecked(), true);
  await page.keyboard.press('Enter');
  await wizard.getByRole('heading', { name: 'Current state' }).waitFor();
  await wizard.getByRole('checkbox', { name: /Save the current state first/ }).check();
  await wizard.getByLabel('Name of that snapshot').fill('with-marker');
  await wizard.getByRole('button', { name: 'Next' }).click();
  const summary = await wizard.locator('dl.summary').innerText();
  assert.match(summary, /booted/);
  assert.match(summary, /kept as the snapshot "with-marker"/);
  assert.match(summary, /the machine goes on from the moment the snapshot was taken/);
  await screenshot(page, 'vm-restore-wizard');
  await wizard.getByRole('button', { name: 'Restore' }).click();
  await wizard.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await waitForState('e2e-debian', 'running', LONG_STEP_MS);

  // The console goes on with the restored machine, where the app marked it: the file was
  // never made there.
  await expectTerminal(/── snapshot "booted" restored ──/, 10_000, 'failed-vm-restore-notice');
  const text = await runInConsole('ls /tmp/marker', /ls: \/tmp\/marker: No such file or directory/, 90_000, 'failed-vm-restored');
  const restored = text.slice(text.lastIndexOf('snapshot "booted" restored'));
  assert.match(restored, /^(~ # )?ls \/tmp\/marker$/m);
  assert.doesNotMatch(restored, /^\/tmp\/marker$/m);
  await screenshot(page, 'vm-restored-console');

  await page.getByRole('tab', { name: 'Snapshots' }).click();
  const tree = page.getByRole('tree', { name: 'Snapshots of e2e-debian' });
  const booted = tree.getByRole('treeitem').filter({ has: page.locator('.snapshot-name', { hasText: 'booted' }) });
  // Both are children of "booted": the kept state and the current one, which starts from it again.
  await booted.getByRole('treeitem').filter({ has: page.locator('.snapshot-name', { hasText: 'with-marker' }) }).waitFor();
  await booted.getByRole('treeitem', { selected: true }).waitFor();
  await screenshot(page, 'vm-snapshots-after-restore');
});

test('Suspend and Resume wizards: the VM is saved to disk, then goes on where it was', { timeout: LONG_STEP_MS * 2 }, async () => {
  await page.getByRole('tab', { name: 'Console' }).click();
  await runInConsole('echo before-save > /tmp/kept; cat /tmp/kept', /^before-save$/m, 60_000, 'failed-vm-before-save');
  await toolbar('Save State').click();
  const save = page.getByRole('dialog', { name: 'Save the state of e2e-debian' });
  await save.getByRole('button', { name: 'Save state' }).click();
  await save.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await waitForState('e2e-debian', 'saved');
  await page.getByText('The VM is saved (suspended to disk).').waitFor();
  assert.equal(await toolbar('Pause').isEnabled(), false);
  await screenshot(page, 'vm-saved');

  await toolbar('Start').click();
  const resume = page.getByRole('dialog', { name: 'Resume e2e-debian' });
  assert.equal(await resume.getByRole('radio', { name: /^Resume/ }).isChecked(), true);
  await page.keyboard.press('Enter');
  await resume.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await waitForState('e2e-debian', 'running', LONG_STEP_MS);
  // The shell in the resumed machine still has the file the saved one wrote (in its RAM-backed /tmp).
  await runInConsole('cat /tmp/kept; echo resumed-$((1+1))', /^before-save\nresumed-2$/m, 90_000, 'failed-vm-resumed');
});

test('Delete of a running VM is refused in place unless stopping it is asked for', { timeout: LONG_STEP_MS }, async () => {
  await waitForState('e2e-debian', 'running');
  await toolbar('Delete').click();
  const remove = page.getByRole('dialog', { name: 'Delete e2e-debian' });
  const stopFirst = remove.getByRole('checkbox', { name: /only a machine that does not run can be deleted: stop it first/ });
  assert.equal(await stopFirst.isChecked(), false);
  await remove.getByRole('button', { name: 'Delete', exact: true }).click();
  // The engine's own words: rm refuses a running VM, and the wizard stopped nothing behind it.
  await remove.getByRole('alert').filter({ hasText: /is running \(process \d+\); stop it first/ }).waitFor({ timeout: 30_000 });
  await screenshot(page, 'vm-delete-running-refused');
  await page.keyboard.press('Escape');
  await remove.waitFor({ state: 'detached' });
  await waitForState('e2e-debian', 'running');
});

test('Clone wizard (linked, from a snapshot); a snapshot a clone needs is refused in place; Delete wizard', { timeout: LONG_STEP_MS * 2 }, async () => {
  await toolbar('Force Stop').click();
  await waitForState('e2e-debian', 'powered-off');

  await toolbar('Clone').click();
  const clone = page.getByRole('dialog', { name: 'Clone e2e-debian' });
  assert.equal(await clone.getByLabel('Name of the clone').inputValue(), 'e2e-debian-clone');
  await page.keyboard.press('Enter');
  await clone.getByRole('radio', { name: /^Linked clone/ }).check();
  await page.keyboard.press('Enter');
  await clone.getByRole('radio', { name: /^booted/ }).check();
  await page.keyboard.press('Enter');
  assert.match(await clone.locator('dl.summary').innerText(), /snapshot booted[\s\S]*e2e-debian-clone — linked clone, powered off/);
  await page.keyboard.press('Enter');
  await clone.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await waitForState('e2e-debian-clone', 'powered-off');
  assert.equal(await item('e2e-debian-clone').getAttribute('aria-selected'), 'true');
  await page.getByRole('tab', { name: 'Details' }).click();
  await page.locator('dd', { hasText: 'e2e-debian, snapshot booted' }).waitFor();
  await screenshot(page, 'vm-clone');

  // The clone's disks sit on "booted": deleting it is refused, and the engine's words shown in the wizard.
  await item('e2e-debian').click();
  await page.getByRole('tab', { name: 'Snapshots' }).click();
  await page.getByRole('button', { name: 'Delete booted…' }).click();
  const deleteSnapshot = page.getByRole('dialog', { name: 'Delete Snapshot booted' });
  await deleteSnapshot.getByText(/Linked clones \(e2e-debian-clone\) use its disks/).waitFor();
  await deleteSnapshot.getByRole('button', { name: 'Delete snapshot' }).click();
  await deleteSnapshot.getByRole('alert').waitFor({ timeout: LONG_STEP_MS });
  assert.match(await deleteSnapshot.getByRole('alert').innerText(), /e2e-debian-clone/);
  await screenshot(page, 'vm-delete-snapshot-refused');
  await page.keyboard.press('Escape');
  await deleteSnapshot.waitFor({ state: 'detached' });

  await item('e2e-debian-clone').click();
  await toolbar('Delete').click();
  const remove = page.getByRole('dialog', { name: 'Delete e2e-debian-clone' });
  await remove.getByText(/Removed: the VM's folder/).waitFor();
  await remove.getByRole('button', { name: 'Delete', exact: true }).click();
  await remove.waitFor({ state: 'detached', timeout: LONG_STEP_MS });
  await item('e2e-debian-clone').waitFor({ state: 'detached' });
});
