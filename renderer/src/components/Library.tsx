// The library: VMs and containers with their state and resource use. One listbox, arrows move
// the selection; groups for each kind of machine.
import type { KeyboardEvent } from 'react';
import { formatUsage, type Usage } from '../app/format.ts';

export interface LibraryItem {
  key: string;
  kind: 'vm' | 'container';
  name: string;
  /** The state, as a class name (state-running) and, unless statusText says otherwise, as shown. */
  status: string;
  statusText?: string;
  detail: string;
  /** Resource use measured by the engine, or a line of its own. */
  usage?: Usage;
  usageText?: string;
}

interface Props {
  groups: { label: string; items: LibraryItem[]; empty: string }[];
  selected?: string;
  onSelect: (key: string) => void;
}

export function Library({ groups, selected, onSelect }: Props) {
  const keys = groups.flatMap((g) => g.items.map((i) => i.key));
  function onKeyDown(e: KeyboardEvent) {
    const at = selected ? keys.indexOf(selected) : -1;
    const to = e.key === 'ArrowDown' ? at + 1 : e.key === 'ArrowUp' ? at - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? keys.length - 1 : undefined;
    if (to === undefined || !keys.length) return;
    e.preventDefault();
    onSelect(keys[Math.max(0, Math.min(keys.length - 1, to))]!);
  }
  return (
    <nav className="library" aria-label="Library">
      <div
        role="listbox"
        aria-label="Machines"
        tabIndex={0}
        aria-activedescendant={selected ? `item-${selected}` : undefined}
        onKeyDown={onKeyDown}
        onFocus={() => { if (!selected && keys[0]) onSelect(keys[0]); }}
      >
        {groups.map((group) => (
          <div role="group" aria-label={group.label} key={group.label}>
            <div className="group-label" aria-hidden="true">{group.label}</div>
            {group.items.length === 0 && <div className="group-empty">{group.empty}</div>}
            {group.items.map((item) => (
              <div
                key={item.key}
                id={`item-${item.key}`}
                role="option"
                aria-selected={item.key === selected}
                className={`item${item.key === selected ? ' selected' : ''}`}
                onClick={() => onSelect(item.key)}
              >
                <span className={`machine-icon ${item.kind}`} aria-hidden="true" />
                <span className="item-text">
                  <span className="item-name">{item.name}</span>
                  <span className="item-detail">{item.detail}</span>
                  <span className="item-usage">{item.usageText ?? (item.usage ? formatUsage(item.usage) : '')}</span>
                </span>
                <span className={`state state-${item.status}`}>{item.statusText ?? item.status}</span>
              </div>
            ))}
          </div>
        ))}
      </div>
    </nav>
  );
}
