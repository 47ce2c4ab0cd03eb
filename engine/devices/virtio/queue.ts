// Split virtqueues (virtio 1.2, §2.7), read and written in guest RAM. The driver owns the
// descriptor table and the available ring, the device the used ring:
//
//   descriptor table (16-byte aligned), Queue Size entries of 16 bytes:
//     +0 addr u64   +8 len u32   +12 flags u16 (NEXT 1, WRITE 2, INDIRECT 4)   +14 next u16
//   available ring (driver area, 2-byte aligned):
//     +0 flags u16 (NO_INTERRUPT 1)   +2 idx u16   +4 ring[Queue Size] u16   then used_event u16
//   used ring (device area, 4-byte aligned):
//     +0 flags u16   +2 idx u16   +4 ring[Queue Size] { id u32, len u32 }   then avail_event u16
//
// Everything the driver wrote is untrusted: ring placement, every index, every descriptor's
// address and length, chain length (a loop), indirect tables. A violation is a VirtqueueError,
// which the transport turns into DEVICE_NEEDS_RESET (as QEMU's virtio_error); nothing here
// loops without bound or lets a guest value reach host memory outside guest RAM.
//
// Memory ordering: the device runs on the machine's device thread while the driver runs on vCPU
// threads, so the ring indexes, flags and event indexes both sides watch are read and written
// with Atomics (loadIndex/storeIndex): the acquire/release pairs of §2.7.13. Atomics are
// sequentially consistent, which also orders pop()'s avail_event store before its re-read of
// the available index (the full barrier §2.7.10 asks for).
import { GuestMemoryError, type GuestMemory } from '../guest-memory.ts';
import { u64State, type StateReader } from '../state.ts';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

const DESCRIPTOR_SIZE = 16;
/** The largest queue a split virtqueue can have (§2.7). */
export const MAX_QUEUE_SIZE = 32768;

/** The driver broke the virtqueue rules; the device needs a reset. */
export class VirtqueueError extends Error {}

/** One guest buffer of a descriptor chain, already checked to lie inside guest RAM. */
export interface GuestBuffer {
  readonly address: bigint;
  readonly length: number;
}

/** A request taken from the available ring: device-readable buffers, then device-writable ones. */
export class DescriptorChain {
  constructor(
    private readonly memory: GuestMemory,
    /** Descriptor index that heads the chain: what goes back in the used ring. */
    readonly head: number,
    readonly readable: readonly GuestBuffer[],
    readonly writable: readonly GuestBuffer[],
  ) {}

  get readableLength(): number {
    return this.readable.reduce((sum, buffer) => sum + buffer.length, 0);
  }

  get writableLength(): number {
    return this.writable.reduce((sum, buffer) => sum + buffer.length, 0);
  }

  /** Live views of the device-readable buffers, in chain order. */
  readableViews(): Uint8Array[] {
    return this.readable.map((buffer) => this.memory.view(buffer.address, buffer.length));
  }

  /** Live views of the device-writable buffers, in chain order. */
  writableViews(): Uint8Array[] {
    return this.writable.map((buffer) => this.memory.view(buffer.address, buffer.length));
  }

  /** A copy of the first `max` readable bytes (all of them by default), gathered in order. */
  read(max = this.readableLength): Uint8Array {
    const out = new Uint8Array(Math.min(max, this.readableLength));
    let done = 0;
    for (const view of this.readableViews()) {
      if (done === out.length) break;
      const part = view.subarray(0, out.length - done);
      out.set(part, done);
      done += part.length;
    }
    return out;
  }

  /** Scatters `data` over the writable buffers in order; returns how many bytes fitted. */
  write(data: Uint8Array): number {
    let done = 0;
    for (const view of this.writableViews()) {
      if (done === data.length) break;
      const part = data.subarray(done, done + view.length);
      view.set(part);
      done += part.length;
    }
    return done;
  }
}

