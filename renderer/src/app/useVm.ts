// The selected VM's details and snapshot tree, loaded again whenever its library entry changes
// (a vms:changed event: new state, a snapshot taken, resources modified).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { VmDetails, VmListEntry } from '../../../engine/api/channels.ts';
import type { ApiClient } from '../../../engine/api/client.ts';
import type { SnapshotTree } from '../../../engine/vm/types.ts';

export interface VmView {
  vm: string;
  details?: VmDetails;
  tree?: SnapshotTree;
  error?: string;
}

export function useVm(client: ApiClient, entry: VmListEntry | undefined) {
  const [view, setView] = useState<VmView>();
  const id = entry?.id;
  // An answer for a VM no longer selected (a load started just before the selection moved) is dropped.
  const selected = useRef(id);
  selected.current = id;
  const load = useCallback(() => {
    if (!id) return;
    Promise.all([client.invoke('vms:inspect', { vm: id }), client.invoke('vms:snapshots', { vm: id })]).then(
      ([details, tree]) => { if (selected.current === id) setView({ vm: id, details, tree }); },
      (err: Error) => { if (selected.current === id) setView((v) => ({ ...(v?.vm === id ? v : {}), vm: id, error: err.message })); },
    );
  }, [client, id]);
  // The entry's contents, not its identity: every vms:changed brings new objects.
  const version = entry ? JSON.stringify(entry) : '';
  useEffect(load, [load, version]);
  return { view: view?.vm === id ? view : undefined, reload: load };
}
