// A single-producer, single-consumer byte ring in a SharedArrayBuffer: how bytes cross between
// threads without either side yielding to its event loop (the vCPU loop never does).
import { HangarError } from '../common/errors.ts';
import { waitAsync } from './control.ts';

export const HEAD = 0; // next byte the consumer reads (consumer-owned)
export const TAIL = 1; // next byte the producer writes (producer-owned)
const HEADER_BYTES = 8;

/** The storage of a single-producer, single-consumer ring: its two positions and its bytes (one always left free). */
export class SharedRing {
  readonly buffer: SharedArrayBuffer;
  protected readonly index: Int32Array;
  protected readonly data: Uint8Array;

  /** Creates a ring of `capacity` bytes, or attaches to the buffer another thread created. */
  constructor(bufferOrCapacity: SharedArrayBuffer | number) {
    this.buffer = typeof bufferOrCapacity === 'number'
      ? new SharedArrayBuffer(HEADER_BYTES + bufferOrCapacity)
      : bufferOrCapacity;
    this.index = new Int32Array(this.buffer, 0, 2);
    this.data = new Uint8Array(this.buffer, HEADER_BYTES);
  }

  /** Bytes that can be written now. */
  free(): number {
    const size = this.data.length;
    return (Atomics.load(this.index, HEAD) - Atomics.load(this.index, TAIL) - 1 + size) % size;
  }
}

export class ByteRing extends SharedRing {
  /** Appends as many bytes as fit; returns how many were written. */
  write(bytes: Uint8Array): number {
    const size = this.data.length;
    const head = Atomics.load(this.index, HEAD);
    let tail = Atomics.load(this.index, TAIL);
    const free = (head - tail - 1 + size) % size;
    const n = Math.min(free, bytes.length);
    for (let i = 0; i < n; i++) {
      this.data[tail] = bytes[i]!;
      tail = (tail + 1) % size;
    }
    Atomics.store(this.index, TAIL, tail);
    return n;
  }

  /** Takes every byte waiting, or null when the ring is empty. A producer waiting for room is woken. */
  read(): Uint8Array | null {
    const size = this.data.length;
    let head = Atomics.load(this.index, HEAD);
    const tail = Atomics.load(this.index, TAIL);
    if (head === tail) return null;
    const out = new Uint8Array((tail - head + size) % size);
    for (let i = 0; i < out.length; i++) {
      out[i] = this.data[head]!;
      head = (head + 1) % size;
    }
    Atomics.store(this.index, HEAD, head);
    Atomics.notify(this.index, HEAD);
    return out;
  }

  /** The consumer's position, to pass to untilRead. */
  readSeen(): number {
    return Atomics.load(this.index, HEAD);
  }

  /** Resolves once the consumer has read since `seen` (or wake() is called); never blocks the caller's thread. */
  async untilRead(seen: number): Promise<void> {
    const wait = waitAsync(this.index, HEAD, seen, Infinity);
    if (wait.async) await wait.value;
  }

  /** Wakes every untilRead, as a read would (the producer gives up waiting). */
  wake(): void {
    Atomics.notify(this.index, HEAD);
  }
}

/** A RingFeeder refused bytes: its queue would grow past its cap. */
export class RingFullError extends HangarError {
  override name = 'RingFullError';
  constructor(message: string) {
    super('unavailable', message);
  }
}

interface Pending {
  bytes: Uint8Array;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The producer's side of a ByteRing for input that can come faster than the consumer takes it
 * (a paste into a paused machine's console, whose device thread reads nothing): what does not
 * fit waits here, at most `cap` bytes, and moves in as the consumer makes room — waited for with
 * Atomics.waitAsync, so the producer's event loop goes on. Each write resolves once its last byte
 * is in the ring: a caller that waits for it before writing more has back-pressure. Past the cap
 * a write is refused whole (RingFullError), nothing of it taken.
 */
export class RingFeeder {
  private readonly pending: Pending[] = [];
  private queued = 0;
  private pumping = false;
  private closed: Error | null = null;

  /** `written` is called after bytes went into the ring (to ring the consumer's bell). */
  constructor(private readonly ring: ByteRing, readonly cap: number, private readonly written: () => void) {}

  /** Bytes waiting here, not yet in the ring. */
  get waiting(): number {
    return this.queued;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    if (bytes.length > this.cap - this.queued) {
      return Promise.reject(new RingFullError(`${this.queued} bytes wait for the reader; ${bytes.length} more would pass the limit of ${this.cap}`));
    }
    let rest = bytes;
    if (this.pending.length === 0) {
      const n = this.ring.write(bytes);
      if (n > 0) this.written();
      if (n === bytes.length) return Promise.resolve();
      rest = bytes.subarray(n);
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ bytes: rest.slice(), resolve, reject });
      this.queued += rest.length;
      void this.pump();
    });
  }

  /** Takes every byte waiting here (a save carries them in the machine's state): their writes resolve. */
  takeWaiting(): Uint8Array {
    const taken = Buffer.concat(this.pending.map((p) => p.bytes));
    for (const p of this.pending.splice(0)) p.resolve();
    this.queued = 0;
    this.ring.wake();
    return taken;
  }

  /** Refuses every waiting and later write with `err` (the reader is gone). */
  close(err: Error): void {
    this.closed ??= err;
    for (const p of this.pending.splice(0)) p.reject(err);
    this.queued = 0;
    this.ring.wake();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0) {
        const seen = this.ring.readSeen();
        let moved = false;
        while (this.pending.length > 0) {
          const first = this.pending[0]!;
          const n = this.ring.write(first.bytes);
          if (n === 0) break;
          moved = true;
          this.queued -= n;
          first.bytes = first.bytes.subarray(n);
          if (first.bytes.length > 0) break;
          this.pending.shift();
          first.resolve();
        }
        if (moved) this.written();
        if (this.pending.length > 0) await this.ring.untilRead(seen);
      }
    } finally {
      this.pumping = false;
    }
  }
}
