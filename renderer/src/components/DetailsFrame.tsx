// The details pane's frame, for every kind of machine: a header (icon, name, what it is and its
// state) and views as tabs (arrow keys move between them).
import type { KeyboardEvent, ReactNode } from 'react';

export type Tab = 'details' | 'terminal' | 'logs' | 'snapshots';

interface Props {
  kind: 'vm' | 'container';
  name: string;
  subtitle: ReactNode;
  tabs: { id: Tab; label: string }[];
  tab: Tab;
  onTab: (tab: Tab) => void;
  children: ReactNode;
}

export function DetailsFrame({ kind, name, subtitle, tabs, tab, onTab, children }: Props) {
  function onKeyDown(e: KeyboardEvent) {
    const at = tabs.findIndex((t) => t.id === tab);
    const to = e.key === 'ArrowRight' ? at + 1 : e.key === 'ArrowLeft' ? at - 1 : undefined;
    if (to === undefined) return;
    e.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length]!;
    onTab(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  }
  return (
    <section className="details" aria-labelledby="details-title">
      <header className="details-header">
        <span className={`machine-icon ${kind} large`} aria-hidden="true" />
        <div>
          <h1 id="details-title">{name}</h1>
          <div className="subtitle">{subtitle}</div>
        </div>
      </header>
      <div role="tablist" aria-label="Views" className="tabs" onKeyDown={onKeyDown}>
        {tabs.map((t) => (
          <button key={t.id} id={`tab-${t.id}`} type="button" role="tab" aria-selected={tab === t.id} aria-controls={`panel-${t.id}`} tabIndex={tab === t.id ? 0 : -1} onClick={() => onTab(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel">
        {children}
      </div>
    </section>
  );
}
