// The toolbar: each action enabled only where the selected item's state allows it.
import type { AppInfo } from '../../../engine/api/channels.ts';
import type { Action } from '../app/actions.ts';

type Feature = AppInfo['features']['vms'];

export interface ToolbarProps {
  allowed: ReadonlySet<Action>;
  paused: boolean;
  /** What the engine can do here, and why not (app:info's features). */
  vms?: Feature;
  containers?: Feature;
  onNewVm: () => void;
  onNewContainer: () => void;
  onAction: (action: Action) => void;
  onPreferences: () => void;
}

const ITEMS: { action: Action; label: string; icon: string; title: string }[] = [
  { action: 'start', label: 'Start', icon: '▶', title: 'Start the machine (a saved VM resumes where it was)' },
  { action: 'pause', label: 'Pause', icon: '❚❚', title: 'Freeze the machine in memory' },
  { action: 'stop', label: 'Stop', icon: '■', title: 'Ask the machine to shut down' },
  { action: 'force-stop', label: 'Force Stop', icon: '⚡', title: 'Power off at once, without asking the guest' },
  { action: 'save', label: 'Save State', icon: '⤓', title: 'Suspend the VM to disk' },
  { action: 'snapshot', label: 'Take Snapshot', icon: '◉', title: 'Keep the current state to return to' },
  { action: 'restore', label: 'Restore Snapshot', icon: '↺', title: 'Return to a snapshot' },
  { action: 'clone', label: 'Clone', icon: '❐', title: 'Make a new VM from this one' },
  { action: 'delete', label: 'Delete', icon: '✕', title: 'Delete the machine' },
];

export function Toolbar({ allowed, paused, vms, containers, onNewVm, onNewContainer, onAction, onPreferences }: ToolbarProps) {
  return (
    <div className="toolbar" role="toolbar" aria-label="Actions">
      <button type="button" onClick={onNewVm} disabled={!vms?.available} title={vms?.available ? undefined : vms?.reason}>
        <span className="icon" aria-hidden="true">✚</span>New VM
      </button>
      <button type="button" onClick={onNewContainer} disabled={!containers?.available} title={containers?.available ? undefined : containers?.reason}>
        <span className="icon" aria-hidden="true">✚</span>New Container
      </button>
      <span className="separator" />
      {ITEMS.map(({ action, label, icon, title }) => {
        // Pause and Resume share a place: the state decides which it is.
        const act: Action = action === 'pause' && paused ? 'resume' : action;
        const text = act === 'resume' ? 'Resume' : label;
        return (
          <button key={action} type="button" disabled={!allowed.has(act)} onClick={() => onAction(act)} title={title}>
            <span className="icon" aria-hidden="true">{act === 'resume' ? '▶' : icon}</span>
            {text}
          </button>
        );
      })}
      <span className="spacer" />
      <button type="button" onClick={onPreferences}>Preferences</button>
    </div>
  );
}
