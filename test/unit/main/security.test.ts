// The shell's guards, on stand-ins for Electron's WebContents and Session that behave as
// Electron's do (listeners by event name; an event's default happens unless prevented): the page
// stays on hangar://app whatever tries to navigate, frame-navigate or redirect it; no window or
// webview opens; the clipboard is the only permission, and only for the app's page; DevTools
// appear in the menu of a development run only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppCommand } from '../../../engine/api/channels.ts';
import { menuTemplate } from '../../../main/menu.ts';
import { devToolsAllowed, guardContents, guardPermissions, isAppUrl, type GuardedContents, type GuardedSession } from '../../../main/security.ts';

/** A WebContents stand-in: emit() returns whether the default action (the navigation) happens. */
function fakeContents(url = 'hangar://app/index.html') {
  const listeners = new Map<string, ((...args: any[]) => void)[]>();
  let openHandler: ((details: { url: string }) => { action: string }) | undefined;
  const contents = {
    on(event: string, listener: (...args: any[]) => void) { listeners.set(event, [...(listeners.get(event) ?? []), listener]); return contents; },
    setWindowOpenHandler(handler: typeof openHandler) { openHandler = handler; },
    getURL: () => url,
  };
  return {
    contents: contents as unknown as GuardedContents,
    /** Electron's details-object form, with the deprecated url argument after it as Electron passes both. */
    emit(event: string, target: string, legacy = true): boolean {
      let prevented = false;
      const details = { url: target, isMainFrame: true, preventDefault: () => { prevented = true; } };
      for (const l of listeners.get(event) ?? []) legacy ? l(details, target) : l(details);
      return !prevented;
    },
    opens: (target: string) => openHandler?.({ url: target }).action !== 'deny',
    listened: () => [...listeners.keys()].sort(),
  };
}

const OUTSIDE = [
  'https://example.org/', 'http://127.0.0.1:8080/', 'file:///etc/passwd', 'hangar://app.evil/index.html', 'hangar://evil/',
  'hangar://user:pw@app/index.html', 'javascript:alert(1)', 'data:text/html,<script>1</script>', 'about:blank', 'chrome://settings', '',
];

test('navigations, frame navigations and redirects away from hangar://app are refused; within it they go', () => {
  const page = fakeContents();
  guardContents(page.contents);
  assert.deepEqual(page.listened(), ['will-attach-webview', 'will-frame-navigate', 'will-navigate', 'will-redirect']);
  for (const event of ['will-navigate', 'will-frame-navigate', 'will-redirect']) {
    for (const target of OUTSIDE) assert.equal(page.emit(event, target), false, `${event} ${target}`);
    // Electron passes will-frame-navigate the details object alone.
    assert.equal(page.emit(event, 'https://example.org/', false), false, event);
    for (const target of ['hangar://app/index.html', 'hangar://app/', 'hangar://app/assets/index-1.js#x']) assert.equal(page.emit(event, target), true, `${event} ${target}`);
  }
});

test('no new window opens (not even the app\'s own page), and no webview attaches', () => {
  const page = fakeContents();
  guardContents(page.contents);
  for (const target of [...OUTSIDE, 'hangar://app/index.html']) assert.equal(page.opens(target), false, target);
  assert.equal(page.emit('will-attach-webview', 'hangar://app/index.html'), false);
});

test('an unguarded stand-in lets everything through (the guards are what refuses)', () => {
  const page = fakeContents();
  assert.equal(page.emit('will-navigate', 'https://example.org/'), true);
  assert.equal(page.opens('https://example.org/'), true);
});

function fakeSession() {
  let request: Parameters<GuardedSession['setPermissionRequestHandler']>[0] | undefined;
  let check: Parameters<GuardedSession['setPermissionCheckHandler']>[0] | undefined;
  const session: GuardedSession = { setPermissionRequestHandler: (h) => { request = h; }, setPermissionCheckHandler: (h) => { check = h; } };
  return {
    session,
    /** Unhandled, Electron grants both requests and checks. */
    asks: (permission: string, pageUrl: string, requestingUrl = pageUrl) => {
      let granted = true;
      request?.({ getURL: () => pageUrl }, permission, (g) => { granted = g; }, { requestingUrl });
      return granted;
    },
    checks: (permission: string, pageUrl: string | null, origin: string) => check?.(pageUrl === null ? null : { getURL: () => pageUrl }, permission, origin) ?? true,
  };
}

test('permissions: the clipboard for the app page only, asked or checked; everything else refused', () => {
  const s = fakeSession();
  assert.equal(s.asks('media', 'https://example.org/'), true, 'unguarded, Electron grants');
  guardPermissions(s.session);
  const app = 'hangar://app/index.html';
  for (const p of ['clipboard-read', 'clipboard-sanitized-write']) {
    assert.equal(s.asks(p, app), true, p);
    assert.equal(s.checks(p, app, 'hangar://app'), true, p);
    assert.equal(s.checks(p, null, 'hangar://app'), true, `${p} without contents`);
    assert.equal(s.asks(p, 'https://example.org/'), false, `${p} elsewhere`);
    assert.equal(s.asks(p, app, 'https://example.org/'), false, `${p} from a foreign frame`);
    assert.equal(s.checks(p, app, 'https://example.org'), false, `${p} checked by a foreign origin`);
    assert.equal(s.checks(p, 'https://example.org/', 'hangar://app'), false, `${p} in a foreign page`);
  }
  for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'fullscreen', 'hid', 'usb', 'serial', 'fileSystem', 'display-capture', 'pointerLock', 'unknown']) {
    assert.equal(s.asks(p, app), false, p);
    assert.equal(s.checks(p, app, 'hangar://app'), false, p);
  }
});

test('isAppUrl: the app origin exactly', () => {
  assert.equal(isAppUrl('hangar://app'), true);
  assert.equal(isAppUrl(undefined), false);
  for (const url of OUTSIDE) assert.equal(isAppUrl(url), false, url);
});

const roles = (items: ReturnType<typeof menuTemplate>): string[] =>
  items.flatMap((i) => [...(i.role ? [String(i.role)] : []), ...(Array.isArray(i.submenu) ? roles(i.submenu) : [])]);

test('DevTools: in the menu of a development run, not of a packaged app unless HANGAR_DEVTOOLS=1', () => {
  const send = (_: AppCommand) => {};
  assert.equal(devToolsAllowed(true, {}), false);
  assert.equal(devToolsAllowed(true, { HANGAR_DEVTOOLS: '1' }), true);
  assert.equal(devToolsAllowed(true, { HANGAR_DEVTOOLS: 'yes' }), false);
  assert.equal(devToolsAllowed(false, {}), true);
  for (const mac of [false, true]) {
    assert.equal(roles(menuTemplate(send, { mac, devTools: false })).includes('toggleDevTools'), false);
    assert.equal(roles(menuTemplate(send, { mac, devTools: true })).includes('toggleDevTools'), true);
  }
  // The app's own commands are there either way.
  const sent: AppCommand[] = [];
  const file = menuTemplate((c) => sent.push(c), { mac: false, devTools: false }).find((i) => i.label === '&File')!;
  (file.submenu as { label?: string; click?: () => void }[]).find((i) => i.label === 'New VM…')!.click!();
  assert.deepEqual(sent, ['new-vm']);
});
