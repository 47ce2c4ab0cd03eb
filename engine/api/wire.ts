// The WebSocket transport's messages: JSON text, with bytes (terminal output, logs) carried as
// {"$bytes": base64} so that a Uint8Array arrives as one. Portable (browser and Node).
import type { ApiEvent, Result } from './channels.ts';

export type ClientMessage = { type: 'call'; id: number; channel: string; args: unknown };
export type ServerMessage =
  | { type: 'result'; id: number; result: Result<unknown> }
  | { type: 'event'; event: ApiEvent };

const CHUNK = 0x8000;

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function encode(message: ClientMessage | ServerMessage): string {
  // The holder's own property, not `value`: JSON.stringify has already applied a Node Buffer's toJSON to `value`.
  return JSON.stringify(message, function (this: Record<string, unknown>, key, value: unknown) {
    const original = this[key];
    return original instanceof Uint8Array ? { $bytes: toBase64(original) } : value;
  });
}

/** Parses a message; throws SyntaxError for text that is not JSON or not valid base64. */
export function decode(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const bytes = (value as { $bytes?: unknown }).$bytes;
      if (keys.length === 1 && typeof bytes === 'string') return fromBase64(bytes);
    }
    return value;
  });
}

/** A call message as sent by a client, or undefined when the text is not one. */
export function parseCall(text: string): ClientMessage | undefined {
  let message: unknown;
  try {
    message = decode(text);
  } catch {
    return undefined;
  }
  const m = message as Partial<ClientMessage> | null;
  if (typeof m !== 'object' || m === null || m.type !== 'call' || !Number.isSafeInteger(m.id) || typeof m.channel !== 'string') return undefined;
  return m as ClientMessage;
}
