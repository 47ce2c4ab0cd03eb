// The IPC handler table, generated from the API's channel map: one handler per channel, each
// passing the call to the API session of the window that sent it. Only the app's own page may
// call (its frame's URL is checked), and the service itself refuses unknown channels and
// malformed arguments with error values. No Electron import here: main.ts hands in ipcMain.
import { channelNames, type Result } from '../engine/api/channels.ts';
import type { ApiSession } from '../engine/api/service.ts';

/** Where the app's own page is loaded from (see protocol.ts). */
export const APP_ORIGIN = 'hangar://app';
/** Events from the engine (and menu commands) travel to the renderer on this channel. */
export const EVENT_CHANNEL = 'hangar:event';

/** The part of an IpcMainInvokeEvent the table looks at. */
export interface InvokeEvent {
  sender: { id: number };
  senderFrame?: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEvent, args: unknown) => Promise<Result<unknown>>): void;
  removeHandler(channel: string): void;
}

export type IpcHandler = (event: InvokeEvent, args: unknown) => Promise<Result<unknown>>;

export function isTrustedSender(event: InvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return url === APP_ORIGIN || url.startsWith(`${APP_ORIGIN}/`);
}

/**
 * The handlers, by channel. `sessionOf` finds the API session of the sending window (one per
 * webContents), or undefined for a sender that has none.
 */
export function ipcHandlerTable(sessionOf: (senderId: number) => ApiSession | undefined): Map<string, IpcHandler> {
  const table = new Map<string, IpcHandler>();
  for (const channel of channelNames) {
    table.set(channel, async (event, args) => {
      const session = isTrustedSender(event) ? sessionOf(event.sender.id) : undefined;
      if (!session) return { ok: false, error: { code: 'failed', message: `${channel}: refused: the caller is not a Hangar window` } };
      return session.call(channel, args);
    });
  }
  return table;
}

/** Registers the table with ipcMain; returns the function that removes it again. */
export function registerIpcHandlers(ipcMain: IpcMainLike, table: Map<string, IpcHandler>): () => void {
  for (const [channel, handler] of table) ipcMain.handle(channel, handler);
  return () => {
    for (const channel of table.keys()) ipcMain.removeHandler(channel);
  };
}
