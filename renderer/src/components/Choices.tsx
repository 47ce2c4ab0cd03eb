// A radio group as the wizards use it: one labelled group, each choice with an optional line
// that explains it (its description) and an indent (a snapshot's depth in its tree).
import type { ReactNode } from 'react';

export interface Choice<T extends string> {
  value: T;
  label: ReactNode;
  detail?: ReactNode;
  depth?: number;
  disabled?: boolean;
}

interface Props<T extends string> {
  /** The group's accessible name. */
  label: string;
  /** The radio inputs' name (unique in the wizard). */
  name: string;
  choices: Choice<T>[];
  value: T;
  onChange: (value: T) => void;
}

export function Choices<T extends string>({ label, name, choices, value, onChange }: Props<T>) {
  return (
    <div role="radiogroup" aria-label={label} className="choices">
      {choices.map((c) => {
        const detailId = c.detail ? `${name}-${c.value}-detail` : undefined;
        return (
          <label key={c.value} style={c.depth ? { paddingLeft: c.depth * 18 } : undefined}>
            <input type="radio" name={name} checked={value === c.value} onChange={() => onChange(c.value)} disabled={c.disabled} aria-describedby={detailId} />
            <span>
              <span>{c.label}</span>
              {c.detail && <small id={detailId} className="muted">{c.detail}</small>}
            </span>
          </label>
        );
      })}
    </div>
  );
}
