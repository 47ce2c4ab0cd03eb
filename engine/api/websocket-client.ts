// The WebSocket transport's client side, on the standard WebSocket (browsers; Node 22+), or on a
// constructor of the same shape given by the caller (the `ws` package's, in Node 20).
// Calls made while the socket is down fail at once with an error value; the owner decides
// whether to reconnect (onClose).
import type { ApiEvent, Result } from './channels.ts';
import type { Transport } from './client.ts';
import { decode, encode, type ServerMessage } from './wire.ts';

export interface WebSocketTransport extends Transport {
  close(): void;
}

/** Opens the socket; resolves once it is open, rejects if it cannot be. */
export function connectWebSocket(url: string, onClose: (reason: string) => void, Socket: typeof WebSocket = globalThis.WebSocket): Promise<WebSocketTransport> {
  const socket = new Socket(url);
  const pending = new Map<number, (result: Result<unknown>) => void>();
  const listeners = new Set<(event: ApiEvent) => void>();
  let nextId = 1;

  const failAll = (message: string) => {
    for (const resolve of pending.values()) resolve({ ok: false, error: { code: 'failed', message } });
    pending.clear();
  };

  socket.addEventListener('message', (e) => {
    const message = decode(String(e.data)) as ServerMessage;
    if (message.type === 'event') {
      for (const listener of listeners) listener(message.event);
    } else {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    }
  });

  return new Promise((resolve, reject) => {
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
      resolve({
        call(channel, args) {
          if (socket.readyState !== Socket.OPEN) return Promise.resolve({ ok: false, error: { code: 'failed', message: 'not connected to the engine' } });
          const id = nextId++;
          return new Promise((done) => {
            pending.set(id, done);
            socket.send(encode({ type: 'call', id, channel, args }));
          });
        },
        subscribe(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        close: () => socket.close(),
      });
    });
    socket.addEventListener('close', (e) => {
      const reason = e.reason || `connection to the engine closed (${e.code})`;
      failAll(reason);
      if (opened) onClose(reason);
      else reject(new Error(`cannot connect to the engine at ${url.replace(/token=[^&]*/, 'token=…')}`));
    });
  });
}
