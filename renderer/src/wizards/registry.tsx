// Every wizard the app opens, by kind: the kind names its family (vm-, container-) and what
// it does, and WIZARDS turns an open wizard into its component, given what the main window
// knows (the engine's state, the selected machine's details) and what it can do after.
import type { ReactNode } from 'react';
import type { ContainerInfo, SnapshotInfo, VmDetails, VmListEntry } from '../../../engine/api/channels.ts';
import type { EngineState } from '../app/useEngine.ts';
import type { VmView } from '../app/useVm.ts';
import type { Tab } from '../components/DetailsFrame.tsx';
import { DeleteContainerWizard } from './ContainerWizards.tsx';
import { RestoreContainerSnapshotWizard, TakeContainerSnapshotWizard } from './ContainerSnapshotWizards.tsx';
import { NewContainerWizard } from './NewContainerWizard.tsx';
import { NewVmWizard } from './NewVmWizard.tsx';
import { PreferencesDialog } from './PreferencesDialog.tsx';
import { DeleteVmSnapshotWizard, RestoreVmSnapshotWizard, TakeVmSnapshotWizard } from './VmSnapshotWizards.tsx';
import { CloneVmWizard, DeleteVmWizard, ResumeVmWizard, SuspendVmWizard } from './VmWizards.tsx';

export type OpenWizard =
  | { kind: 'preferences' }
  | { kind: 'vm-new' }
  | { kind: 'vm-delete'; vm: VmListEntry }
  | { kind: 'vm-take-snapshot'; vm: VmListEntry }
  | { kind: 'vm-restore-snapshot'; vm: VmListEntry; snapshot?: string }
  | { kind: 'vm-delete-snapshot'; vm: VmListEntry; snapshot: string }
  | { kind: 'vm-clone'; vm: VmListEntry; snapshot?: string }
  | { kind: 'vm-save'; vm: VmListEntry }
  | { kind: 'vm-resume'; vm: VmListEntry }
  | { kind: 'container-new' }
  | { kind: 'container-delete'; container: ContainerInfo }
  | { kind: 'container-take-snapshot'; container: ContainerInfo }
  | { kind: 'container-restore-snapshot'; container: ContainerInfo; snapshot?: string };

/** What a wizard gets from the main window. VM wizards open only for the selected VM, so its view is theirs. */
export interface WizardHost {
  state: EngineState;
  vmView?: VmView;
  /** The snapshots of the container they are for (loaded for the selected one). */
  containerSnapshots(container: string): SnapshotInfo[];
  /** Closes the wizard; what it changed is read again. */
  close(): void;
  selectVm(id: string): void;
  selectContainer(id: string): void;
  /** After a deletion: the selection moves on. */
  deselect(): void;
  showTab(tab: Tab): void;
  startVm(vm: VmDetails): void;
  reloadContainerSnapshots(container: string): void;
  noteInConsole(vm: string, text: string): void;
}

type Of<K extends OpenWizard['kind']> = Extract<OpenWizard, { kind: K }>;

export const WIZARDS: { [K in OpenWizard['kind']]: (open: Of<K>, host: WizardHost) => ReactNode } = {
  preferences: (_, h) => h.state.preferences && <PreferencesDialog preferences={h.state.preferences} onClose={h.close} />,

  'vm-new': (_, h) => (
    <NewVmWizard
      presets={h.state.presets}
      vms={h.state.vms}
      defaults={h.state.preferences?.defaultVm}
      onClose={h.close}
      onCreated={(vm, start) => {
        h.selectVm(vm.id);
        h.showTab(start ? 'terminal' : 'details');
        if (start) h.startVm(vm);
      }}
    />
  ),
  'vm-delete': ({ vm }, h) => <DeleteVmWizard vm={vm} details={h.vmView?.details} onClose={h.close} onDeleted={h.deselect} />,
  'vm-take-snapshot': ({ vm }, h) => <TakeVmSnapshotWizard vm={vm} tree={h.vmView?.tree} onClose={h.close} />,
  'vm-restore-snapshot': ({ vm, snapshot }, h) => (
    <RestoreVmSnapshotWizard vm={vm} tree={h.vmView?.tree} initial={snapshot} onClose={h.close} onRestored={(name) => h.noteInConsole(vm.id, `snapshot "${name}" restored`)} />
  ),
  'vm-delete-snapshot': ({ vm, snapshot }, h) => <DeleteVmSnapshotWizard vm={vm} tree={h.vmView?.tree} snapshot={snapshot} onClose={h.close} />,
  'vm-clone': ({ vm, snapshot }, h) => (
    <CloneVmWizard vm={vm} vms={h.state.vms} tree={h.vmView?.tree} initial={snapshot} onClose={h.close} onCloned={(clone) => h.selectVm(clone.id)} />
  ),
  'vm-save': ({ vm }, h) => <SuspendVmWizard vm={vm} onClose={h.close} />,
  'vm-resume': ({ vm }, h) => <ResumeVmWizard vm={vm} onClose={h.close} onStarted={() => h.showTab('terminal')} />,

  'container-new': (_, h) => (
    <NewContainerWizard
      images={h.state.images}
      containers={h.state.containers}
      onClose={h.close}
      onCreated={(c) => {
        h.selectContainer(c.id);
        h.showTab(c.tty && c.status === 'running' ? 'terminal' : 'details');
      }}
    />
  ),
  'container-delete': ({ container }, h) => <DeleteContainerWizard container={container} onClose={h.close} onDeleted={h.deselect} />,
  'container-take-snapshot': ({ container }, h) => (
    <TakeContainerSnapshotWizard container={container} onClose={h.close} onDone={() => { h.reloadContainerSnapshots(container.id); h.showTab('snapshots'); }} />
  ),
  'container-restore-snapshot': ({ container, snapshot }, h) => (
    <RestoreContainerSnapshotWizard
      container={container}
      snapshots={h.containerSnapshots(container.id)}
      initial={snapshot}
      onClose={h.close}
      onDone={() => h.reloadContainerSnapshots(container.id)}
    />
  ),
};

export function renderWizard(open: OpenWizard, host: WizardHost): ReactNode {
  return (WIZARDS[open.kind] as (open: OpenWizard, host: WizardHost) => ReactNode)(open, host);
}
