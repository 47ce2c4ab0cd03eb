// Take, Restore and Delete Snapshot for a VM: each says what will happen before it happens; a
// restore can keep the current state as a snapshot first (saveCurrentAs).
import { useState } from 'react';
import type { VmListEntry } from '../../../engine/api/channels.ts';
import type { SnapshotTree } from '../../../engine/vm/snapshots.ts';
import { vmIsLive } from '../app/actions.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { listSnapshots, nextSnapshotName, snapshotNameProblem } from '../app/snapshots.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';

interface Props {
  vm: VmListEntry;
  tree: SnapshotTree | undefined;
  onClose: () => void;
}

/** A machine with memory to keep: a live one, or a suspended one's saved state. */
const hasMachineState = (vm: VmListEntry) => vm.state === 'running' || vm.state === 'paused' || vm.state === 'saved';

export function TakeVmSnapshotWizard({ vm, tree, onClose }: Props) {
  const client = useClient();
  const [name, setName] = useState(() => nextSnapshotName(tree));
  const [description, setDescription] = useState('');
  const [ram, setRam] = useState(hasMachineState(vm));
  const memory = vm.memory === undefined ? 'its memory' : `up to ${formatBytes(vm.memory * 1024 * 1024)} of memory`;
  return (
    <Wizard
      title={`Take Snapshot of ${vm.name}`}
      steps={[
        {
          id: 'name',
          title: 'Name and contents',
          content: (
            <div className="fields">
              <label className="field">
                <span>Name</span>
                <input value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} autoComplete="off" />
              </label>
              <label className="field">
                <span>Description (optional)</span>
                <textarea rows={3} value={description} onChange={(e) => setDescription(e.target.value)}
                  onKeyDown={(e) => { if (e.key === 'Enter' && e.ctrlKey) e.currentTarget.form?.requestSubmit(); }} />
                <small>Ctrl+Enter goes on.</small>
              </label>
              <label className="check">
                <input type="checkbox" checked={ram} onChange={(e) => setRam(e.target.checked)} disabled={!hasMachineState(vm)} />
                Include the machine's memory (RAM): restoring the snapshot resumes the machine as it was
              </label>
              {!hasMachineState(vm) && <small className="muted">The VM is powered off: there is no memory to keep, only its disks.</small>}
            </div>
          ),
          validate: () => snapshotNameProblem(name, tree) ?? (description.length > 4096 ? 'Description: at most 4096 characters.' : undefined),
        },
        {
          id: 'summary',
          title: 'Summary',
          content: (
            <div className="fields">
              <dl className="summary">
                <dt>VM</dt><dd>{vm.name}</dd>
                <dt>Snapshot</dt><dd>{name.trim()}</dd>
                <dt>Description</dt><dd>{description.trim() || '(none)'}</dd>
                <dt>Keeps</dt><dd>the disks{ram ? `, and ${memory} with the devices' state` : ''}</dd>
              </dl>
              {ram && vm.state === 'running' && <p>The VM pauses while its memory is written, then runs on.</p>}
            </div>
          ),
        },
      ]}
      finishLabel="Take snapshot"
      finish={{
        label: 'Taking the snapshot',
        work: async (operation) => {
          await client.invoke('vms:snapshot', { vm: vm.id, name: name.trim(), description: description.trim() || undefined, ram: hasMachineState(vm) ? ram : false, operation });
        },
      }}
      onClose={onClose}
    />
  );
}

