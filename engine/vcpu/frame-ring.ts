// How Ethernet frames cross between a machine's device thread (virtio-net) and its net thread
// (the user-mode stack, net-thread.ts): a single-producer, single-consumer ring of whole frames
// in a SharedArrayBuffer, each behind a 4-byte length. A frame is written whole or not at all:
// a full ring refuses it, and the writer drops it or keeps it, as its side decides.
//
// One NetLink per NIC: a ring each way and a bell, the word the net thread waits on
// (Atomics.waitAsync) — rung by the device side when it sends a frame, and when it takes one
// from a ring the net thread found full (the `wantsRoom` word says so). The device thread is
// rung through the machine's control block instead (its device bell).
import type { NetBackend } from '../net/backend.ts';
import { HEAD, SharedRing, TAIL } from './byte-ring.ts';
import { waitAsync } from './control.ts';

const LENGTH_BYTES = 4;

export class FrameRing extends SharedRing {
  /** Appends `frame` whole; false (nothing written) when it does not fit now. */
  write(frame: Uint8Array): boolean {
    if (LENGTH_BYTES + frame.length > this.free()) return false;
    const tail = Atomics.load(this.index, TAIL);
    const length = new Uint8Array(LENGTH_BYTES);
    new DataView(length.buffer).setUint32(0, frame.length, true);
    const end = this.copyIn(this.copyIn(tail, length), frame);
    Atomics.store(this.index, TAIL, end); // publishes the frame (the copies above come first)
    return true;
  }

  /** The next frame, or null when the ring is empty. */
  read(): Uint8Array | null {
    const head = Atomics.load(this.index, HEAD);
    if (head === Atomics.load(this.index, TAIL)) return null;
    const length = this.copyOut(head, LENGTH_BYTES);
    const bytes = new DataView(length.buffer).getUint32(0, true);
    // Only our own threads write here; a length past the ring would be a host bug.
    if (bytes > this.data.length - LENGTH_BYTES - 1) throw new Error(`frame ring: a frame of ${bytes} bytes in a ring of ${this.data.length}`);
    const at = (head + LENGTH_BYTES) % this.data.length;
    const frame = this.copyOut(at, bytes);
    Atomics.store(this.index, HEAD, (at + bytes) % this.data.length);
    return frame;
  }

  private copyIn(at: number, bytes: Uint8Array): number {
    const first = Math.min(bytes.length, this.data.length - at);
    this.data.set(bytes.subarray(0, first), at);
    this.data.set(bytes.subarray(first), 0);
    return (at + bytes.length) % this.data.length;
  }

  private copyOut(at: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    const first = Math.min(n, this.data.length - at);
    out.set(this.data.subarray(at, at + first), 0);
    out.set(this.data.subarray(0, n - first), first);
    return out;
  }
}

/** The shared buffers of one NIC's link, as both threads are started with them. */
export interface NetLinkBuffers {
  /** FrameRing: frames the guest sent (device thread → net thread). */
  fromGuest: SharedArrayBuffer;
  /** FrameRing: frames for the guest (net thread → device thread). */
  toGuest: SharedArrayBuffer;
  /** Int32 words: 0 the net thread's bell (a counter), 1 wantsRoom (the net thread waits for room in toGuest). */
  bell: SharedArrayBuffer;
}

/** Each way: room for more than a full virtio receive queue of MTU-sized frames (256 × 1514). */
const RING_BYTES = 512 * 1024;
const BELL = 0;
const WANTS_ROOM = 1;

export function createNetLink(): NetLinkBuffers {
  return {
    fromGuest: new FrameRing(RING_BYTES).buffer,
    toGuest: new FrameRing(RING_BYTES).buffer,
    bell: new SharedArrayBuffer(8),
  };
}

/**
 * The device thread's end: the NetBackend virtio-net is given. A frame the net thread has no
 * room for is dropped (counted), as a NIC whose ring is full drops it; TCP retransmits.
 */
export class DeviceNetEnd implements NetBackend {
  private readonly fromGuest: FrameRing;
  private readonly toGuest: FrameRing;
  private readonly words: Int32Array;
  dropped = 0;

  constructor(link: NetLinkBuffers) {
    this.fromGuest = new FrameRing(link.fromGuest);
    this.toGuest = new FrameRing(link.toGuest);
    this.words = new Int32Array(link.bell);
  }

  send(frame: Uint8Array): void {
    if (!this.fromGuest.write(frame)) this.dropped++;
    else this.ring();
  }

  receive(): Uint8Array | null {
    const frame = this.toGuest.read();
    if (frame && Atomics.compareExchange(this.words, WANTS_ROOM, 1, 0) === 1) this.ring();
    return frame;
  }

  private ring(): void {
    Atomics.add(this.words, BELL, 1);
    Atomics.notify(this.words, BELL);
  }
}

/**
 * The net thread's end, between the rings and a back-end of its own (the stack): frames from
 * the guest go to `backend.send`, frames the back-end has for the guest go into the ring as
 * long as it has room (then they wait in the back-end's own bounded queue), and `delivered` is
 * called after frames went in (to ring the device thread).
 */
export class StackNetEnd {
  private readonly fromGuest: FrameRing;
  private readonly toGuest: FrameRing;
  private readonly words: Int32Array;
  /** A frame taken from the back-end that the ring had no room for. */
  private held: Uint8Array | null = null;
  private closed = false;
  private scheduled = false;

  constructor(link: NetLinkBuffers, private readonly backend: NetBackend, private readonly delivered: () => void) {
    this.fromGuest = new FrameRing(link.fromGuest);
    this.toGuest = new FrameRing(link.toGuest);
    this.words = new Int32Array(link.bell);
  }

  /** Serves the link until close(): never blocks the thread's event loop (Atomics.waitAsync). */
  async run(): Promise<void> {
    while (!this.closed) {
      const seen = Atomics.load(this.words, BELL); // before looking: a ring after this ends the wait
      let frame;
      while ((frame = this.fromGuest.read())) this.backend.send(frame);
      this.deliver();
      const wait = waitAsync(this.words, BELL, seen, Infinity);
      if (wait.async) await wait.value;
    }
  }

  /** The back-end has frames for the guest (its onFrames hook): moved in once the current task ends. */
  framesWaiting(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.deliver();
    });
  }

  close(): void {
    this.closed = true;
    Atomics.add(this.words, BELL, 1);
    Atomics.notify(this.words, BELL);
  }

  private deliver(): void {
    let moved = false;
    while (!this.closed) {
      const frame = this.held ?? this.backend.receive();
      if (!frame) break;
      if (this.toGuest.write(frame)) {
        this.held = null;
        moved = true;
        continue;
      }
      this.held = frame;
      // Ask to be rung when the device takes a frame, then look once more: a take between the
      // failed write and the request would otherwise go unnoticed.
      Atomics.store(this.words, WANTS_ROOM, 1);
      if (!this.toGuest.write(frame)) break;
      this.held = null;
      moved = true;
    }
    if (moved) this.delivered();
  }
}
