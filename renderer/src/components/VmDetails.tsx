// The details pane of a VM: its configuration and disks, its serial console, and its snapshots
// as a tree with the current state marked.
import type { VmListEntry, VmRunState } from '../../../engine/api/channels.ts';
import type { SnapshotNode, SnapshotTree } from '../../../engine/vm/types.ts';
import { vmIsLive } from '../app/actions.ts';
import { formatBytes, formatTime, shortId } from '../app/format.ts';
import type { VmView } from '../app/useVm.ts';
import { useClient } from './context.ts';
import { DetailsFrame, type Tab } from './DetailsFrame.tsx';
import { ErrorMessage } from './ErrorMessage.tsx';
import { TerminalPane } from './TerminalPane.tsx';
import { Tree, type TreeNode } from './Tree.tsx';

const TABS: { id: Tab; label: string }[] = [
  { id: 'details', label: 'Details' },
  { id: 'terminal', label: 'Console' },
  { id: 'snapshots', label: 'Snapshots' },
];

/** What a snapshot node offers: each opens its wizard. */
export interface SnapshotHandlers {
  onTake: () => void;
  onRestore: (snapshot: string) => void;
  onClone: (snapshot: string) => void;
  onDelete: (snapshot: string) => void;
}

interface Props extends SnapshotHandlers {
  vm: VmListEntry;
  view?: VmView;
  /** Written into the console (a snapshot was restored under it). */
  consoleNotice?: { key: number; text: string };
  tab: Tab;
  onTab: (tab: Tab) => void;
  fontSize: number;
  dark: boolean;
}

export const describeVmState = (state: VmRunState) => state.replace('-', ' ');

export function VmDetailsPane({ vm, view, consoleNotice, tab, onTab, fontSize, dark, ...handlers }: Props) {
  const client = useClient();
  const live = vmIsLive(vm.state);
  return (
    <DetailsFrame
      kind="vm"
      name={vm.name}
      subtitle={<>Virtual machine · {vmResources(vm)} · <span className={`state state-${vm.state}`}>{describeVmState(vm.state)}</span></>}
      tabs={TABS}
      tab={tab}
      onTab={onTab}
    >
      <ErrorMessage message={vm.problem ?? view?.error} />
      {tab === 'details' && view?.details && <Configuration view={view} />}
      {tab === 'terminal' && (
        <TerminalPane
          open={(size) => client.invoke('vms:console', { vm: vm.id, ...size })}
          // One view for as long as the machine lives; a restore within it reopens by itself.
          session={live ? vm.id : undefined}
          reopenOnExit
          notice={consoleNotice}
          notLive={vm.state === 'saved'
            ? 'The VM is saved (suspended to disk). Start it to resume where it was, console included.'
            : `The VM is ${describeVmState(vm.state)}. Start it to use its serial console.`}
          title={() => 'Serial console (ttyS0)'}
          paused={vm.state === 'paused'}
          label={`Console of ${vm.name}`}
          fontSize={fontSize}
          dark={dark}
        />
      )}
      {tab === 'snapshots' && <VmSnapshotsTree vm={vm} tree={view?.tree} {...handlers} />}
    </DetailsFrame>
  );
}

/** "2 vCPUs · 512 MiB": what the VM is given. */
export function vmResources(vm: { cpus?: number; memory?: number }): string {
  if (vm.cpus === undefined || vm.memory === undefined) return '';
  return `${vm.cpus} vCPU${vm.cpus === 1 ? '' : 's'} · ${formatBytes(vm.memory * 1024 * 1024)}`;
}

