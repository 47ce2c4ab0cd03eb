// The pieces the wizards of both families (VMs and containers) are made of: fields, the summary
// list, the "what is removed" step of every Delete, the choice of a snapshot to restore, and
// the explicit "stop it first" of a machine that runs.
import { Fragment, type ReactNode } from 'react';
import { Choices, type Choice } from './Choices.tsx';
import { Wizard, type WizardStep, type Work } from './Wizard.tsx';

/** A labelled one-line text field. */
export function TextField({ label, value, onChange, hint, placeholder, disabled }: {
  label: string; value: string; onChange: (value: string) => void; hint?: ReactNode; placeholder?: string; disabled?: boolean;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <input value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} disabled={disabled} spellCheck={false} autoComplete="off" />
      {hint && <small>{hint}</small>}
    </label>
  );
}

/** A labelled number field; the wizard checks what is typed (numberProblem) before going on. */
export function NumberField({ label, value, onChange, min, max, hint, disabled, placeholder }: {
  label: string; value: string; onChange: (value: string) => void; min?: number; max?: number; hint?: ReactNode; disabled?: boolean; placeholder?: string;
}) {
  const bounded = min !== undefined || max !== undefined;
  return (
    <label className="field">
      <span>{label}</span>
      <input type={bounded ? 'number' : 'text'} inputMode="decimal" min={min} max={max === Infinity ? undefined : max} value={value}
        onChange={(e) => onChange(e.target.value)} disabled={disabled} placeholder={placeholder} />
      {hint && <small>{hint}</small>}
    </label>
  );
}

/** Several lines of text; Ctrl+Enter goes on to the next step, as Enter does in a one-line field. */
export function TextArea({ label, value, onChange, rows, hint, placeholder }: {
  label: string; value: string; onChange: (value: string) => void; rows: number; hint?: string; placeholder?: string;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <textarea rows={rows} value={value} onChange={(e) => onChange(e.target.value)} spellCheck={false} placeholder={placeholder}
        onKeyDown={(e) => { if (e.key === 'Enter' && e.ctrlKey) e.currentTarget.form?.requestSubmit(); }} />
      <small>{hint ? `${hint} ` : ''}Ctrl+Enter goes on.</small>
    </label>
  );
}

export function Check({ checked, onChange, disabled, className, children }: {
  checked: boolean; onChange: (checked: boolean) => void; disabled?: boolean; className?: string; children: ReactNode;
}) {
  return (
    <label className={`check${className ? ` ${className}` : ''}`}>
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} disabled={disabled} />
      {children}
    </label>
  );
}

/** The summary list a last step shows: [term, what] rows; a row with no `what` is left out. */
export function Summary({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="summary">
      {rows.filter(([, what]) => what !== undefined && what !== false).map(([term, what]) => (
        <Fragment key={term}><dt>{term}</dt><dd>{what}</dd></Fragment>
      ))}
    </dl>
  );
}

export const summaryStep = (rows: [string, ReactNode][], after?: ReactNode): WizardStep => ({
  id: 'summary',
  title: 'Summary',
  content: after ? <div className="fields"><Summary rows={rows} />{after}</div> : <Summary rows={rows} />,
});

/** The step that chooses the snapshot to restore: one of `choices`, or nothing to restore yet. */
export function snapshotChoiceStep<T extends string>({ choices, value, onChange, none }: {
  choices: Choice<T>[]; value: T; onChange: (value: T) => void; none: string;
}): WizardStep {
  return {
    id: 'choose',
    title: 'Snapshot',
    content: choices.length
      ? <Choices label="Snapshot to restore" name="snapshot" choices={choices} value={value} onChange={onChange} />
      : <p>{none}</p>,
    validate: () => (choices.some((c) => c.value === value) ? undefined : 'Choose a snapshot.'),
  };
}

/**
 * The engine removes only a machine that does not run (`vms:remove`, `containers:remove`
 * without force, `hangar vm rm`). Stopping it first is the person's choice, asked here; left
 * unchecked, the engine's refusal is shown in the wizard.
 */
export function StopFirst({ state, checked, onChange, how }: { state: string; checked: boolean; onChange: (checked: boolean) => void; how: string }) {
  return (
    <Check checked={checked} onChange={onChange}>
      It is {state}, and only a machine that does not run can be deleted: stop it first ({how})
    </Check>
  );
}

/** A wizard of one step that says what will happen, then does it (Take Snapshot of a container, Save State, Delete). */
export function OneStepWizard({ title, stepTitle, children, finishLabel, label, work, onClose }: {
  title: string; stepTitle: string; children: ReactNode; finishLabel: string; label: string; work: Work; onClose: () => void;
}) {
  return (
    <Wizard
      title={title}
      steps={[{ id: 'summary', title: stepTitle, content: <div className="fields">{children}</div> }]}
      finishLabel={finishLabel}
      finish={{ label, work }}
      onClose={onClose}
    />
  );
}

/** Every Delete: one step saying what goes and what is kept, then the removal. */
export function DeleteWizard({ title, removed, kept, notes, extra, finishLabel = 'Delete', label = 'Deleting', work, onClose }: {
  title: string;
  removed: ReactNode;
  kept: ReactNode;
  /** More lines of the list (linked clones in the way, space given back). */
  notes?: ReactNode;
  /** Below the list: the choice to stop a running machine first. */
  extra?: ReactNode;
  finishLabel?: string;
  label?: string;
  work: Work;
  onClose: () => void;
}) {
  return (
    <OneStepWizard title={title} stepTitle="What is removed" finishLabel={finishLabel} label={label} work={work} onClose={onClose}>
      <ul>
        <li>Removed: {removed}</li>
        <li>Kept: {kept}</li>
        {notes}
      </ul>
      {extra}
    </OneStepWizard>
  );
}
