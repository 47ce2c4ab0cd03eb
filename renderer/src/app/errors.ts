// How the UI words an engine error: the engine's message (it names what was refused and why),
// led by a few words the error's code picks (engine/common/errors.ts), so that a damaged file or
// a part that does not answer reads as such whatever the operation was.
import { ApiRequestError } from '../../../engine/api/client.ts';
import type { ErrorCode } from '../../../engine/api/channels.ts';

const LEAD: Partial<Record<ErrorCode, string>> = {
  corrupt: 'Damaged file',
  unavailable: 'Not answering',
  unsupported: 'Not on this host',
};

/** The text shown for an error of `action` (a wizard's label, a toolbar action). */
export function errorText(err: unknown, action: string): string {
  if (!(err instanceof ApiRequestError)) return err instanceof Error ? err.message : String(err);
  if (err.code === 'cancelled') return `${action}: cancelled.`;
  const lead = LEAD[err.code];
  return lead ? `${lead}: ${err.message}` : err.message;
}