function Configuration({ view }: { view: VmView }) {
  const d = view.details!;
  return (
    <div className="configuration">
      <section>
        <h2>General</h2>
        <dl>
          <dt>Name</dt><dd>{d.name}</dd>
          <dt>ID</dt><dd className="mono">{shortId(d.id)}</dd>
          <dt>Created</dt><dd>{formatTime(d.created)}</dd>
          <dt>Preset</dt><dd>{d.preset}</dd>
          <dt>State</dt><dd>{describeVmState(d.state)}{d.savedState && d.state === 'saved' ? ' (its state is on disk)' : ''}</dd>
          <dt>Snapshots</dt><dd>{d.snapshots}{d.currentSnapshot ? ` (current state grew from "${d.currentSnapshot.name}")` : ''}</dd>
          {d.linkedClone && (
            <><dt>Linked clone of</dt><dd>{d.linkedClone.vmName ?? d.linkedClone.vm}, snapshot {d.linkedClone.snapshotName ?? d.linkedClone.snapshot}</dd></>
          )}
          {d.linkedClones.length > 0 && <><dt>Linked clones</dt><dd>{d.linkedClones.join(', ')}</dd></>}
        </dl>
      </section>
      <section>
        <h2>System</h2>
        <dl>
          <dt>vCPUs</dt><dd>{d.cpus}</dd>
          <dt>Memory</dt><dd>{formatBytes(d.memory * 1024 * 1024)}</dd>
          <dt>Firmware</dt><dd className="mono">{d.boot.firmware}</dd>
          <dt>Kernel</dt><dd className="mono">{d.boot.kernel}</dd>
          <dt>Initrd</dt><dd className="mono">{d.boot.initrd ?? '(none)'}</dd>
          <dt>Command line</dt><dd className="mono">{d.boot.append || '(none)'}</dd>
        </dl>
      </section>
      <section>
        <h2>Disks</h2>
        {d.disks.length ? (
          <table className="disks">
            <thead><tr><th scope="col">Disk</th><th scope="col">Size</th><th scope="col">On disk</th><th scope="col">Serial</th></tr></thead>
            <tbody>
              {d.disks.map((disk, i) => (
                <tr key={disk.file}>
                  <td title={disk.file}>vd{String.fromCharCode(97 + i)}{disk.readOnly ? ' (read-only)' : ''}</td>
                  <td>{formatBytes(disk.virtualSize)}</td>
                  <td>{formatBytes(disk.sizeOnDisk)}</td>
                  <td className="mono">{disk.serial}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p className="muted">No disks.</p>}
      </section>
      <section>
        <h2>Network and storage</h2>
        <dl>
          <dt>MAC address</dt><dd className="mono">{d.mac}</dd>
          <dt>Machine ID</dt><dd className="mono">{d.machineId}</dd>
          <dt>Folder</dt><dd className="mono">{d.folder}</dd>
          <dt>Size on disk</dt><dd>{formatBytes(d.sizeOnDisk)} (disks, snapshots and saved state)</dd>
        </dl>
      </section>
    </div>
  );
}

function VmSnapshotsTree({ vm, tree, onTake, onRestore, onClone, onDelete }: { vm: VmListEntry; tree?: SnapshotTree } & SnapshotHandlers) {
  if (!tree) return <p className="muted">Loading the snapshots…</p>;
  const current: TreeNode = {
    key: 'current',
    current: true,
    className: 'current-node',
    content: <>Current state <span className="muted">{describeVmState(vm.state)} · {formatBytes(tree.current.sizeOnDisk)}</span></>,
  };
  const toNode = (s: SnapshotNode): TreeNode => ({
    key: s.id,
    className: 'snapshot-node',
    children: [...s.children.map(toNode), ...(tree.current.parent === s.id ? [current] : [])],
    content: (
      <>
        <span className="snapshot-name">{s.name}</span>
        {s.ram && <span className="badge" title="Holds the machine's memory: restoring it resumes the machine">RAM</span>}
        <span className="muted">{formatTime(s.created)} · {formatBytes(s.sizeOnDisk)}{s.description ? ` · ${s.description}` : ''}</span>
        <button type="button" className="link" onClick={() => onRestore(s.id)} aria-label={`Restore ${s.name}…`}>Restore…</button>
        <button type="button" className="link" onClick={() => onClone(s.id)} aria-label={`Clone from ${s.name}…`}>Clone…</button>
        <button type="button" className="link" onClick={() => onDelete(s.id)} aria-label={`Delete ${s.name}…`}>Delete…</button>
      </>
    ),
  });
  const roots = [...tree.roots.map(toNode), ...(tree.current.parent === null ? [current] : [])];
  return (
    <div className="snapshots">
      <div className="pane-bar">
        <button type="button" onClick={onTake}>Take Snapshot…</button>
      </div>
      <Tree label={`Snapshots of ${vm.name}`} roots={roots} />
      {tree.roots.length === 0 && <p className="muted">No snapshots yet. A snapshot keeps the disks (and, taken while the VM runs, its memory) to return to later.</p>}
    </div>
  );
}
