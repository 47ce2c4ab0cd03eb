// The desktop app: one instance, one main window, the engine in this process behind the
// service API (the library's owner, or a relay to the engine that owns it: engine-access.ts),
// the API carried to the renderer over IPC, and a question on closing while machines run.
import { app, dialog, ipcMain, Menu, net, protocol, session, type BrowserWindow, type WebContents } from 'electron';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AppCommand, ApiEvent, ContainerInfo, VmListEntry } from '../engine/api/channels.ts';
import { createApiService, type ApiSession } from '../engine/api/index.ts';
import { defaultPreferences, libraryFolder } from '../engine/api/preferences-store.ts';
import { openEngine, type EngineAccess } from '../engine/daemon/engine-access.ts';
import { closeActions, closeOptions, closeQuestion, runningMachines, staysHeadless, type RunningMachine } from './close.ts';
import { EVENT_CHANNEL, ipcHandlerTable, registerIpcHandlers } from './ipc.ts';
import { menuTemplate } from './menu.ts';
import { ElectronPreferences } from './preferences.ts';
import { CONTENT_SECURITY_POLICY, rendererFile, SCHEME } from './protocol.ts';
import { devToolsAllowed, guardContents, guardPermissions } from './security.ts';
import { createMainWindow } from './window.ts';

const RENDERER = fileURLToPath(new URL('../renderer/dist', import.meta.url));
const DEV_TOOLS = devToolsAllowed(app.isPackaged, process.env);

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let mainWindow: BrowserWindow | undefined;
  const sessions = new Map<number, ApiSession>();
  const preferences = new ElectronPreferences(defaultPreferences());
  const home = libraryFolder(preferences.read());
  let engine: EngineAccess | undefined;

  const send = (contents: WebContents, event: ApiEvent) => {
    if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, event);
  };

  function openWindow(): void {
    const window = createMainWindow({ devTools: DEV_TOOLS });
    const contents = window.webContents;
    const id = contents.id;
    sessions.set(id, engine!.connect((event) => send(contents, event)));
    contents.once('destroyed', () => {
      sessions.get(id)?.close();
      sessions.delete(id);
    });
    window.on('close', (event) => void askBeforeClosing(window, event));
    window.once('closed', () => { if (mainWindow === window) mainWindow = undefined; });
    mainWindow = window;
    answered = false;
  }

  async function machinesRunningIn(api: ApiSession): Promise<RunningMachine[]> {
    const [vms, containers] = await Promise.all([api.call('vms:list', {}), api.call('containers:list', {})]);
    // VMs another engine runs go on there whatever this app does: only its own are asked about.
    const own = vms.ok && engine?.owns ? (vms.value as VmListEntry[]) : [];
    return runningMachines(own, containers.ok ? (containers.value as ContainerInfo[]) : []);
  }

  /** The window's close was answered (so the close goes through); keepAlive: VMs stay running headless. */
  let answered = false;
  let keepAlive = false;
  async function askBeforeClosing(window: BrowserWindow, event: Electron.Event): Promise<void> {
    if (answered) return;
    event.preventDefault();
    const api = sessions.get(window.webContents.id);
    const machines = api ? await machinesRunningIn(api) : [];
    if (machines.length && api) {
      const options = closeOptions(machines);
      const { response } = await dialog.showMessageBox(window, {
        type: 'question',
        buttons: options.map((o) => o.label),
        cancelId: options.length - 1,
        defaultId: 0,
        ...closeQuestion(machines),
      });
      const choice = options[response]!.choice;
      if (choice === 'cancel') return;
      for (const action of closeActions(choice, machines)) {
        const result = await api.call(action.channel, action.args);
        if (!result.ok) dialog.showErrorBox('Hangar', result.error.message);
      }
      keepAlive = staysHeadless(choice, machines);
    }
    answered = true;
    window.close();
  }

  // Every web contents, the window's and any other, is kept on the app from its creation on.
  app.on('web-contents-created', (_event, contents) => guardContents(contents));

  app.on('second-instance', () => {
    if (!engine) return; // still starting: its window is on the way
    if (!mainWindow) return openWindow();
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  app.whenReady().then(async () => {
    try {
      engine = await openEngine(home, createApiService({ home, preferences }));
    } catch (err) {
      dialog.showErrorBox('Hangar', `The engine for ${home} cannot start: ${(err as Error).message}`);
      app.exit(1);
      return;
    }
    guardPermissions(session.defaultSession);
    protocol.handle(SCHEME, async (request) => {
      const file = rendererFile(request.url, RENDERER);
      if (!file) return new Response('not found', { status: 404 });
      const response = await net.fetch(pathToFileURL(file.path).toString());
      return new Response(response.body, {
        status: response.status,
        headers: { 'Content-Type': file.type, 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' },
      });
    });
    registerIpcHandlers(ipcMain, ipcHandlerTable((id) => sessions.get(id)));
    const sendCommand = (command: AppCommand) => {
      if (mainWindow) send(mainWindow.webContents, { type: 'app:command', command });
    };
    Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(sendCommand, { mac: process.platform === 'darwin', devTools: DEV_TOOLS })));
    openWindow();
    app.on('activate', () => { if (!mainWindow) openWindow(); });
  });

  // Closing the window already asked what to do with running machines.
  app.on('window-all-closed', () => {
    if (!keepAlive && process.platform !== 'darwin') app.quit();
  });
  // VMs this process runs (kept running headless, then quit) are saved to disk first, and resume
  // on their next start; then the library is let go.
  let engineClosed = false;
  app.on('will-quit', (event) => {
    if (engineClosed || !engine) return;
    event.preventDefault();
    void engine.close().finally(() => {
      engineClosed = true;
      app.quit();
    });
  });
}
