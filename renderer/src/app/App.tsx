// The main window: toolbar, library on the left, details on the right, and the wizard open
// at the moment (one at a time).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { AppCommand, ContainerInfo, SnapshotInfo, VmListEntry } from '../../../engine/api/channels.ts';
import type { ApiClient } from '../../../engine/api/client.ts';
import { containerActions, vmActions, type Action } from './actions.ts';
import { formatUsage } from './format.ts';
import { useEngine } from './useEngine.ts';
import { useVm } from './useVm.ts';
import { ContainerDetailsPane } from '../components/ContainerDetails.tsx';
import type { Tab } from '../components/DetailsFrame.tsx';
import { ErrorMessage } from '../components/ErrorMessage.tsx';
import { Library, type LibraryItem } from '../components/Library.tsx';
import { Toolbar } from '../components/Toolbar.tsx';
import { describeVmState, VmDetailsPane, vmResources } from '../components/VmDetails.tsx';
import { renderWizard, type OpenWizard, type WizardHost } from '../wizards/registry.tsx';
import { errorText } from './errors.ts';

const NO_ACTIONS: ReadonlySet<Action> = new Set();
const vmKey = (id: string) => `vm:${id}`;
const containerKey = (id: string) => `container:${id}`;

function useSystemDark(): boolean {
  const query = useMemo(() => window.matchMedia('(prefers-color-scheme: dark)'), []);
  const [dark, setDark] = useState(query.matches);
  useEffect(() => {
    const onChange = () => setDark(query.matches);
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }, [query]);
  return dark;
}

