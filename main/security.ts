// What the app's web contents may do (Electron's security checklist): stay on hangar://app (no
// navigation, frame navigation or redirect elsewhere, no new windows, no <webview>), and use no
// permission but the clipboard, asked and checked alike, and only by the app's own page. No
// Electron import here: app.ts hands in the objects, the unit tests hand in fakes of them.
import { APP_ORIGIN } from './ipc.ts';

/** The clipboard: copy and paste in the consoles (xterm.js). */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-read', 'clipboard-sanitized-write']);

/** Whether a URL is the app's own page (hangar://app/...), and nothing that merely starts like it. */
export function isAppUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}` === APP_ORIGIN && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

/** A navigation-like event: Electron's details object carries the target URL (the deprecated second argument too). */
interface NavigationEvent { url?: string; preventDefault(): void }

/** The part of a WebContents the guards use. */
export interface GuardedContents {
  on(event: 'will-navigate' | 'will-frame-navigate' | 'will-redirect', listener: (event: NavigationEvent, url?: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

/** Keeps a web contents on the app: anything that would load another URL into it, or open one, is refused. */
export function guardContents(contents: GuardedContents): void {
  const stayOnApp = (event: NavigationEvent, url?: string) => {
    if (!isAppUrl(event.url ?? url)) event.preventDefault();
  };
  contents.on('will-navigate', stayOnApp);
  contents.on('will-frame-navigate', stayOnApp);
  contents.on('will-redirect', stayOnApp);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** The part of a Session the permission handlers go on. */
export interface GuardedSession {
  setPermissionRequestHandler(handler: (contents: { getURL(): string }, permission: string, grant: (granted: boolean) => void, details: { requestingUrl?: string }) => void): void;
  setPermissionCheckHandler(handler: (contents: { getURL(): string } | null, permission: string, requestingOrigin: string) => boolean): void;
}

/** Whether the app's page may have this permission: only those in ALLOWED_PERMISSIONS, only for hangar://app. */
export function permissionAllowed(permission: string, requester: string | undefined): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requester);
}

/**
 * Requests (a page asks) and checks (Chromium asks whether a permission is held, without a
 * prompt) answer alike: most web APIs check first, and an unanswered check is granted.
 */
export function guardPermissions(session: GuardedSession): void {
  session.setPermissionRequestHandler((contents, permission, grant, details) =>
    grant(permissionAllowed(permission, details.requestingUrl ?? contents.getURL())));
  session.setPermissionCheckHandler((contents, permission, requestingOrigin) =>
    permissionAllowed(permission, requestingOrigin) && (contents === null || isAppUrl(contents.getURL())));
}

/** DevTools only in a development run (not packaged), or when HANGAR_DEVTOOLS=1 asks for them. */
export function devToolsAllowed(packaged: boolean, env: Record<string, string | undefined>): boolean {
  return !packaged || env.HANGAR_DEVTOOLS === '1';
}
