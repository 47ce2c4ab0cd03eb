// A wizard: steps listed on the left, one step's form on the right, Back / Next / Finish /
// Cancel. Enter goes to the next step (each step is a form), Escape cancels (a running step
// first, the wizard then). A step may do long work on leaving it (a pull): it shows progress
// and can be cancelled, and an engine error is shown in place.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { Progress } from '../../../engine/api/channels.ts';
import { errorText } from '../app/errors.ts';
import { newOperationId, useClient } from './context.ts';
import { ErrorMessage } from './ErrorMessage.tsx';
import { ProgressBar } from './ProgressBar.tsx';

/** Long work: gets the operation id to pass to the engine call. */
export type Work = (operation: string) => Promise<void>;

export interface WizardStep {
  id: string;
  title: string;
  content: ReactNode;
  /** Why the step cannot be left yet, or undefined. */
  validate?: () => string | undefined;
  /** Long work done on Next, with the label shown beside its progress. */
  onNext?: { label: string; work: Work };
}

interface Props {
  title: string;
  steps: WizardStep[];
  finishLabel: string;
  finish: { label: string; work: Work };
  onClose: () => void;
}

export function Wizard({ title, steps, finishLabel, finish, onClose }: Props) {
  const client = useClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const body = useRef<HTMLDivElement>(null);
  const [index, setIndex] = useState(0);
  const [error, setError] = useState<string>();
  const [running, setRunning] = useState<{ operation: string; label: string; progress?: Progress }>();
  const step = steps[Math.min(index, steps.length - 1)]!;
  const last = index === steps.length - 1;

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  // Each step starts with focus on its first control (of a radio group, the chosen one), or, on
  // a step without one, its Next/Finish.
  useEffect(() => {
    const first = body.current?.querySelector<HTMLElement>('input:not([disabled]):not([type="radio"]), input[type="radio"]:checked, select, textarea');
    (first ?? dialog.current?.querySelector<HTMLElement>('footer button[type="submit"]'))?.focus();
  }, [index]);

  useEffect(() => {
    if (!running) return;
    return client.subscribe((event) => {
      if (event.type === 'operation:progress' && event.operation === running.operation) {
        setRunning((r) => (r && r.operation === event.operation ? { ...r, progress: event.progress } : r));
      }
    });
  }, [client, running?.operation]);

  async function run(label: string, work: Work): Promise<boolean> {
    const operation = newOperationId('wizard');
    setRunning({ operation, label });
    setError(undefined);
    try {
      await work(operation);
      return true;
    } catch (err) {
      setError(errorText(err, label));
      return false;
    } finally {
      setRunning(undefined);
    }
  }

  async function next() {
    if (running) return;
    const problem = step.validate?.();
    setError(problem);
    if (problem) return;
    if (last) {
      if (await run(finish.label, finish.work)) onClose();
      return;
    }
    if (step.onNext && !(await run(step.onNext.label, step.onNext.work))) return;
    setIndex(index + 1);
  }

  function cancel() {
    if (running) void client.call('operations:cancel', { id: running.operation });
    else onClose();
  }

  return (
    <dialog
      ref={dialog}
      className="wizard"
      aria-labelledby="wizard-title"
      onCancel={(e) => {
        e.preventDefault();
        cancel();
      }}
    >
      {/* The steps check their fields themselves and say what is wrong in place. */}
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void next();
        }}
      >
        <header>
          <h2 id="wizard-title">{title}</h2>
        </header>
        <div className="wizard-main">
          <ol className="wizard-steps" aria-label="Steps">
            {steps.map((s, i) => (
              <li key={s.id} aria-current={i === index ? 'step' : undefined} className={i < index ? 'done' : undefined}>
                {s.title}
              </li>
            ))}
          </ol>
          <div className="wizard-body" ref={body}>
            <h3>{step.title}</h3>
            <fieldset disabled={Boolean(running)}>{step.content}</fieldset>
            {running && <ProgressBar label={running.label} progress={running.progress} />}
            <ErrorMessage message={error} />
          </div>
        </div>
        <footer>
          <button type="button" onClick={cancel}>{running ? 'Cancel operation' : 'Cancel'}</button>
          <span className="spacer" />
          <button type="button" onClick={() => { setError(undefined); setIndex(index - 1); }} disabled={index === 0 || Boolean(running)}>
            Back
          </button>
          <button type="submit" className="primary" disabled={Boolean(running)}>
            {last ? finishLabel : 'Next'}
          </button>
        </footer>
      </form>
    </dialog>
  );
}
