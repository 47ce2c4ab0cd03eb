// The driver side of virtio-mmio for unit tests: real guest RAM (a shared WebAssembly.Memory laid
// out as the machine's, guest RAM at RAM_OFFSET), the §3.1.1 initialisation through the
// transport's registers, and split virtqueues laid out and filled in RAM as Linux's
// virtio_ring does — plus raw access to descriptors and indexes, for drivers that misbehave.
import { RAM_OFFSET, DRAM_BASE } from '../../../engine/cpu/layout.ts';
import { GuestMemory } from '../../../engine/devices/guest-memory.ts';
import { VirtioMmio, VirtioStatus } from '../../../engine/devices/virtio/mmio.ts';
import { VIRTIO_F_VERSION_1, type VirtioDevice } from '../../../engine/devices/virtio/virtio-device.ts';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../engine/devices/virtio/queue.ts';
import { recordingIrq } from './support.ts';

export const RAM_BYTES = 4 << 20;
const PAGE = 65536;

export const Reg = {
  MagicValue: 0x000, Version: 0x004, DeviceId: 0x008, VendorId: 0x00c,
  DeviceFeatures: 0x010, DeviceFeaturesSel: 0x014, DriverFeatures: 0x020, DriverFeaturesSel: 0x024,
  QueueSel: 0x030, QueueNumMax: 0x034, QueueNum: 0x038, QueueReady: 0x044, QueueNotify: 0x050,
  InterruptStatus: 0x060, InterruptAck: 0x064, Status: 0x070,
  QueueDescLow: 0x080, QueueDescHigh: 0x084, QueueDriverLow: 0x090, QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0, QueueDeviceHigh: 0x0a4, ConfigGeneration: 0x0fc, Config: 0x100,
} as const;

export function guestRam(): GuestMemory {
  const pages = (RAM_OFFSET + RAM_BYTES) / PAGE;
  return new GuestMemory(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), RAM_BYTES);
}

/** A readable buffer (its bytes) or a writable one (its length). */
export type Buffer = Uint8Array | { writable: number };

export class TestQueue {
  private availIdx = 0;
  private seenUsed = 0;
  private nextFree = 0;
  /** Where each chain's buffers were placed, by head. */
  private readonly placed = new Map<number, { address: bigint; length: number }[]>();

  constructor(
    private readonly memory: GuestMemory,
    private readonly driver: VirtioTestDriver,
    readonly index: number,
    readonly size: number,
    readonly desc: bigint,
    readonly avail: bigint,
    readonly used: bigint,
  ) {}

  /** Writes descriptor `i` as given (no checks: tests use it to break the rules). */
  writeDescriptor(i: number, address: bigint, length: number, flags: number, next = 0, table = this.desc): void {
    const at = table + BigInt(16 * i);
    this.memory.writeU64(at, address);
    this.memory.writeU32(at + 8n, length);
    this.memory.writeU16(at + 12n, flags);
    this.memory.writeU16(at + 14n, next);
  }

  /** Lays `buffers` out as a chain of free descriptors and makes it available; returns its head. */
  add(buffers: Buffer[]): number {
    const indexes = buffers.map(() => this.nextFree++ % this.size);
    const placed = buffers.map((buffer) => this.driver.place(buffer));
    buffers.forEach((buffer, i) => {
      const last = i === buffers.length - 1;
      const flags = (buffer instanceof Uint8Array ? 0 : VIRTQ_DESC_F_WRITE) | (last ? 0 : VIRTQ_DESC_F_NEXT);
      this.writeDescriptor(indexes[i], placed[i].address, placed[i].length, flags, last ? 0 : indexes[i + 1]);
    });
    this.placed.set(indexes[0], placed);
    this.publish(indexes[0]);
    return indexes[0];
  }

  /** The first `length` bytes of buffer `i` of the chain headed by `head`, as text. */
  text(head: number, i: number, length: number): string {
    return new TextDecoder().decode(this.memory.read(this.placed.get(head)![i].address, length));
  }

  /** A copy of buffer `i` of the chain headed by `head`. */
  bytes(head: number, i: number): Uint8Array {
    const { address, length } = this.placed.get(head)![i];
    return this.memory.read(address, length);
  }

