// A container's snapshots as a tree: its image at the root, each snapshot in the order taken,
// and the current state marked. (A container's snapshots form one line; a VM's branch.)
import type { ContainerInfo, SnapshotInfo } from '../../../engine/api/channels.ts';
import { formatBytes, formatTime } from '../app/format.ts';
import { ErrorMessage } from './ErrorMessage.tsx';

interface Props {
  container: ContainerInfo;
  snapshots: SnapshotInfo[];
  error?: string;
  onRestore: (snapshot: string) => void;
  onTake: () => void;
}

export function SnapshotsTree({ container, snapshots, error, onRestore, onTake }: Props) {
  const canRestore = container.status === 'created' || container.status === 'exited';
  return (
    <div className="snapshots">
      <div className="pane-bar">
        <button type="button" onClick={onTake}>Take Snapshot…</button>
      </div>
      <ErrorMessage message={error} />
      <ul role="tree" aria-label={`Snapshots of ${container.name}`} className="tree">
        <li role="treeitem" aria-expanded="true" aria-level={1} aria-selected="false">
          <span className="node image-node">Image {container.image}</span>
          <ul role="group">
            {snapshots.map((s, i) => (
              <li key={s.id} role="treeitem" aria-level={2 + i} aria-selected="false" className="tree-item">
                <span className="node snapshot-node">
                  <span className="snapshot-id">{s.id}</span>
                  <span className="muted">{formatTime(s.created)} · {formatBytes(s.layer.size)}</span>
                  <button type="button" className="link" onClick={() => onRestore(s.id)} title={canRestore ? undefined : 'The wizard stops the container first'}>
                    Restore…
                  </button>
                </span>
              </li>
            ))}
            <li role="treeitem" aria-level={2 + snapshots.length} aria-selected="true" aria-current="true" className="tree-item">
              <span className="node current-node">Current state</span>
            </li>
          </ul>
        </li>
      </ul>
      {snapshots.length === 0 && <p className="muted">No snapshots yet. A snapshot keeps the files the container changed, to return to later.</p>}
    </div>
  );
}
