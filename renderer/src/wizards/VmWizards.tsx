// Clone, Suspend (save state), Resume and Delete for a VM: what each does is said before it is
// done; the long ones show the engine's progress and can be cancelled. A running VM is
// stopped before its deletion only when asked to: the engine refuses to remove one.
import { useState } from 'react';
import type { VmDetails, VmListEntry } from '../../../engine/api/channels.ts';
import type { SnapshotTree } from '../../../engine/vm/types.ts';
import { vmIsLive } from '../app/actions.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { listSnapshots } from '../app/snapshots.ts';
import { freeName, vmNameProblem } from '../app/validation.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';
import { DeleteWizard, OneStepWizard, StopFirst, summaryStep, TextField } from '../components/WizardParts.tsx';

interface Props {
  vm: VmListEntry;
  onClose: () => void;
}

const CURRENT = '';

export function CloneVmWizard({ vm, vms, tree, initial, onClose, onCloned }: Props & { vms: VmListEntry[]; tree: SnapshotTree | undefined; initial?: string; onCloned: (clone: VmDetails) => void }) {
  const client = useClient();
  const listed = listSnapshots(tree);
  const [name, setName] = useState(() => freeName(`${vm.name}-clone`, vms.map((v) => v.name)));
  const [linked, setLinked] = useState(false);
  const [source, setSource] = useState(initial ?? CURRENT);
  const from = listed.find((s) => s.node.id === source)?.node;
  return (
    <Wizard
      title={`Clone ${vm.name}`}
      steps={[
        {
          id: 'name',
          title: 'Name',
          content: (
            <div className="fields">
              <TextField label="Name of the clone" value={name} onChange={setName} />
              <p className="muted">A clone gets its own MAC address, disk serials and machine id, and starts powered off: memory is never cloned.</p>
            </div>
          ),
          validate: () => vmNameProblem(name, vms),
        },
        {
          id: 'type',
          title: 'Type',
          content: (
            <Choices
              label="Type of clone"
              name="clone-type"
              choices={[
                { value: 'full', label: <strong>Full clone</strong>, detail: 'an independent copy of the disks: takes the time and the space of a copy.' },
                { value: 'linked', label: <strong>Linked clone</strong>, detail: "new disks over a snapshot's frozen ones: quick and small, but that snapshot stays while the clone exists." },
              ]}
              value={linked ? 'linked' : 'full'}
              onChange={(type) => setLinked(type === 'linked')}
            />
          ),
        },
        {
          id: 'source',
          title: 'Source',
          content: (
            <Choices
              label="Clone from"
              name="clone-source"
              choices={[
                { value: CURRENT, label: <strong>The current state</strong>, detail: linked ? `a snapshot "linked clone ${name}" is taken first` : undefined },
                ...listed.map(({ node, depth }) => ({ value: node.id, depth, label: <strong>{node.name}</strong>, detail: formatTime(node.created) })),
              ]}
              value={source}
              onChange={setSource}
            />
          ),
        },
        summaryStep([
          ['Clone', vm.name],
          ['From', from ? `snapshot ${from.name}` : 'the current state'],
          ['As', `${name} — ${linked ? 'linked clone' : 'full clone'}, powered off`],
        ]),
      ]}
      finishLabel="Clone"
      finish={{
        label: linked ? 'Making the linked clone' : 'Copying the disks',
        work: async (operation) => {
          onCloned(await client.invoke('vms:clone', { vm: vm.id, name, linked, snapshot: from?.id, operation }));
        },
      }}
      onClose={onClose}
    />
  );
}

export function SuspendVmWizard({ vm, onClose }: Props) {
  const client = useClient();
  const memory = vm.memory === undefined ? 'its memory' : `its memory (up to ${formatBytes(vm.memory * 1024 * 1024)}, pages never used are not written)`;
  return (
    <OneStepWizard
      title={`Save the state of ${vm.name}`}
      stepTitle="Suspend to disk"
      finishLabel="Save state"
      label="Saving the machine state"
      work={async (operation) => { await client.invoke('vms:save', { vm: vm.id, operation }); }}
      onClose={onClose}
    >
      <p>The machine is paused, {memory} and its devices' state are written into the VM's folder, and the machine stops.</p>
      <p>Starting the VM later resumes it where it was (the guest's clock is then set to the host's). Until then its vCPUs and memory cannot be changed.</p>
    </OneStepWizard>
  );
}

export function ResumeVmWizard({ vm, onClose, onStarted }: Props & { onStarted: () => void }) {
  const client = useClient();
  const [discard, setDiscard] = useState(false);
  return (
    <Wizard
      title={`Resume ${vm.name}`}
      steps={[{
        id: 'choose',
        title: 'Saved state',
        content: (
          <Choices
            label="How to start"
            name="resume"
            choices={[
              { value: 'resume', label: <strong>Resume</strong>, detail: 'the machine goes on where it was saved.' },
              { value: 'discard', label: <strong>Discard the saved state and boot afresh</strong>, detail: 'as after pulling the plug: what the guest had not written to disk is lost.' },
            ]}
            value={discard ? 'discard' : 'resume'}
            onChange={(choice) => setDiscard(choice === 'discard')}
          />
        ),
      }]}
      finishLabel={discard ? 'Discard and boot' : 'Resume'}
      finish={{
        label: discard ? 'Booting' : 'Resuming',
        work: async (operation) => {
          if (discard) await client.invoke('vms:discardState', { vm: vm.id });
          onStarted();
          await client.invoke('vms:start', { vm: vm.id, operation });
        },
      }}
      onClose={onClose}
    />
  );
}

export function DeleteVmWizard({ vm, details, onClose, onDeleted }: Props & { details?: VmDetails; onDeleted: () => void }) {
  const client = useClient();
  const live = vmIsLive(vm.state);
  const [stopFirst, setStopFirst] = useState(false);
  const snapshots = details?.snapshots ?? vm.snapshots ?? 0;
  const disks = details?.disks.length;
  return (
    <DeleteWizard
      title={`Delete ${vm.name}`}
      removed={<>
        the VM's folder{details ? ` (${formatBytes(details.sizeOnDisk)})` : ''}: its definition, its {disks ?? ''} disk{disks === 1 ? '' : 's'},
        {' '}{snapshots} snapshot{snapshots === 1 ? '' : 's'}{details?.savedState ? ', its saved state' : ''} and its boot files.
      </>}
      kept="full clones made from it, and the downloaded guest in the cache (other VMs use it)."
      notes={details && details.linkedClones.length > 0 && (
        <li>Linked clones ({details.linkedClones.join(', ')}) use its snapshots: delete them first; the engine refuses until then.</li>
      )}
      extra={live && <StopFirst state={vm.state} checked={stopFirst} onChange={setStopFirst} how="powered off at once, without asking the guest: unsaved guest data is lost" />}
      work={async (operation) => {
        if (live && stopFirst) await client.invoke('vms:stop', { vm: vm.id, force: true });
        await client.invoke('vms:remove', { vm: vm.id, operation });
        onDeleted();
      }}
      onClose={onClose}
    />
  );
}
