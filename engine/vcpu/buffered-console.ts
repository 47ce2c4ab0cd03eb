// The device thread's console and agent back-end (device-thread.ts), between the devices and
// the owner's messages.
import type { CharBackend } from '../devices/char.ts';

/** Console and agent output is sent when this much is buffered, or this long after its first byte. */
const FLUSH_BYTES = 16 * 1024;
const FLUSH_MS = 2;
/** The most output held: what virtio-console may hand over before the next flush. */
export const BUFFER_BYTES = 4 * FLUSH_BYTES;

/**
 * Collects a console's output and hands it on in pieces (one message per byte would swamp the
 * owner), in one buffer of fixed size: virtio-console waits while it has no room (CharBackend
 * room); a write that does not fit (the UART's, which does not wait) sends what is buffered first.
 */
export class BufferedConsole implements CharBackend {
  private readonly buffer = new Uint8Array(BUFFER_BYTES);
  private bytes = 0;
  private since = 0;

  constructor(private readonly backend: CharBackend) {}

  write(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) {
      if (this.bytes === this.buffer.length) this.flush();
      if (this.bytes === 0) this.since = performance.now();
      const piece = bytes.subarray(at, at + this.room());
      this.buffer.set(piece, this.bytes);
      this.bytes += piece.length;
      at += piece.length;
    }
  }

  room(): number {
    return this.buffer.length - this.bytes;
  }

  read(): Uint8Array | null {
    return this.backend.read();
  }

  flushIfDue(now: number): void {
    if (this.bytes >= FLUSH_BYTES || (this.bytes > 0 && now - this.since >= FLUSH_MS)) this.flush();
  }

  flush(): void {
    if (this.bytes === 0) return;
    this.backend.write(this.buffer.slice(0, this.bytes));
    this.bytes = 0;
  }
}
