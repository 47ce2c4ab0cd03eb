// Take Snapshot and Restore Snapshot for a container: what happens is said before it happens,
// and a restore can keep the current state as a snapshot first.
import { useState } from 'react';
import type { ContainerInfo, SnapshotInfo } from '../../../engine/api/channels.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { Choices } from '../components/Choices.tsx';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';

interface Props {
  container: ContainerInfo;
  onClose: () => void;
  /** The container's snapshots changed. */
  onDone: () => void;
}

export function TakeSnapshotWizard({ container, onClose, onDone }: Props) {
  const client = useClient();
  const live = container.status === 'running';
  return (
    <Wizard
      title={`Take Snapshot of ${container.name}`}
      steps={[{
        id: 'summary',
        title: 'Summary',
        content: (
          <div className="fields">
            <p>
              The snapshot keeps the container's writable layer: every file changed since it was created from <strong>{container.image}</strong>.
            </p>
            {live && <p>The container is running: it is frozen for the moment the layer is copied, then goes on.</p>}
          </div>
        ),
      }]}
      finishLabel="Take snapshot"
      finish={{
        label: 'Taking the snapshot',
        work: async () => {
          await client.invoke('containers:snapshot', { container: container.id });
          onDone();
        },
      }}
      onClose={onClose}
    />
  );
}

export function RestoreSnapshotWizard({ container, snapshots, initial, onClose, onDone }: Props & { snapshots: SnapshotInfo[]; initial?: string }) {
  const client = useClient();
  const [chosen, setChosen] = useState(initial ?? snapshots.at(-1)?.id ?? '');
  const [saveFirst, setSaveFirst] = useState(true);
  const [startAfter, setStartAfter] = useState(container.status === 'running' || container.status === 'paused');
  const mustStop = container.status === 'running' || container.status === 'paused';
  const snapshot = snapshots.find((s) => s.id === chosen);
  return (
    <Wizard
      title={`Restore Snapshot of ${container.name}`}
      steps={[
        {
          id: 'choose',
          title: 'Snapshot',
          content: snapshots.length ? (
            <Choices
              label="Snapshot to restore"
              name="snapshot"
              choices={snapshots.map((s) => ({ value: s.id, label: `${s.id} — ${formatTime(s.created)} (${formatBytes(s.layer.size)})` }))}
              value={chosen}
              onChange={setChosen}
            />
          ) : <p>This container has no snapshots yet.</p>,
          validate: () => (snapshot ? undefined : 'Choose a snapshot.'),
        },
        {
          id: 'current',
          title: 'Current state',
          content: (
            <div className="fields">
              <label className="check">
                <input type="checkbox" checked={saveFirst} onChange={(e) => setSaveFirst(e.target.checked)} />
                Take a snapshot of the current state first
              </label>
              {mustStop && <p>The container is {container.status}: it is stopped before its layer is restored.</p>}
              <label className="check">
                <input type="checkbox" checked={startAfter} onChange={(e) => setStartAfter(e.target.checked)} />
                Start the container after restoring
              </label>
            </div>
          ),
        },
        {
          id: 'summary',
          title: 'Summary',
          content: (
            <dl className="summary">
              <dt>Restore</dt><dd>{snapshot ? `${snapshot.id} (${formatTime(snapshot.created)})` : ''}</dd>
              <dt>Current state</dt><dd>{saveFirst ? 'kept as a new snapshot' : 'discarded'}</dd>
              {mustStop && <><dt>First</dt><dd>stop the container</dd></>}
              <dt>Then</dt><dd>{startAfter ? 'start it' : 'leave it stopped'}</dd>
            </dl>
          ),
        },
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
