// Delete: says what goes and what is kept before anything is removed.
import type { ContainerInfo } from '../../../engine/api/channels.ts';
import { useClient } from '../components/context.ts';
import { Wizard } from '../components/Wizard.tsx';

export function DeleteContainerWizard({ container, onClose, onDeleted }: { container: ContainerInfo; onClose: () => void; onDeleted: () => void }) {
  const client = useClient();
  const live = container.status === 'running' || container.status === 'paused';
  return (
    <Wizard
      title={`Delete ${container.name}`}
      steps={[{
        id: 'summary',
        title: 'What is removed',
        content: (
          <div className="fields">
            <ul>
              <li>Removed: the container, its writable layer, its log and its snapshots.</li>
              <li>Kept: the image <strong>{container.image}</strong>, and images committed from its snapshots.</li>
              {live && <li>It is {container.status}: its processes are killed first.</li>}
            </ul>
          </div>
        ),
      }]}
      finishLabel="Delete"
      finish={{
        label: 'Deleting',
        work: async () => {
          await client.invoke('containers:remove', { container: container.id, force: live });
          onDeleted();
        },
      }}
      onClose={onClose}
    />
  );
}