export function App({ client, connectionLost }: { client: ApiClient; connectionLost?: string }) {
  const { state, refreshVms } = useEngine(client);
  const [selectedKey, setSelectedKey] = useState<string>();
  const [tab, setTab] = useState<Tab>('details');
  const [open, setOpen] = useState<OpenWizard>();
  const [actionError, setActionError] = useState<string>();
  const [consoleNotice, setConsoleNotice] = useState<{ vm: string; key: number; text: string }>();
  const [snapshots, setSnapshots] = useState<{ container: string; list: SnapshotInfo[]; error?: string }>();
  const systemDark = useSystemDark();
  const theme = state.preferences?.theme ?? 'system';
  const dark = theme === 'dark' || (theme === 'system' && systemDark);

  useEffect(() => {
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }, [dark]);

  const selectedVm = state.vms.find((v) => vmKey(v.id) === selectedKey);
  const selected = state.containers.find((c) => containerKey(c.id) === selectedKey);
  const allowed = selectedVm ? vmActions(selectedVm.state) : selected ? containerActions(selected.status) : NO_ACTIONS;
  const { view: vmView, reload: reloadVm } = useVm(client, selectedVm);

  const loadSnapshots = useCallback((container: string) => {
    client.invoke('containers:snapshots', { container }).then(
      (list) => setSnapshots({ container, list }),
      (err: Error) => setSnapshots({ container, list: [], error: err.message }),
    );
  }, [client]);

  useEffect(() => {
    setActionError(undefined);
    if (selected) loadSnapshots(selected.id);
  }, [selected?.id, selectedVm?.id, loadSnapshots]);

  // The selection follows a deleted machine to the first one left; a machine just made is
  // selected before the engine's list holds it, and waited for.
  const awaitedKey = useRef<string>(undefined);
  const selectNew = (key: string) => {
    awaitedKey.current = key;
    setSelectedKey(key);
  };
  const firstKey = state.vms[0] ? vmKey(state.vms[0].id) : state.containers[0] ? containerKey(state.containers[0].id) : undefined;
  useEffect(() => {
    if (selected || selectedVm) {
      if (awaitedKey.current === selectedKey) awaitedKey.current = undefined;
      return;
    }
    if (selectedKey && awaitedKey.current === selectedKey) return;
    if (firstKey) setSelectedKey(firstKey);
  }, [selectedKey, selected, selectedVm, firstKey]);
  // The console tab is a VM's name for the terminal tab; logs exist for containers only.
  useEffect(() => {
    if (selectedVm && tab === 'logs') setTab('details');
  }, [selectedVm, tab]);

  const wizardHost: WizardHost = {
    state,
    vmView,
    containerSnapshots: (container) => (snapshots?.container === container ? snapshots.list : []),
    // What a wizard changed is read again (the engine's vms:changed may still be on its way).
    close: () => {
      setOpen(undefined);
      refreshVms();
      reloadVm();
    },
    selectVm: (id) => selectNew(vmKey(id)),
    selectContainer: (id) => selectNew(containerKey(id)),
    deselect: () => setSelectedKey(undefined),
    showTab: setTab,
    startVm: (vm) => { client.invoke('vms:start', { vm: vm.id }).catch((err: unknown) => setActionError(errorText(err, 'start'))); },
    reloadContainerSnapshots: loadSnapshots,
    noteInConsole: (vm, text) => setConsoleNotice({ vm, key: Date.now(), text }),
  };

  async function actOnVm(vm: VmListEntry, action: Action) {
    const id = vm.id;
    switch (action) {
      case 'start':
        if (vm.state === 'saved') return setOpen({ kind: 'vm-resume', vm });
        setTab('terminal');
        await client.invoke('vms:start', { vm: id });
        break;
      case 'pause': await client.invoke('vms:pause', { vm: id }); break;
      case 'resume': await client.invoke('vms:resume', { vm: id }); break;
      case 'stop': await client.invoke('vms:stop', { vm: id }); break;
      case 'force-stop': await client.invoke('vms:stop', { vm: id, force: true }); break;
      case 'save': setOpen({ kind: 'vm-save', vm }); break;
      case 'snapshot': setOpen({ kind: 'vm-take-snapshot', vm }); break;
      case 'restore': setOpen({ kind: 'vm-restore-snapshot', vm }); break;
      case 'clone': setOpen({ kind: 'vm-clone', vm }); break;
      case 'delete': setOpen({ kind: 'vm-delete', vm }); break;
      case 'terminal': setTab('terminal'); break;
    }
  }

  async function actOnContainer(container: ContainerInfo, action: Action) {
    const id = container.id;
    switch (action) {
      case 'start':
        await client.invoke('containers:start', { container: id });
        if (container.tty) setTab('terminal');
        break;
      case 'pause': await client.invoke('containers:pause', { container: id }); break;
      case 'resume': await client.invoke('containers:resume', { container: id }); break;
      case 'stop': await client.invoke('containers:stop', { container: id }); break;
      case 'terminal': setTab('terminal'); break;
      case 'delete': setOpen({ kind: 'container-delete', container }); break;
      case 'snapshot': setOpen({ kind: 'container-take-snapshot', container }); break;
      case 'restore': setOpen({ kind: 'container-restore-snapshot', container }); break;
    }
  }

  async function act(action: Action) {
    if (!allowed.has(action)) return;
    setActionError(undefined);
    try {
      if (selectedVm) {
        await actOnVm(selectedVm, action);
        refreshVms();
      }
      else if (selected) await actOnContainer(selected, action);
    } catch (err) {
      setActionError(errorText(err, action));
    }
  }

  // Native menu commands (desktop app) arrive as events.
  useEffect(() => client.subscribe((event) => {
    if (event.type !== 'app:command') return;
    const command: AppCommand = event.command;
    if (command === 'new-vm') { if (state.info?.features.vms.available) setOpen({ kind: 'vm-new' }); }
    else if (command === 'new-container') { if (state.info?.features.containers.available) setOpen({ kind: 'container-new' }); }
    else if (command === 'preferences') setOpen({ kind: 'preferences' });
    else if (command === 'pause-resume') void act(allowed.has('resume') ? 'resume' : 'pause');
    else if (command === 'take-snapshot') void act('snapshot');
    else if (command === 'restore-snapshot') void act('restore');
    else void act(command);
  }));

  const vmsFeature = state.info?.features.vms;
  const containersFeature = state.info?.features.containers;
  const groups: { label: string; items: LibraryItem[]; empty: string }[] = [
    {
      label: 'Virtual machines',
      items: state.vms.map((v) => ({
        key: vmKey(v.id), kind: 'vm', name: v.name, status: v.state, statusText: describeVmState(v.state),
        detail: v.problem ?? vmResources(v),
        usageText: [
          state.vmUsage[v.id] && formatUsage(state.vmUsage[v.id]!),
          v.snapshots ? `${v.snapshots} snapshot${v.snapshots === 1 ? '' : 's'}` : '',
        ].filter(Boolean).join(' · ') || undefined,
      })),
      empty: vmsFeature?.available === false ? vmsFeature.reason ?? '' : 'No VMs yet: New VM makes one.',
    },
    {
      label: 'Containers',
      items: state.containers.map((c) => ({ key: containerKey(c.id), kind: 'container', name: c.name, status: c.status, detail: c.image, usage: state.usage[c.id] })),
      empty: containersFeature?.available === false ? containersFeature.reason ?? '' : 'No containers yet: New Container makes one.',
    },
  ];

  return (
    <div className="app">
      <Toolbar
        allowed={allowed}
        paused={selectedVm ? selectedVm.state === 'paused' : selected?.status === 'paused'}
        vms={vmsFeature}
        containers={containersFeature}
        onNewVm={() => setOpen({ kind: 'vm-new' })}
        onNewContainer={() => setOpen({ kind: 'container-new' })}
        onAction={(a) => void act(a)}
        onPreferences={() => setOpen({ kind: 'preferences' })}
      />
      {connectionLost && <ErrorMessage message={`Lost the connection to the engine: ${connectionLost}. Reload the page to reconnect.`} />}
      <ErrorMessage message={state.error} />
      <div className="main">
        <Library groups={groups} selected={selectedKey} onSelect={setSelectedKey} />
        <main className="details-area">
          <ErrorMessage message={actionError} onDismiss={() => setActionError(undefined)} />
          {selectedVm ? (
            <VmDetailsPane
              vm={selectedVm}
              view={vmView}
              consoleNotice={consoleNotice?.vm === selectedVm.id ? consoleNotice : undefined}
              tab={tab}
              onTab={setTab}
              onTake={() => setOpen({ kind: 'vm-take-snapshot', vm: selectedVm })}
              onRestore={(snapshot) => setOpen({ kind: 'vm-restore-snapshot', vm: selectedVm, snapshot })}
              onClone={(snapshot) => setOpen({ kind: 'vm-clone', vm: selectedVm, snapshot })}
              onDelete={(snapshot) => setOpen({ kind: 'vm-delete-snapshot', vm: selectedVm, snapshot })}
              fontSize={state.preferences?.consoleFontSize ?? 14}
              dark={dark}
            />
          ) : selected ? (
            <ContainerDetailsPane
              container={selected}
              usage={state.usage[selected.id]}
              tab={tab}
              onTab={setTab}
              snapshots={snapshots?.container === selected.id ? snapshots.list : []}
              snapshotsError={snapshots?.container === selected.id ? snapshots.error : undefined}
              onRestore={(snapshot) => setOpen({ kind: 'container-restore-snapshot', container: selected, snapshot })}
              onTakeSnapshot={() => setOpen({ kind: 'container-take-snapshot', container: selected })}
              fontSize={state.preferences?.consoleFontSize ?? 14}
              dark={dark}
            />
          ) : (
            <div className="welcome">
              <h1>Welcome to Hangar</h1>
              <p>Virtual machines and containers in one place. Choose one on the left, or make a new one.</p>
            </div>
          )}
        </main>
      </div>
      {open && renderWizard(open, wizardHost)}
    </div>
  );
}
