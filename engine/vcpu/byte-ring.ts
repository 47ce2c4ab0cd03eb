// A single-producer, single-consumer byte ring in a SharedArrayBuffer: how bytes cross between
// threads without either side yielding to its event loop (the vCPU loop never does).
const HEAD = 0; // next byte the consumer reads (consumer-owned)
const TAIL = 1; // next byte the producer writes (producer-owned)
const HEADER_BYTES = 8;

export class ByteRing {
  readonly buffer: SharedArrayBuffer;
  private readonly index: Int32Array;
  private readonly data: Uint8Array;

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

  /** Takes every byte waiting, or null when the ring is empty. */
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
    return out;
  }
}
