// The toolbar: each action enabled only where the selected item's state allows it.
import type { Action } from '../app/actions.ts';

export interface ToolbarProps {
  allowed: ReadonlySet<Action>;
  paused: boolean;
  canCreateContainer: boolean;
  vmsReason?: string;
  onNewContainer: () => void;
  onAction: (action: Action) => void;
  onPreferences: () => void;
}

const ITEMS: { action: Action; label: string; icon: string }[] = [
  { action: 'start', label: 'Start', icon: '▶' },
  { action: 'pause', label: 'Pause', icon: '❚❚' },
  { action: 'stop', label: 'Stop', icon: '■' },
  { action: 'snapshot', label: 'Take Snapshot', icon: '◉' },
  { action: 'restore', label: 'Restore Snapshot', icon: '↺' },
  { action: 'delete', label: 'Delete', icon: '✕' },
];

export function Toolbar({ allowed, paused, canCreateContainer, vmsReason, onNewContainer, onAction, onPreferences }: ToolbarProps) {
  return (
    <div className="toolbar" role="toolbar" aria-label="Actions">
      <span className="brand" aria-hidden="true">Hangar</span>
      <button type="button" disabled title={vmsReason}>
        <span className="icon" aria-hidden="true">✚</span>New VM
      </button>
      <button type="button" onClick={onNewContainer} disabled={!canCreateContainer}>
        <span className="icon" aria-hidden="true">✚</span>New Container
      </button>
      <span className="separator" />
      {ITEMS.map(({ action, label, icon }) => {
        // Pause and Resume share a place: the state decides which it is.
        const act: Action = action === 'pause' && paused ? 'resume' : action;
        return (
          <button key={action} type="button" disabled={!allowed.has(act)} onClick={() => onAction(act)}>
            <span className="icon" aria-hidden="true">{act === 'resume' ? '▶' : icon}</span>
            {act === 'resume' ? 'Resume' : label}
          </button>
        );
      })}
      <span className="spacer" />
      <button type="button" onClick={onPreferences}>Preferences</button>
    </div>
  );
}