export class Virtqueue {
  /** Queue Size as the driver set it (QueueNum); checked when the queue is made ready. */
  size: number;
  descAddr = 0n;
  driverAddr = 0n;
  deviceAddr = 0n;
  private isReady = false;
  /** VIRTIO_F_EVENT_IDX was negotiated: used_event/avail_event replace the flags. */
  private eventIdx = false;
  /** Free-running avail index of the next request to take. */
  private nextAvail = 0;
  /** Free-running used index of the next entry to write (= used.idx as published). */
  private nextUsed = 0;
  /** used.idx when the driver was last told about used buffers. */
  private signalledUsed = 0;

  /** The whole shared memory as u16s, for Atomics on ring indexes (guest RAM's buffer never changes). */
  private readonly halfwords: Uint16Array;

  constructor(private readonly memory: GuestMemory, readonly maxSize: number) {
    this.size = maxSize;
    this.halfwords = new Uint16Array(memory.memory.buffer);
  }

  get ready(): boolean {
    return this.isReady;
  }

  /** Starts the queue (QueueReady = 1) on a freshly initialised ring, after checking its layout. */
  enable(eventIdx: boolean): void {
    this.checkLayout();
    this.eventIdx = eventIdx;
    this.nextAvail = this.nextUsed = this.signalledUsed = 0;
    this.isReady = true;
  }

  /** Back to the state after a device reset (QueueReady = 0, nothing configured). */
  reset(): void {
    this.isReady = false;
    this.size = this.maxSize;
    this.descAddr = this.driverAddr = this.deviceAddr = 0n;
    this.nextAvail = this.nextUsed = this.signalledUsed = 0;
  }

  /** Stops using the queue (QueueReady = 0); its configuration stays readable. */
  disable(): void {
    this.isReady = false;
  }

  private checkLayout(): void {
    const size = this.size;
    if (size < 1 || size > this.maxSize || (size & (size - 1)) !== 0) {
      throw new VirtqueueError(`queue size ${size} is not a power of two in 1..${this.maxSize}`);
    }
    if (this.descAddr % 16n || this.driverAddr % 2n || this.deviceAddr % 4n) {
      throw new VirtqueueError('virtqueue areas are misaligned');
    }
    this.checkInRam(this.descAddr, DESCRIPTOR_SIZE * size, 'descriptor table');
    this.checkInRam(this.driverAddr, 6 + 2 * size, 'available ring');
    this.checkInRam(this.deviceAddr, 6 + 8 * size, 'used ring');
  }

  private checkInRam(address: bigint, length: number, what: string): void {
    try {
      this.memory.offsetOf(address, length);
    } catch (error) {
      if (error instanceof GuestMemoryError) throw new VirtqueueError(`${what}: ${error.message}`);
      throw error;
    }
  }

  /** A u16 the driver may change at any moment (checkLayout keeps every one 2-byte aligned). */
  private loadIndex(address: bigint): number {
    return Atomics.load(this.halfwords, this.memory.offsetOf(address, 2) >> 1);
  }

  private storeIndex(address: bigint, value: number): void {
    Atomics.store(this.halfwords, this.memory.offsetOf(address, 2) >> 1, value);
  }

  private get availEventAddr(): bigint {
    return this.deviceAddr + BigInt(4 + 8 * this.size);
  }

  private get usedEventAddr(): bigint {
    return this.driverAddr + BigInt(4 + 2 * this.size);
  }

