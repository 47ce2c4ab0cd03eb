// A character back-end: where a console device (the UART, a virtio-console port) sends the
// bytes the guest writes and finds the bytes typed into it. The terminal, a test harness or
// the desktop app's xterm.js sit behind it; the device model never knows which.
export interface CharBackend {
  /** Bytes the guest wrote. The back-end must copy them if it keeps them. */
  write(bytes: Uint8Array): void;
  /**
   * How many bytes write() takes now before its buffer is full (back-pressure: a device with
   * more waits for a later poll). Absent: the back-end keeps nothing, any amount is fine.
   */
  room?(): number;
  /** Bytes waiting to be typed into the guest, or null when there are none. */
  read(): Uint8Array | null;
}

/** A back-end with nothing behind it: output is dropped, no input ever arrives. */
export const nullCharBackend: CharBackend = {
  write: () => {},
  read: () => null,
};

/**
 * `held` followed by every byte the back-end has waiting: a console device's quiesce (before a
 * save), so that input on its way to the guest is saved with the device instead of lost.
 */
export function withWaitingInput(held: Uint8Array, backend: CharBackend): Uint8Array {
  const parts = [held];
  for (let bytes; (bytes = backend.read());) parts.push(bytes.slice());
  return parts.length === 1 ? held : Buffer.concat(parts);
}
