// What the UI's end-to-end tests share: the renderer built from the current sources, a real
// `hangar serve` on a scratch library, and Debian's Chromium driven by playwright-core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HANGAR = join(REPO, 'engine/cli/hangar.mjs');
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO, 'test-results/e2e');

/** Builds renderer/dist from the sources as they are now. */
export function buildRenderer(): void {
  const result = spawnSync(process.execPath, [join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'error'], { cwd: REPO, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`building the renderer failed:\n${result.stdout}${result.stderr}`);
}

export interface Served {
  url: string;
  home: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** Starts `hangar serve` with its own library and preferences; resolves with the printed URL. */
export async function startServe(scratch: string): Promise<Served> {
  const home = join(scratch, 'home');
  const env = { ...process.env, HANGAR_HOME: home, XDG_CONFIG_HOME: join(scratch, 'config') };
  const child: ChildProcess = spawn(process.execPath, [HANGAR, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hangar serve printed no URL in 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /serving on (http:\/\/\S+)/.exec(output);
      if (match) { clearTimeout(timer); resolve(match[1]!); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`hangar serve exited (${code}):\n${output}`)); });
  });
  return {
    url, home, env,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Browser {
  page: Page;
  close(): Promise<void>;
}

export async function openBrowser(url: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'hangar-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(url);
  return {
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      if (problems.length) throw new Error(`the page raised errors:\n${problems.join('\n')}`);
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** A machine in the library list, by its name. */
export function libraryItem(page: Page, name: string): Locator {
  return page.getByRole('option', { name: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`) });
}

export function toolbarButton(page: Page, label: string): Locator {
  return page.getByRole('toolbar').getByRole('button', { name: label, exact: true });
}

/** Waits for a library item to show a state; a failure leaves a screenshot and, when given, what the engine says. */
export async function waitForState(page: Page, name: string, state: string, options: { timeout?: number; engine?: () => Promise<unknown> } = {}): Promise<void> {
  try {
    await libraryItem(page, name).locator(`.state-${state}`).waitFor({ timeout: options.timeout ?? 20_000 });
  } catch (err) {
    const shot = await screenshot(page, `failed-waiting-for-${name}-${state}`);
    const engine = options.engine ? `; the engine: ${JSON.stringify(await options.engine())}` : '';
    throw new Error(`${name} did not become ${state} (the screen: ${shot}${engine})`, { cause: err });
  }
}

/** The text on the visible terminal's screen. */
export function terminalText(page: Page): Promise<string> {
  return page.locator('.xterm-rows').innerText();
}

/** Types a line into the terminal (as keys into xterm's input). */
export async function typeInTerminal(page: Page, line: string): Promise<void> {
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

/** Waits until the terminal shows the pattern. */
export async function waitForTerminal(page: Page, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await terminalText(page).catch(() => '');
    if (pattern.test(text)) return text;
    await page.waitForTimeout(100);
  }
  throw new Error(`the terminal did not show ${pattern}; it shows:\n${text}`);
}
