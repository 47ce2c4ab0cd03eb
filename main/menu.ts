// The native menus. App actions are sent to the window as app:command events (the renderer
// decides what they mean for the selected machine); editing, view and window items use
// Electron's roles.
import { Menu, type MenuItemConstructorOptions } from 'electron';
import type { AppCommand } from '../engine/api/channels.ts';

export function installMenu(send: (command: AppCommand) => void): void {
  const mac = process.platform === 'darwin';
  const item = (label: string, command: AppCommand, accelerator?: string): MenuItemConstructorOptions => ({ label, accelerator, click: () => send(command) });
  const template: MenuItemConstructorOptions[] = [
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
      submenu: [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }, { role: 'toggleDevTools' }],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
