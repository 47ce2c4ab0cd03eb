// What the preload puts on window.hangar: one object per API domain (images, containers,
// terminals, ...) whose methods are the domain's verbs, generated from the channel map, and
// `events.subscribe`. Nothing else: no ipcRenderer, no Node, no way to name another channel.
import { channelNames, domains, type ApiEvent, type Result } from '../../engine/api/channels.ts';
import { EVENT_CHANNEL } from '../ipc.ts';

export interface IpcRendererLike {
  invoke(channel: string, args: unknown): Promise<unknown>;
  on(channel: string, listener: (event: unknown, payload: unknown) => void): void;
  removeListener(channel: string, listener: (event: unknown, payload: unknown) => void): void;
}

export interface ContextBridgeLike {
  exposeInMainWorld(key: string, api: unknown): void;
}

type Method = (args: unknown) => Promise<Result<unknown>>;

/** The object of one domain: { verb: (args) => invoke('domain:verb', args) }. */
export function domainApi(domain: string, ipc: IpcRendererLike): Record<string, Method> {
  const api: Record<string, Method> = {};
  for (const channel of channelNames.filter((c) => c.startsWith(`${domain}:`))) {
    api[channel.slice(domain.length + 1)] = (args) => ipc.invoke(channel, args) as Promise<Result<unknown>>;
  }
  return Object.freeze(api);
}

export function eventsApi(ipc: IpcRendererLike) {
  return Object.freeze({
    subscribe(listener: (event: ApiEvent) => void): () => void {
      const forward = (_event: unknown, payload: unknown) => listener(payload as ApiEvent);
      ipc.on(EVENT_CHANNEL, forward);
      return () => ipc.removeListener(EVENT_CHANNEL, forward);
    },
  });
}

export function buildApi(ipc: IpcRendererLike): Record<string, unknown> {
  const api: Record<string, unknown> = {};
  for (const domain of domains) api[domain] = domainApi(domain, ipc);
  api.events = eventsApi(ipc);
  return Object.freeze(api);
}

export function exposeApi(bridge: ContextBridgeLike, ipc: IpcRendererLike): void {
  bridge.exposeInMainWorld('hangar', buildApi(ipc));
}
