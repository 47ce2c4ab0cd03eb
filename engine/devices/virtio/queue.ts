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
/**
 * The most descriptors one chain may have, direct and indirect together (QEMU's
 * VIRTQUEUE_MAX_SIZE). §2.7.5.3.1 has the driver keep a chain within the Queue Size; an indirect
 * table may be longer than the ring, but Linux never makes one longer than this either.
 */
export const MAX_CHAIN_DESCRIPTORS = 1024;
/**
 * What one device call (a notify or a poll) takes from a queue: at most a ring's worth of
 * chains, and no more chains once this many buffer bytes were taken (one chain always goes,
 * whatever its size). The rest is left in the ring for the transport's next poll, so that a
 * guest that keeps the ring full or hands in huge chains cannot hold the device thread.
 */
export const MAX_BATCH_BYTES = 16 << 20;

/** The driver broke the virtqueue rules; the device needs a reset. */
export class VirtqueueError extends Error {}

/** One guest buffer of a descriptor chain, already checked to lie inside guest RAM. */
export interface GuestBuffer {
  readonly address: number;
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
    /** Bytes of all readable buffers (up to MAX_CHAIN_DESCRIPTORS × RAM: exact in a number). */
    readonly readableLength: number,
    readonly writableLength: number,
  ) {}

  /** Live views of the device-readable buffers, in chain order. */
  readableViews(): Uint8Array[] {
    return this.readable.map((buffer) => this.memory.view(buffer.address, buffer.length));
  }

  /** Live views of the device-writable buffers, in chain order. */
  writableViews(): Uint8Array[] {
    return this.writable.map((buffer) => this.memory.view(buffer.address, buffer.length));
  }

  /**
   * Live views of readable bytes [skip, skip + max) (fewer at the chain's end), in order:
   * a device streams a request in bounded pieces instead of copying all of it.
   */
  readableRange(skip: number, max: number): Uint8Array[] {
    return this.range(this.readable, skip, max);
  }

  /** Live views of writable bytes [skip, skip + max), as readableRange. */
  writableRange(skip: number, max: number): Uint8Array[] {
    return this.range(this.writable, skip, max);
  }

  private range(buffers: readonly GuestBuffer[], skip: number, max: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let position = 0;
    for (const buffer of buffers) {
      if (position >= skip + max) break;
      const start = Math.max(skip, position);
      const end = Math.min(skip + max, position + buffer.length);
      if (end > start) out.push(this.memory.view(buffer.address + (start - position), end - start));
      position += buffer.length;
    }
    return out;
  }

  /** A copy of the first `max` readable bytes (fewer if the chain has fewer), gathered in order. */
  read(max: number): Uint8Array {
    const out = new Uint8Array(Math.min(max, this.readableLength));
    let done = 0;
    for (const view of this.readableRange(0, out.length)) {
      out.set(view, done);
      done += view.length;
    }
    return out;
  }

  /** Scatters `data` over the writable buffers in order; returns how many bytes fitted. */
  write(data: Uint8Array): number {
    let done = 0;
    for (const buffer of this.writable) {
      if (done === data.length) break;
      const part = data.subarray(done, done + buffer.length);
      this.memory.write(buffer.address, part);
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
  /** The three areas as numbers, set by checkLayout (inside RAM, so below 2^53). */
  private desc = 0;
  private avail = 0;
  private used = 0;
  /** What the current device call may still take (startBatch). */
  private batchChains = 0;
  private batchBytes = 0;
  /** The current call stopped taking requests with some still available. */
  private cut = false;

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
    this.desc = this.avail = this.used = 0;
    this.nextAvail = this.nextUsed = this.signalledUsed = 0;
    this.cut = false;
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
    this.desc = Number(this.descAddr);
    this.avail = Number(this.driverAddr);
    this.used = Number(this.deviceAddr);
  }

  private checkInRam(address: number | bigint, length: number, what: string): void {
    try {
      this.memory.offsetOf(address, length);
    } catch (error) {
      if (error instanceof GuestMemoryError) throw new VirtqueueError(`${what}: ${error.message}`);
      throw error;
    }
  }

  /** A u16 the driver may change at any moment (checkLayout keeps every one 2-byte aligned). */
  private loadIndex(address: number): number {
    return Atomics.load(this.halfwords, this.memory.offsetOf(address, 2) >> 1);
  }

  private storeIndex(address: number, value: number): void {
    Atomics.store(this.halfwords, this.memory.offsetOf(address, 2) >> 1, value);
  }

  private get availEventAddr(): number {
    return this.used + 4 + 8 * this.size;
  }

  private get usedEventAddr(): number {
    return this.avail + 4 + 2 * this.size;
  }

  /** The transport, before each device call: the call may take a ring's worth of requests. */
  startBatch(): void {
    this.batchChains = this.size;
    this.batchBytes = MAX_BATCH_BYTES;
    this.cut = false;
  }

  /** Whether the last device call left requests it was not allowed to take (see startBatch). */
  get cutShort(): boolean {
    return this.cut;
  }

  /** The next request the driver made available, or null when there is none (or the batch is spent). */
  pop(): DescriptorChain | null {
    const chain = this.peek();
    if (chain) this.take(chain);
    return chain;
  }

  /**
   * The next available request without taking it: it stays first in the ring (a device that
   * serves it over several calls, and a saved state, find it there again). Null when there is
   * none, or when this call's batch is spent (cutShort then says so).
   */
  peek(): DescriptorChain | null {
    if (!this.isReady) return null;
    let availIdx = this.loadIndex(this.avail + 2);
    if (availIdx === this.nextAvail) {
      if (!this.eventIdx) return null;
      // Ask to be notified of the next request, then look again: the driver may have added
      // one before it could see the request (§2.7.10).
      this.storeIndex(this.availEventAddr, this.nextAvail);
      availIdx = this.loadIndex(this.avail + 2);
      if (availIdx === this.nextAvail) return null;
    }
    if (((availIdx - this.nextAvail) & 0xffff) > this.size) {
      throw new VirtqueueError(`available index ${availIdx} is more than a queue ahead of ${this.nextAvail}`);
    }
    if (this.batchChains <= 0 || this.batchBytes <= 0) {
      this.cut = true;
      return null;
    }
    const slot = this.nextAvail & (this.size - 1);
    return this.walk(this.memory.readU16(this.avail + 4 + 2 * slot));
  }

  /** Takes the request peek() returned off the available ring (push() returns it to the driver). */
  take(chain: DescriptorChain): void {
    this.batchChains--;
    this.batchBytes -= chain.readableLength + chain.writableLength;
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx) this.storeIndex(this.availEventAddr, this.nextAvail);
  }

  /**
   * Follows a chain from `head`, checking every descriptor (§2.7.5, §2.7.7): at most
   * MAX_CHAIN_DESCRIPTORS of them (a loop ends there, or at its table's size), one indirect
   * table at most, as the chain's only descriptor, a whole number of descriptors long.
   */
  private walk(head: number): DescriptorChain {
    const readable: GuestBuffer[] = [];
    const writable: GuestBuffer[] = [];
    let readableLength = 0;
    let writableLength = 0;
    let table = this.desc;
    let tableSize = this.size;
    let index = head;
    let visited = 0;
    let total = 0;
    let indirect = false;
    for (;;) {
      if (index >= tableSize) {
        throw new VirtqueueError(`descriptor index ${index} is beyond the table of ${tableSize}`);
      }
      // A chain visits each descriptor of its table at most once; more means a loop.
      if (++visited > tableSize || ++total > MAX_CHAIN_DESCRIPTORS) {
        throw new VirtqueueError(`descriptor chain from ${head} loops or is longer than ${Math.min(tableSize, MAX_CHAIN_DESCRIPTORS)}`);
      }
      const at = table + DESCRIPTOR_SIZE * index;
      const address = this.memory.readU64Number(at);
      const length = this.memory.readU32(at + 8);
      const flags = this.memory.readU16(at + 12);
      const next = this.memory.readU16(at + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        // Only a chain's sole descriptor may point to an indirect table (Linux's and QEMU's use),
        // and an indirect table holds no indirect descriptor (§2.7.5.3.1).
        if (indirect || visited > 1 || flags & VIRTQ_DESC_F_NEXT) {
          throw new VirtqueueError('indirect descriptor inside a chain or an indirect table');
        }
        if (length === 0 || length % DESCRIPTOR_SIZE || length > MAX_CHAIN_DESCRIPTORS * DESCRIPTOR_SIZE || address % 16) {
          throw new VirtqueueError(`indirect table of ${length} bytes at 0x${address.toString(16)} is malformed`);
        }
        this.checkInRam(address, length, 'indirect descriptor table');
        table = address;
        tableSize = length / DESCRIPTOR_SIZE;
        index = 0;
        visited = 0;
        total = 0;
        indirect = true;
        continue;
      }
      this.checkInRam(address, length, `buffer of descriptor ${index}`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        writable.push({ address, length });
        writableLength += length;
      } else {
        if (writable.length > 0) throw new VirtqueueError('device-readable descriptor after a writable one');
        readable.push({ address, length });
        readableLength += length;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      index = next;
    }
    return new DescriptorChain(this.memory, head, readable, writable, readableLength, writableLength);
  }

  /** Returns the chain headed by `head` to the driver, `written` bytes of it filled in. */
  push(head: number, written: number): void {
    const slot = this.used + 4 + 8 * (this.nextUsed & (this.size - 1));
    this.memory.writeU32(slot, head);
    this.memory.writeU32(slot + 4, written);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    this.storeIndex(this.used + 2, this.nextUsed); // publishes the entry (release)
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
    return (this.loadIndex(this.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
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
