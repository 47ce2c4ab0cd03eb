// The native menus. App actions are sent to the window as app:command events (the renderer
// decides what they mean for the selected machine); editing, view and window items use
// Electron's roles. DevTools are in the View menu only where they are allowed (security.ts:
// not in a packaged app). No Electron import here: app.ts builds the menu from the template.
import type { MenuItemConstructorOptions } from 'electron';
import type { AppCommand } from '../engine/api/channels.ts';

export function menuTemplate(send: (command: AppCommand) => void, { mac, devTools }: { mac: boolean; devTools: boolean }): MenuItemConstructorOptions[] {
  const item = (label: string, command: AppCommand, accelerator?: string): MenuItemConstructorOptions => ({ label, accelerator, click: () => send(command) });
  return [
    ...(mac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        item('New VM…', 'new-vm', 'CmdOrCtrl+N'),
        item('New Container…', 'new-container', 'CmdOrCtrl+Shift+N'),
        { type: 'separator' },
        item('Preferences…', 'preferences', 'CmdOrCtrl+,'),
        { type: 'separator' },
        mac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&Machine',
      submenu: [
        item('Start', 'start', 'CmdOrCtrl+Shift+S'),
        item('Pause / Resume', 'pause-resume', 'CmdOrCtrl+P'),
        item('Stop', 'stop', 'CmdOrCtrl+Shift+Q'),
        { type: 'separator' },
        item('Take Snapshot…', 'take-snapshot', 'CmdOrCtrl+T'),
        item('Restore Snapshot…', 'restore-snapshot', 'CmdOrCtrl+Shift+T'),
        { type: 'separator' },
        item('Delete…', 'delete', 'CmdOrCtrl+Delete'),
      ],
    },
    {
      label: '&View',
      submenu: [
        { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' },
        ...(devTools ? [{ role: 'toggleDevTools' as const }] : []),
      ],
    },
    { role: 'windowMenu' },
  ];
}
