// Take, Restore and Delete Snapshot for a VM: each says what will happen before it happens; a
// restore can keep the current state as a snapshot first (saveCurrentAs).
import { useState } from 'react';
import type { VmListEntry } from '../../../engine/api/channels.ts';
import { SNAPSHOT_DESCRIPTION_MAX } from '../../../engine/api/channels.ts';
import type { SnapshotTree } from '../../../engine/vm/types.ts';
import { vmIsLive } from '../app/actions.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { listSnapshots, nextSnapshotName, snapshotNameProblem } from '../app/snapshots.ts';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';
import { Check, DeleteWizard, snapshotChoiceStep, summaryStep, TextArea, TextField } from '../components/WizardParts.tsx';

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
              <TextField label="Name" value={name} onChange={setName} />
              <TextArea label="Description (optional)" rows={3} value={description} onChange={setDescription} />
              <Check checked={ram} onChange={setRam} disabled={!hasMachineState(vm)}>
                Include the machine's memory (RAM): restoring the snapshot resumes the machine as it was
              </Check>
              {!hasMachineState(vm) && <small className="muted">The VM is powered off: there is no memory to keep, only its disks.</small>}
            </div>
          ),
          validate: () => snapshotNameProblem(name, tree) ?? (description.trim().length > SNAPSHOT_DESCRIPTION_MAX ? `Description: at most ${SNAPSHOT_DESCRIPTION_MAX} characters.` : undefined),
        },
        summaryStep([
          ['VM', vm.name],
          ['Snapshot', name.trim()],
          ['Description', description.trim() || '(none)'],
          ['Keeps', `the disks${ram ? `, and ${memory} with the devices' state` : ''}`],
        ], ram && vm.state === 'running' && <p>The VM pauses while its memory is written, then runs on.</p>),
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
        snapshotChoiceStep({
          choices: listed.map(({ node, depth }) => ({
            value: node.id,
            depth,
            label: <><strong>{node.name}</strong>{node.ram ? ' (with RAM)' : ''}</>,
            detail: `${formatTime(node.created)}${node.id === tree?.current.parent ? ' · the current state grew from it' : ''}`,
          })),
          value: chosen,
          onChange: setChosen,
          none: 'This VM has no snapshots yet.',
        }),
        {
          id: 'current',
          title: 'Current state',
          content: (
            <div className="fields">
              <p>Restoring replaces the current state{live ? ' (the machine now running, its memory and its disks)' : vm.state === 'saved' ? ' (the disks and the saved machine state)' : ' (the disks)'}.</p>
              <Check checked={saveFirst} onChange={setSaveFirst}>Save the current state first, as a snapshot</Check>
              <TextField label="Name of that snapshot" value={saveName} onChange={setSaveName} disabled={!saveFirst} />
            </div>
          ),
          validate: () => (saveFirst ? snapshotNameProblem(saveName, tree) : undefined),
        },
        summaryStep([
          ['Restore', snapshot ? `${snapshot.name} (${formatTime(snapshot.created)})` : ''],
          ['Current state', saveFirst ? `kept as the snapshot "${saveName.trim()}"` : 'discarded: changes since then are lost'],
          ['Then', outcome],
        ]),
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
    <DeleteWizard
      title={`Delete Snapshot ${node.name}`}
      removed={`the snapshot "${node.name}"${node.ram ? ' and the machine memory it keeps' : ''}.`}
      kept={`what grew from it (${node.children.length ? node.children.map((c) => `"${c.name}"`).join(', ') : 'its changes'}${tree?.current.parent === node.id ? ', the current state' : ''}): its disk changes are merged into them.`}
      notes={node.freedByDelete === null
        ? <li>Linked clones ({node.linkedClones.join(', ')}) use its disks: delete them first; the engine refuses until then.</li>
        : <li>Gives back about {formatBytes(Math.max(0, node.freedByDelete))} on disk.</li>}
      finishLabel="Delete snapshot"
      label="Deleting the snapshot (merging its disks)"
      work={async (operation) => { await client.invoke('vms:deleteSnapshot', { vm: vm.id, snapshot, operation }); }}
      onClose={onClose}
    />
  );
}
