// The renderer's one door to the engine. In the desktop app the preload has put the API on
// window.hangar (one object per domain); in a browser the page came from `hangar serve`, with
// the token after the # of its URL. The rest of the renderer sees only an ApiClient.
import type { ApiEvent, Result } from '../../engine/api/channels.ts';
import { ApiClient, type Transport } from '../../engine/api/client.ts';
import { connectWebSocket } from '../../engine/api/websocket-client.ts';

/** What the preload exposes: `domain.verb(args)` for every channel, and the event stream. */
export type PreloadApi = Record<string, Record<string, (args: unknown) => Promise<Result<unknown>>>> & {
  events: { subscribe(listener: (event: ApiEvent) => void): () => void };
};

declare global {
  interface Window {
    hangar?: PreloadApi;
  }
}

function ipcTransport(api: PreloadApi): Transport {
  return {
    call: (channel, args) => {
      const [domain, verb] = channel.split(':') as [string, string];
      const method = api[domain]?.[verb];
      return method ? method(args) : Promise.resolve({ ok: false, error: { code: 'unsupported', message: `unknown channel "${channel}"` } });
    },
    subscribe: (listener) => api.events.subscribe(listener),
  };
}

export async function connect(onLost: (reason: string) => void): Promise<{ client: ApiClient; kind: 'ipc' | 'websocket' }> {
  if (window.hangar) return { client: new ApiClient(ipcTransport(window.hangar)), kind: 'ipc' };
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) throw new Error('This page needs the address `hangar serve` printed (it ends with #token=…).');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api?token=${encodeURIComponent(token)}`;
  return { client: new ApiClient(await connectWebSocket(url, onLost)), kind: 'websocket' };
}
