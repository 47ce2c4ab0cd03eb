// The engine's state as the UI shows it, kept current by the API's events: VMs and containers
// with their resource use, images, preferences, and what this engine can do.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppInfo, ContainerInfo, ContainerStats, ImageSummary, Preferences, VmListEntry, VmUsage } from '../../../engine/api/channels.ts';
import type { Preset } from '../../../engine/vm/types.ts';
import type { ApiClient } from '../../../engine/api/client.ts';
import { cpuPercent, type Usage, type UsageSample } from './format.ts';

export interface EngineState {
  info?: AppInfo;
  vms: VmListEntry[];
  /** What a new VM can start from (vms:presets). */
  presets: Preset[];
  containers: ContainerInfo[];
  /** Resource use of running containers and of VMs running in the engine, by id. */
  usage: Record<string, Usage>;
  vmUsage: Record<string, Usage>;
  images: ImageSummary[];
  preferences?: Preferences;
  /** Why the first load failed (shown in place of the library). */
  error?: string;
}

export function useEngine(client: ApiClient) {
  const [state, setState] = useState<EngineState>({ vms: [], presets: [], containers: [], usage: {}, vmUsage: {}, images: [] });
  const samples = useRef(new Map<string, UsageSample>());

  /** CPU use is the growth of CPU seconds between two events of the same machine. */
  const applyUsage = useCallback((field: 'usage' | 'vmUsage', stats: Record<string, ContainerStats | VmUsage>) => {
    const now = performance.now();
    const usage: Record<string, Usage> = {};
    for (const [id, s] of Object.entries(stats)) {
      const key = `${field}:${id}`;
      const sample = { at: now, cpuSeconds: s.cpuSeconds };
      usage[id] = { ...s, cpuPercent: cpuPercent(samples.current.get(key), sample) };
      samples.current.set(key, sample);
    }
    setState((s) => ({ ...s, [field]: usage }));
  }, []);

  const refresh = useCallback(async () => {
    const [info, preferences] = await Promise.all([client.invoke('app:info', {}), client.invoke('preferences:get', {})]);
    const none = <T,>(): T[] => [];
    const [[containers, images], [vms, presets]] = await Promise.all([
      info.features.containers.available ? Promise.all([client.invoke('containers:list', {}), client.invoke('images:list', {})]) : [none<ContainerInfo>(), none<ImageSummary>()] as const,
      info.features.vms.available ? Promise.all([client.invoke('vms:list', {}), client.invoke('vms:presets', {})]) : [none<VmListEntry>(), none<Preset>()] as const,
    ]);
    setState((s) => ({ ...s, info, preferences, vms, presets, containers, images, error: undefined }));
  }, [client]);

  /** The VM list read again (after a wizard or an action: its events may be on their way). */
  const refreshVms = useCallback(() => {
    client.invoke('vms:list', {}).then((vms) => setState((s) => ({ ...s, vms })), () => undefined);
  }, [client]);

  useEffect(() => {
    const unsubscribe = client.subscribe((event) => {
      if (event.type === 'vms:changed') setState((s) => ({ ...s, vms: event.vms }));
      else if (event.type === 'containers:changed') setState((s) => ({ ...s, containers: event.containers }));
      else if (event.type === 'images:changed') setState((s) => ({ ...s, images: event.images }));
      else if (event.type === 'preferences:changed') setState((s) => ({ ...s, preferences: event.preferences }));
      else if (event.type === 'containers:usage') applyUsage('usage', event.usage);
      else if (event.type === 'vms:usage') applyUsage('vmUsage', event.usage);
    });
    refresh().catch((err: Error) => setState((s) => ({ ...s, error: err.message })));
    return unsubscribe;
  }, [client, refresh, applyUsage]);

  return { state, refresh, refreshVms };
}
