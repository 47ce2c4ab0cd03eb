// Guest physical RAM as devices and boot loaders see it: DRAM_BASE.. in guest physical space is
// RAM_OFFSET.. in the shared WebAssembly.Memory. Every access is bounds-checked, because the
// addresses come from the guest (virtio descriptors), which is untrusted.
//
// The views are made once: the machine's memory has a fixed size (its maximum is its initial
// size), so its buffer never changes. Addresses are plain numbers on the hot paths (virtqueue
// rings); a 64-bit guest address at or above 2^53, which a number cannot hold exactly, is never
// RAM (RAM ends below 2^32 + 2^31), and offsetOf refuses it as outside.
import { DRAM_BASE, RAM_OFFSET } from '../cpu/layout.ts';

/** Thrown for a guest physical range that is not inside guest RAM. */
export class GuestMemoryError extends Error {}

export class GuestMemory {
  readonly base = DRAM_BASE;
  /** The whole shared memory (the CPU core's own state below RAM_OFFSET, then RAM). */
  private readonly bytes: Uint8Array;
  private readonly data: DataView;
  /** Guest physical address just past the end of RAM. */
  private readonly end: number;

  constructor(readonly memory: WebAssembly.Memory, readonly size: number) {
    this.bytes = new Uint8Array(memory.buffer);
    this.data = new DataView(memory.buffer);
    this.end = DRAM_BASE + size;
  }

  /** Offset into the shared memory of guest physical [address, address + length), or throws. */
  offsetOf(address: number | bigint, length: number): number {
    const a = typeof address === 'bigint' ? Number(address) : address;
    // Comparisons written so that NaN fails them; a rounded bigint above 2^53 stays above the end.
    if (!(a >= DRAM_BASE && length >= 0 && a + length <= this.end && Number.isInteger(a))) {
      throw new GuestMemoryError(`guest address 0x${address.toString(16)} (+${length}) is outside guest RAM`);
    }
    return RAM_OFFSET + (a - DRAM_BASE);
  }

  /** A live view of guest RAM (writes through it reach the guest). */
  view(address: number | bigint, length: number): Uint8Array {
    const offset = this.offsetOf(address, length);
    return this.bytes.subarray(offset, offset + length);
  }

  read(address: number | bigint, length: number): Uint8Array {
    return this.view(address, length).slice();
  }

  write(address: number | bigint, data: Uint8Array): void {
    this.bytes.set(data, this.offsetOf(address, data.length));
  }

  readU16(address: number | bigint): number { return this.data.getUint16(this.offsetOf(address, 2), true); }
  readU32(address: number | bigint): number { return this.data.getUint32(this.offsetOf(address, 4), true); }
  readU64(address: number | bigint): bigint { return this.data.getBigUint64(this.offsetOf(address, 8), true); }

  /**
   * A u64 (a descriptor's buffer address) as a number: exact below 2^53; at or above, some
   * number at least 2^53, which offsetOf refuses as outside RAM.
   */
  readU64Number(address: number | bigint): number {
    const at = this.offsetOf(address, 8);
    return this.data.getUint32(at, true) + this.data.getUint32(at + 4, true) * 0x1_0000_0000;
  }

  writeU16(address: number | bigint, value: number): void { this.data.setUint16(this.offsetOf(address, 2), value, true); }
  writeU32(address: number | bigint, value: number): void { this.data.setUint32(this.offsetOf(address, 4), value >>> 0, true); }
  writeU64(address: number | bigint, value: bigint): void { this.data.setBigUint64(this.offsetOf(address, 8), value, true); }
}