  /** The next request the driver made available, or null when there is none. */
  pop(): DescriptorChain | null {
    if (!this.isReady) return null;
    let availIdx = this.loadIndex(this.driverAddr + 2n);
    if (availIdx === this.nextAvail) {
      if (!this.eventIdx) return null;
      // Ask to be notified of the next request, then look again: the driver may have added
      // one before it could see the request (§2.7.10).
      this.storeIndex(this.availEventAddr, this.nextAvail);
      availIdx = this.loadIndex(this.driverAddr + 2n);
      if (availIdx === this.nextAvail) return null;
    }
    if (((availIdx - this.nextAvail) & 0xffff) > this.size) {
      throw new VirtqueueError(`available index ${availIdx} is more than a queue ahead of ${this.nextAvail}`);
    }
    const slot = this.nextAvail & (this.size - 1);
    const head = this.memory.readU16(this.driverAddr + BigInt(4 + 2 * slot));
    const chain = this.walk(head);
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx) this.storeIndex(this.availEventAddr, this.nextAvail);
    return chain;
  }

  /** Follows a chain from `head`, checking every descriptor (§2.7.5, §2.7.7). */
  private walk(head: number): DescriptorChain {
    const readable: GuestBuffer[] = [];
    const writable: GuestBuffer[] = [];
    let table = this.descAddr;
    let tableSize = this.size;
    let index = head;
    let visited = 0;
    let indirect = false;
    for (;;) {
      if (index >= tableSize) {
        throw new VirtqueueError(`descriptor index ${index} is beyond the table of ${tableSize}`);
      }
      // A chain visits each descriptor of its table at most once; more means a loop.
      if (++visited > tableSize) throw new VirtqueueError(`descriptor chain from ${head} loops`);
      const at = table + BigInt(DESCRIPTOR_SIZE * index);
      const address = this.memory.readU64(at);
      const length = this.memory.readU32(at + 8n);
      const flags = this.memory.readU16(at + 12n);
      const next = this.memory.readU16(at + 14n);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        // Only a chain's sole descriptor may point to an indirect table (Linux's and QEMU's use).
        if (indirect || visited > 1 || flags & VIRTQ_DESC_F_NEXT) {
          throw new VirtqueueError('indirect descriptor inside a chain or an indirect table');
        }
        if (length === 0 || length % DESCRIPTOR_SIZE || address % 16n) {
          throw new VirtqueueError(`indirect table of ${length} bytes at 0x${address.toString(16)} is malformed`);
        }
        this.checkInRam(address, length, 'indirect descriptor table');
        table = address;
        tableSize = length / DESCRIPTOR_SIZE;
        index = 0;
        visited = 0;
        indirect = true;
        continue;
      }
      this.checkInRam(address, length, `buffer of descriptor ${index}`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        writable.push({ address, length });
      } else {
        if (writable.length > 0) throw new VirtqueueError('device-readable descriptor after a writable one');
        readable.push({ address, length });
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      index = next;
    }
    return new DescriptorChain(this.memory, head, readable, writable);
  }

  /** Returns the chain headed by `head` to the driver, `written` bytes of it filled in. */
  push(head: number, written: number): void {
    const slot = this.deviceAddr + BigInt(4 + 8 * (this.nextUsed & (this.size - 1)));
    this.memory.writeU32(slot, head);
    this.memory.writeU32(slot + 4n, written);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    this.storeIndex(this.deviceAddr + 2n, this.nextUsed); // publishes the entry (release)
  }

  /**
   * Whether the driver wants an interrupt for the buffers used since the last call
   * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX: §2.7.10).
   */
  takeNotification(): boolean {
    if (!this.isReady || this.nextUsed === this.signalledUsed) return false;
    const old = this.signalledUsed;
    this.signalledUsed = this.nextUsed;
    if (this.eventIdx) {
      // vring_need_event(): did used.idx step past used_event?
      const usedEvent = this.loadIndex(this.usedEventAddr);
      return ((this.nextUsed - usedEvent - 1) & 0xffff) < ((this.nextUsed - old) & 0xffff);
    }
    return (this.loadIndex(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  saveState(): Record<string, unknown> {
    return {
      size: this.size,
      ready: this.isReady,
      descAddr: u64State(this.descAddr),
      driverAddr: u64State(this.driverAddr),
      deviceAddr: u64State(this.deviceAddr),
      nextAvail: this.nextAvail,
      nextUsed: this.nextUsed,
      signalledUsed: this.signalledUsed,
    };
  }

  /** Restores a saveState record; a ready queue's layout is checked again (VirtqueueError). */
  loadState(s: StateReader, eventIdx: boolean): void {
    this.size = s.uint('size', MAX_QUEUE_SIZE);
    this.descAddr = s.u64('descAddr');
    this.driverAddr = s.u64('driverAddr');
    this.deviceAddr = s.u64('deviceAddr');
    this.nextAvail = s.uint('nextAvail', 0xffff);
    this.nextUsed = s.uint('nextUsed', 0xffff);
    this.signalledUsed = s.uint('signalledUsed', 0xffff);
    this.eventIdx = eventIdx;
    this.isReady = s.bool('ready');
    if (this.isReady) this.checkLayout();
  }
}
