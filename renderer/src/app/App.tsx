// The main window: toolbar, library on the left, details on the right, and the wizard open
// at the moment (one at a time).
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AppCommand, ContainerInfo, SnapshotInfo } from '../../../engine/api/channels.ts';
import type { ApiClient } from '../../../engine/api/client.ts';
import { containerActions, type Action } from './actions.ts';
import { useEngine } from './useEngine.ts';
import { ContainerDetails, type Tab } from '../components/Details.tsx';
import { ErrorMessage } from '../components/ErrorMessage.tsx';
import { Library, type LibraryItem } from '../components/Library.tsx';
import { Toolbar } from '../components/Toolbar.tsx';
import { DeleteContainerWizard } from '../wizards/DeleteWizard.tsx';
import { NewContainerWizard } from '../wizards/NewContainerWizard.tsx';
import { PreferencesDialog } from '../wizards/PreferencesDialog.tsx';
import { RestoreSnapshotWizard, TakeSnapshotWizard } from '../wizards/SnapshotWizards.tsx';

type Open =
  | { kind: 'new-container' }
  | { kind: 'preferences' }
  | { kind: 'delete'; container: ContainerInfo }
  | { kind: 'take-snapshot'; container: ContainerInfo }
  | { kind: 'restore-snapshot'; container: ContainerInfo; snapshot?: string };

const NO_ACTIONS: ReadonlySet<Action> = new Set();

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
  const { state } = useEngine(client);
  const [selectedKey, setSelectedKey] = useState<string>();
  const [tab, setTab] = useState<Tab>('details');
  const [open, setOpen] = useState<Open>();
  const [actionError, setActionError] = useState<string>();
  const [snapshots, setSnapshots] = useState<{ container: string; list: SnapshotInfo[]; error?: string }>();
  const systemDark = useSystemDark();
  const theme = state.preferences?.theme ?? 'system';
  const dark = theme === 'dark' || (theme === 'system' && systemDark);

  useEffect(() => {
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }, [dark]);

  const selected = state.containers.find((c) => `container:${c.id}` === selectedKey);
  const allowed = selected ? containerActions(selected.status) : NO_ACTIONS;

  const loadSnapshots = useCallback((container: string) => {
    client.invoke('containers:snapshots', { container }).then(
      (list) => setSnapshots({ container, list }),
      (err: Error) => setSnapshots({ container, list: [], error: err.message }),
    );
  }, [client]);

  useEffect(() => {
    setActionError(undefined);
    if (selected) loadSnapshots(selected.id);
  }, [selected?.id, loadSnapshots]);

  // The selection follows a deleted container to the first one left.
  useEffect(() => {
    if (selectedKey && !selected && state.containers[0]) setSelectedKey(`container:${state.containers[0].id}`);
    if (!selectedKey && state.containers[0]) setSelectedKey(`container:${state.containers[0].id}`);
  }, [selectedKey, selected, state.containers]);

  async function act(action: Action) {
    if (!selected) return;
    setActionError(undefined);
    const container = selected.id;
    try {
      switch (action) {
        case 'start':
          await client.invoke('containers:start', { container });
          if (selected.tty) setTab('terminal');
          break;
        case 'pause': await client.invoke('containers:pause', { container }); break;
        case 'resume': await client.invoke('containers:resume', { container }); break;
        case 'stop': await client.invoke('containers:stop', { container }); break;
        case 'terminal': setTab('terminal'); break;
        case 'delete': setOpen({ kind: 'delete', container: selected }); break;
        case 'snapshot': setOpen({ kind: 'take-snapshot', container: selected }); break;
        case 'restore': setOpen({ kind: 'restore-snapshot', container: selected }); break;
      }
    } catch (err) {
      setActionError((err as Error).message);
    }
  }

  // Native menu commands (desktop app) arrive as events.
  useEffect(() => client.subscribe((event) => {
    if (event.type !== 'app:command') return;
    const command: AppCommand = event.command;
    if (command === 'new-container') setOpen({ kind: 'new-container' });
    else if (command === 'preferences') setOpen({ kind: 'preferences' });
    else if (command === 'pause-resume') void act(selected?.status === 'paused' ? 'resume' : 'pause');
    else if (command === 'take-snapshot') void act('snapshot');
    else if (command === 'restore-snapshot') void act('restore');
    else if (allowed.has(command)) void act(command);
  }));

  const containersFeature = state.info?.features.containers;
  const groups: { label: string; items: LibraryItem[]; empty: string }[] = [
    { label: 'Virtual machines', items: [], empty: state.info?.features.vms.reason ?? '' },
    {
      label: 'Containers',
      items: state.containers.map((c) => ({ key: `container:${c.id}`, kind: 'container', name: c.name, status: c.status, detail: c.image, usage: state.usage[c.id] })),
      empty: containersFeature?.available === false ? containersFeature.reason ?? '' : 'No containers yet: New Container makes one.',
    },
  ];

  return (
    <div className="app">
      <Toolbar
        allowed={allowed}
        paused={selected?.status === 'paused'}
        canCreateContainer={containersFeature?.available ?? false}
        vmsReason={state.info?.features.vms.reason}
        onNewContainer={() => setOpen({ kind: 'new-container' })}
        onAction={(a) => void act(a)}
        onPreferences={() => setOpen({ kind: 'preferences' })}
      />
      {connectionLost && <ErrorMessage message={`Lost the connection to the engine: ${connectionLost}. Reload the page to reconnect.`} />}
      <ErrorMessage message={state.error} />
      <div className="main">
        <Library groups={groups} selected={selectedKey} onSelect={setSelectedKey} />
        <main className="details-area">
          <ErrorMessage message={actionError} onDismiss={() => setActionError(undefined)} />
          {selected ? (
            <ContainerDetails
              container={selected}
              usage={state.usage[selected.id]}
              tab={tab}
              onTab={setTab}
              snapshots={snapshots?.container === selected.id ? snapshots.list : []}
              snapshotsError={snapshots?.container === selected.id ? snapshots.error : undefined}
              onRestore={(snapshot) => setOpen({ kind: 'restore-snapshot', container: selected, snapshot })}
              onTakeSnapshot={() => setOpen({ kind: 'take-snapshot', container: selected })}
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
      {open?.kind === 'new-container' && (
        <NewContainerWizard
          images={state.images}
          containers={state.containers}
          onClose={() => setOpen(undefined)}
          onCreated={(c) => {
            setSelectedKey(`container:${c.id}`);
            setTab(c.tty && c.status === 'running' ? 'terminal' : 'details');
          }}
        />
      )}
      {open?.kind === 'preferences' && state.preferences && <PreferencesDialog preferences={state.preferences} onClose={() => setOpen(undefined)} />}
      {open?.kind === 'delete' && <DeleteContainerWizard container={open.container} onClose={() => setOpen(undefined)} onDeleted={() => setSelectedKey(undefined)} />}
      {open?.kind === 'take-snapshot' && (
        <TakeSnapshotWizard container={open.container} onClose={() => setOpen(undefined)} onDone={() => { loadSnapshots(open.container.id); setTab('snapshots'); }} />
      )}
      {open?.kind === 'restore-snapshot' && (
        <RestoreSnapshotWizard
          container={open.container}
          snapshots={snapshots?.container === open.container.id ? snapshots.list : []}
          initial={open.snapshot}
          onClose={() => setOpen(undefined)}
          onDone={() => loadSnapshots(open.container.id)}
        />
      )}
    </div>
  );
}