export function RestoreVmSnapshotWizard({ vm, tree, initial, onClose, onRestored }: Props & { initial?: string; onRestored: (snapshot: string) => void }) {
  const client = useClient();
  const listed = listSnapshots(tree);
  const [chosen, setChosen] = useState(initial ?? tree?.current.parent ?? listed.at(-1)?.node.id ?? '');
  const [saveFirst, setSaveFirst] = useState(false);
  const [saveName, setSaveName] = useState(() => nextSnapshotName(tree, 'Before restoring'));
  const snapshot = listed.find((s) => s.node.id === chosen)?.node;
  const live = vmIsLive(vm.state);
  const outcome = !snapshot ? '' : snapshot.ram
    ? live ? 'the machine goes on from the moment the snapshot was taken' : 'the VM is saved: starting it resumes the machine from the moment the snapshot was taken'
    : 'the VM is powered off with the disks as they were';
  return (
    <Wizard
      title={`Restore Snapshot of ${vm.name}`}
      steps={[
        {
          id: 'choose',
          title: 'Snapshot',
          content: listed.length ? (
            <Choices
              label="Snapshot to restore"
              name="snapshot"
              choices={listed.map(({ node, depth }) => ({
                value: node.id,
                depth,
                label: <><strong>{node.name}</strong>{node.ram ? ' (with RAM)' : ''}</>,
                detail: `${formatTime(node.created)}${node.id === tree?.current.parent ? ' · the current state grew from it' : ''}`,
              }))}
              value={chosen}
              onChange={setChosen}
            />
          ) : <p>This VM has no snapshots yet.</p>,
          validate: () => (snapshot ? undefined : 'Choose a snapshot.'),
        },
        {
          id: 'current',
          title: 'Current state',
          content: (
            <div className="fields">
              <p>Restoring replaces the current state{live ? ' (the machine now running, its memory and its disks)' : vm.state === 'saved' ? ' (the disks and the saved machine state)' : ' (the disks)'}.</p>
              <label className="check">
                <input type="checkbox" checked={saveFirst} onChange={(e) => setSaveFirst(e.target.checked)} />
                Save the current state first, as a snapshot
              </label>
              <label className="field">
                <span>Name of that snapshot</span>
                <input value={saveName} onChange={(e) => setSaveName(e.target.value)} disabled={!saveFirst} spellCheck={false} />
              </label>
            </div>
          ),
          validate: () => (saveFirst ? snapshotNameProblem(saveName, tree) : undefined),
        },
        {
          id: 'summary',
          title: 'Summary',
          content: (
            <dl className="summary">
              <dt>Restore</dt><dd>{snapshot ? `${snapshot.name} (${formatTime(snapshot.created)})` : ''}</dd>
              <dt>Current state</dt><dd>{saveFirst ? `kept as the snapshot "${saveName.trim()}"` : 'discarded: changes since then are lost'}</dd>
              <dt>Then</dt><dd>{outcome}</dd>
            </dl>
          ),
        },
      ]}
      finishLabel="Restore"
      finish={{
        label: 'Restoring the snapshot',
        work: async (operation) => {
          await client.invoke('vms:restoreSnapshot', { vm: vm.id, snapshot: chosen, saveCurrentAs: saveFirst ? saveName.trim() : undefined, operation });
          onRestored(snapshot!.name);
        },
      }}
      onClose={onClose}
    />
  );
}

export function DeleteVmSnapshotWizard({ vm, tree, snapshot, onClose }: Props & { snapshot: string }) {
  const client = useClient();
  const node = listSnapshots(tree).find((s) => s.node.id === snapshot)?.node;
  if (!node) return null;
  return (
    <Wizard
      title={`Delete Snapshot ${node.name}`}
      steps={[{
        id: 'summary',
        title: 'What is removed',
        content: (
          <div className="fields">
            <ul>
              <li>Removed: the snapshot "{node.name}"{node.ram ? ' and the machine memory it keeps' : ''}.</li>
              <li>Kept: what grew from it ({node.children.length ? node.children.map((c) => `"${c.name}"`).join(', ') : 'its changes'}{tree?.current.parent === node.id ? ', the current state' : ''}): its disk changes are merged into them.</li>
              {node.freedByDelete === null
                ? <li>Linked clones ({node.linkedClones.join(', ')}) use its disks: delete them first; the engine refuses until then.</li>
                : <li>Gives back about {formatBytes(Math.max(0, node.freedByDelete))} on disk.</li>}
            </ul>
          </div>
        ),
      }]}
      finishLabel="Delete snapshot"
      finish={{ label: 'Deleting the snapshot (merging its disks)', work: async (operation) => { await client.invoke('vms:deleteSnapshot', { vm: vm.id, snapshot, operation }); } }}
      onClose={onClose}
    />
  );
}
