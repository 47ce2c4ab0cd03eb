// Take Snapshot and Restore Snapshot for a container: what happens is said before it happens,
// and a restore can keep the current state as a snapshot first.
import { useState } from 'react';
import type { ContainerInfo, SnapshotInfo } from '../../../engine/api/channels.ts';
import { containerIsLive } from '../app/actions.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';
import { Check, OneStepWizard, snapshotChoiceStep, summaryStep } from '../components/WizardParts.tsx';

interface Props {
  container: ContainerInfo;
  onClose: () => void;
  /** The container's snapshots changed. */
  onDone: () => void;
}

export function TakeContainerSnapshotWizard({ container, onClose, onDone }: Props) {
  const client = useClient();
  return (
    <OneStepWizard
      title={`Take Snapshot of ${container.name}`}
      stepTitle="Summary"
      finishLabel="Take snapshot"
      label="Taking the snapshot"
      work={async () => {
        await client.invoke('containers:snapshot', { container: container.id });
        onDone();
      }}
      onClose={onClose}
    >
      <p>The snapshot keeps the container's writable layer: every file changed since it was created from <strong>{container.image}</strong>.</p>
      {container.status === 'running' && <p>The container is running: it is frozen for the moment the layer is copied, then goes on.</p>}
    </OneStepWizard>
  );
}

export function RestoreContainerSnapshotWizard({ container, snapshots, initial, onClose, onDone }: Props & { snapshots: SnapshotInfo[]; initial?: string }) {
  const client = useClient();
  const mustStop = containerIsLive(container.status);
  const [chosen, setChosen] = useState(initial ?? snapshots.at(-1)?.id ?? '');
  const [saveFirst, setSaveFirst] = useState(true);
  const [startAfter, setStartAfter] = useState(mustStop);
  const snapshot = snapshots.find((s) => s.id === chosen);
  return (
    <Wizard
      title={`Restore Snapshot of ${container.name}`}
      steps={[
        snapshotChoiceStep({
          choices: snapshots.map((s) => ({ value: s.id, label: `${s.id} — ${formatTime(s.created)} (${formatBytes(s.layer.size)})` })),
          value: chosen,
          onChange: setChosen,
          none: 'This container has no snapshots yet.',
        }),
        {
          id: 'current',
          title: 'Current state',
          content: (
            <div className="fields">
              <Check checked={saveFirst} onChange={setSaveFirst}>Take a snapshot of the current state first</Check>
              {mustStop && <p>The container is {container.status}: it is stopped before its layer is restored.</p>}
              <Check checked={startAfter} onChange={setStartAfter}>Start the container after restoring</Check>
            </div>
          ),
        },
        summaryStep([
          ['Restore', snapshot ? `${snapshot.id} (${formatTime(snapshot.created)})` : ''],
          ['Current state', saveFirst ? 'kept as a new snapshot' : 'discarded'],
          ['First', mustStop && 'stop the container'],
          ['Then', startAfter ? 'start it' : 'leave it stopped'],
        ]),
      ]}
      finishLabel="Restore"
      finish={{
        label: 'Restoring the snapshot',
        work: async () => {
          if (saveFirst) await client.invoke('containers:snapshot', { container: container.id });
          if (mustStop) await client.invoke('containers:stop', { container: container.id });
          await client.invoke('containers:restore', { container: container.id, snapshot: chosen });
          if (startAfter) await client.invoke('containers:start', { container: container.id });
          onDone();
        },
      }}
      onClose={onClose}
    />
  );
}
