// Delete for a container: says what goes and what is kept before anything is removed. A
// running container is stopped first only when asked to (the engine refuses otherwise).
import { useState } from 'react';
import type { ContainerInfo } from '../../../engine/api/channels.ts';
import { containerIsLive } from '../app/actions.ts';
import { useClient } from '../components/context.ts';
import { DeleteWizard, StopFirst } from '../components/WizardParts.tsx';

export function DeleteContainerWizard({ container, onClose, onDeleted }: { container: ContainerInfo; onClose: () => void; onDeleted: () => void }) {
  const client = useClient();
  const live = containerIsLive(container.status);
  const [stopFirst, setStopFirst] = useState(false);
  return (
    <DeleteWizard
      title={`Delete ${container.name}`}
      removed="the container, its writable layer, its log and its snapshots."
      kept={<>the image <strong>{container.image}</strong>, and images committed from its snapshots.</>}
      extra={live && <StopFirst state={container.status} checked={stopFirst} onChange={setStopFirst} how="its processes are killed" />}
      work={async () => {
        await client.invoke('containers:remove', { container: container.id, force: live && stopFirst });
        onDeleted();
      }}
      onClose={onClose}
    />
  );
}
