// A container's snapshots as a tree: its image at the root, each snapshot grown from the one
// before, and the current state marked. (A container's snapshots form one line; a VM's branch.)
import type { ContainerInfo, SnapshotInfo } from '../../../engine/api/channels.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { ErrorMessage } from './ErrorMessage.tsx';
import { Tree, type TreeNode } from './Tree.tsx';

interface Props {
  container: ContainerInfo;
  snapshots: SnapshotInfo[];
  error?: string;
  onRestore: (snapshot: string) => void;
  onTake: () => void;
}

export function ContainerSnapshotsTree({ container, snapshots, error, onRestore, onTake }: Props) {
  const canRestore = container.status === 'created' || container.status === 'exited';
  // Built from the newest back: each snapshot holds the ones after it.
  let tail: TreeNode = { key: 'current', current: true, className: 'current-node', content: 'Current state' };
  for (const s of [...snapshots].reverse()) {
    tail = {
      key: s.id,
      className: 'snapshot-node',
      children: [tail],
      content: (
        <>
          <span className="snapshot-id">{s.id}</span>
          <span className="muted">{formatTime(s.created)} · {formatBytes(s.layer.size)}</span>
          <button type="button" className="link" onClick={() => onRestore(s.id)} title={canRestore ? undefined : 'The wizard stops the container first'}>
            Restore…
          </button>
        </>
      ),
    };
  }
  return (
    <div className="snapshots">
      <div className="pane-bar">
        <button type="button" onClick={onTake}>Take Snapshot…</button>
      </div>
      <ErrorMessage message={error} />
      <Tree label={`Snapshots of ${container.name}`} roots={[{ key: 'image', className: 'image-node', content: `Image ${container.image}`, children: [tail] }]} />
      {snapshots.length === 0 && <p className="muted">No snapshots yet. A snapshot keeps the files the container changed, to return to later.</p>}
    </div>
  );
}
