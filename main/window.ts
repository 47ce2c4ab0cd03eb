// The main window: remembered bounds and the locked-down web preferences (what its page may
// do besides: security.ts, applied to every web contents by app.ts).
import { BrowserWindow, screen } from 'electron';
import Store from 'electron-store';
import { fileURLToPath } from 'node:url';
import { APP_URL } from './protocol.ts';

const PRELOAD = fileURLToPath(new URL('./dist/preload.cjs', import.meta.url));
const ICON = fileURLToPath(new URL('../assets/icons/512x512.png', import.meta.url));

interface Bounds { x?: number; y?: number; width: number; height: number; maximized?: boolean }
const DEFAULT_BOUNDS: Bounds = { width: 1280, height: 820 };

const state = new Store<{ bounds: Bounds }>({ name: 'window-state', defaults: { bounds: DEFAULT_BOUNDS } });

/** Saved bounds, unless the display they were on is gone. */
function savedBounds(): Bounds {
  const bounds = state.get('bounds');
  if (bounds.x === undefined || bounds.y === undefined) return bounds;
  const visible = screen.getAllDisplays().some(({ workArea: a }) =>
    bounds.x! < a.x + a.width && bounds.x! + bounds.width > a.x && bounds.y! < a.y + a.height && bounds.y! + bounds.height > a.y);
  return visible ? bounds : { width: bounds.width, height: bounds.height };
}

/** devTools: whether DevTools may open at all (security.ts devToolsAllowed). */
export function createMainWindow({ devTools }: { devTools: boolean }): BrowserWindow {
  const bounds = savedBounds();
  const window = new BrowserWindow({
    ...bounds,
    minWidth: 900,
    minHeight: 560,
    title: 'Hangar',
    icon: ICON,
    show: false,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      spellcheck: false,
      devTools,
    },
  });
  if (bounds.maximized) window.maximize();
  window.once('ready-to-show', () => window.show());

  const remember = () => {
    if (window.isDestroyed() || window.isMinimized()) return;
    state.set('bounds', { ...window.getNormalBounds(), maximized: window.isMaximized() });
  };
  window.on('resized', remember);
  window.on('moved', remember);
  window.on('close', remember);

  void window.loadURL(APP_URL);
  return window;
}