  /** Puts `head` in the available ring and advances avail.idx. */
  publish(head: number): void {
    this.memory.writeU16(this.avail + BigInt(4 + 2 * (this.availIdx % this.size)), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.setAvailIdx(this.availIdx);
  }

  setAvailIdx(value: number): void {
    this.memory.writeU16(this.avail + 2n, value);
  }

  setAvailFlags(flags: number): void {
    this.memory.writeU16(this.avail, flags);
  }

  /** used_event (VIRTIO_F_EVENT_IDX): interrupt when used.idx passes it. */
  setUsedEvent(value: number): void {
    this.memory.writeU16(this.avail + BigInt(4 + 2 * this.size), value);
  }

  /** avail_event (VIRTIO_F_EVENT_IDX): the device's "notify me at" index. */
  availEvent(): number {
    return this.memory.readU16(this.used + BigInt(4 + 8 * this.size));
  }

  usedIdx(): number {
    return this.memory.readU16(this.used + 2n);
  }

  /** Used entries published since the last call. */
  takeUsed(): { id: number; len: number }[] {
    const entries = [];
    for (const end = this.usedIdx(); this.seenUsed !== end; this.seenUsed = (this.seenUsed + 1) & 0xffff) {
      const at = this.used + BigInt(4 + 8 * (this.seenUsed % this.size));
      entries.push({ id: this.memory.readU32(at), len: this.memory.readU32(at + 4n) });
    }
    return entries;
  }

  notify(): void {
    this.driver.set(Reg.QueueNotify, this.index);
  }
}

export class VirtioTestDriver {
  readonly memory = guestRam();
  readonly irq = recordingIrq();
  readonly transport: VirtioMmio;
  /** Bump allocator for rings and buffers, from the start of guest RAM. */
  private free = BigInt(DRAM_BASE);

  constructor(backend: VirtioDevice | null) {
    this.transport = new VirtioMmio(backend, this.memory, this.irq.line);
    this.transport.reset();
  }

  reg(offset: number): number {
    return this.transport.read(offset, 4);
  }

  set(offset: number, value: number): void {
    this.transport.write(offset, 4, value);
  }

  get status(): number {
    return this.reg(Reg.Status);
  }

  allocate(length: number, align = 16): bigint {
    this.free = (this.free + BigInt(align - 1)) & ~BigInt(align - 1);
    const address = this.free;
    this.free += BigInt(length);
    return address;
  }

  /** Copies a readable buffer into fresh guest RAM, or reserves a writable one. */
  place(buffer: Buffer): { address: bigint; length: number } {
    const length = buffer instanceof Uint8Array ? buffer.length : buffer.writable;
    const address = this.allocate(length);
    if (buffer instanceof Uint8Array) this.memory.write(address, buffer);
    return { address, length };
  }

  /** Offers `features`; returns whether the device accepted them (FEATURES_OK stuck). */
  negotiate(features: bigint): boolean {
    this.set(Reg.Status, 0);
    this.set(Reg.Status, VirtioStatus.Acknowledge);
    this.set(Reg.Status, VirtioStatus.Acknowledge | VirtioStatus.Driver);
    for (const sel of [0, 1]) {
      this.set(Reg.DriverFeaturesSel, sel);
      this.set(Reg.DriverFeatures, Number((features >> BigInt(32 * sel)) & 0xffff_ffffn));
    }
    this.set(Reg.Status, VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk);
    return (this.status & VirtioStatus.FeaturesOk) !== 0;
  }

  /** Sets up queue `index` with `size` entries at fresh places in RAM (QueueReady = 1). */
  setupQueue(index: number, size: number): TestQueue {
    const desc = this.allocate(16 * size, 16);
    const avail = this.allocate(6 + 2 * size, 2);
    const used = this.allocate(6 + 8 * size, 4);
    this.set(Reg.QueueSel, index);
    this.set(Reg.QueueNum, size);
    this.writeAddress(Reg.QueueDescLow, desc);
    this.writeAddress(Reg.QueueDriverLow, avail);
    this.writeAddress(Reg.QueueDeviceLow, used);
    this.set(Reg.QueueReady, 1);
    return new TestQueue(this.memory, this, index, size, desc, avail, used);
  }

  writeAddress(lowRegister: number, address: bigint): void {
    this.set(lowRegister, Number(address & 0xffff_ffffn));
    this.set(lowRegister + 4, Number(address >> 32n));
  }

  /** The whole §3.1.1 sequence: negotiate, one queue per size given, DRIVER_OK. */
  start(queueSizes: number[], features = VIRTIO_F_VERSION_1): TestQueue[] {
    if (!this.negotiate(features)) throw new Error('device refused the features');
    const queues = queueSizes.map((size, index) => this.setupQueue(index, size));
    this.set(Reg.Status, this.status | VirtioStatus.DriverOk);
    return queues;
  }

  /** Reads InterruptStatus and acknowledges it, as Linux's vm_interrupt does. */
  acknowledge(): number {
    const status = this.reg(Reg.InterruptStatus);
    this.set(Reg.InterruptAck, status);
    return status;
  }
}
