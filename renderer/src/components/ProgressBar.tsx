import type { Progress } from '../../../engine/api/channels.ts';
import { formatBytes } from '../app/format.ts';

/** A long step's progress: determinate when the engine knows the total. */
export function ProgressBar({ label, progress }: { label: string; progress?: Progress }) {
  const total = progress?.total;
  const done = progress?.done ?? 0;
  const detail = progress ? `${progress.phase}${progress.item ? ` ${progress.item.replace(/sha256:([0-9a-f]{12})[0-9a-f]+/, '$1')}` : ''}` : 'starting…';
  return (
    <div className="progress">
      <div className="progress-label">{label}</div>
      <progress aria-label={label} value={total ? done : undefined} max={total || undefined} />
      <div className="progress-detail" aria-live="polite">
        {detail}{total ? ` — ${formatBytes(done)} of ${formatBytes(total)}` : ''}
      </div>
    </div>
  );
}
