// The engine's state as the UI shows it, kept current by the API's events: VMs, containers with
// their resource use, images, preferences, and what this engine can do.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppInfo, ContainerInfo, ContainerStats, ImageSummary, Preferences, VmListEntry } from '../../../engine/api/channels.ts';
import type { Preset } from '../../../engine/vm/presets.ts';
import type { ApiClient } from '../../../engine/api/client.ts';
import { cpuPercent, type UsageSample } from './format.ts';

export interface Usage {
  cpuPercent?: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
  pids: number;
}

export interface EngineState {
  info?: AppInfo;
  vms: VmListEntry[];
  /** What a new VM can start from (vms:presets). */
  presets: Preset[];
  containers: ContainerInfo[];
  usage: Record<string, Usage>;
  images: ImageSummary[];
  preferences?: Preferences;
  /** Why the first load failed (shown in place of the library). */
  error?: string;
}

export function useEngine(client: ApiClient) {
  const [state, setState] = useState<EngineState>({ vms: [], presets: [], containers: [], usage: {}, images: [] });
  const samples = useRef(new Map<string, UsageSample>());

  const applyUsage = useCallback((stats: Record<string, ContainerStats>) => {
    const now = performance.now();
    const usage: Record<string, Usage> = {};
    for (const [id, s] of Object.entries(stats)) {
      const sample = { at: now, cpuSeconds: s.cpuSeconds };
      usage[id] = { cpuPercent: cpuPercent(samples.current.get(id), sample), memoryBytes: s.memoryBytes, memoryLimitBytes: s.memoryLimitBytes, pids: s.pids };
      samples.current.set(id, sample);
    }
    setState((s) => ({ ...s, usage }));
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
      else if (event.type === 'containers:usage') applyUsage(event.usage);
    });
    refresh().catch((err: Error) => setState((s) => ({ ...s, error: err.message })));
    return unsubscribe;
  }, [client, refresh, applyUsage]);

  return { state, refresh, refreshVms };
}
