// Guest physical RAM as devices and boot loaders see it: DRAM_BASE.. in guest physical space is
// RAM_OFFSET.. in the shared WebAssembly.Memory. Every access is bounds-checked, because the
// addresses come from the guest (virtio descriptors), which is untrusted.
import { DRAM_BASE, RAM_OFFSET } from '../cpu/layout.ts';

/** Thrown for a guest physical range that is not inside guest RAM. */
export class GuestMemoryError extends Error {}

export class GuestMemory {
  readonly base = DRAM_BASE;

  constructor(readonly memory: WebAssembly.Memory, readonly size: number) {}

  /** The shared memory's bytes; taken fresh each time (a view is tied to one buffer). */
  private get bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  /** Offset into the shared memory of guest physical [address, address + length), or throws. */
  offsetOf(address: number | bigint, length: number): number {
    const a = typeof address === 'bigint' ? address : BigInt(address);
    if (length < 0 || a < BigInt(DRAM_BASE) || a + BigInt(length) > BigInt(DRAM_BASE) + BigInt(this.size)) {
      throw new GuestMemoryError(`guest address 0x${a.toString(16)} (+${length}) is outside guest RAM`);
    }
    return RAM_OFFSET + Number(a - BigInt(DRAM_BASE));
  }

  /** A live view of guest RAM (writes through it reach the guest). */
  view(address: number | bigint, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.offsetOf(address, length), length);
  }

  read(address: number | bigint, length: number): Uint8Array {
    return this.view(address, length).slice();
  }

  write(address: number | bigint, data: Uint8Array): void {
    this.bytes.set(data, this.offsetOf(address, data.length));
  }

  private dataView(address: number | bigint, length: number): DataView {
    return new DataView(this.memory.buffer, this.offsetOf(address, length), length);
  }

  readU16(address: number | bigint): number { return this.dataView(address, 2).getUint16(0, true); }
  readU32(address: number | bigint): number { return this.dataView(address, 4).getUint32(0, true); }
  readU64(address: number | bigint): bigint { return this.dataView(address, 8).getBigUint64(0, true); }
  writeU16(address: number | bigint, value: number): void { this.dataView(address, 2).setUint16(0, value, true); }
  writeU32(address: number | bigint, value: number): void { this.dataView(address, 4).setUint32(0, value >>> 0, true); }
  writeU64(address: number | bigint, value: bigint): void { this.dataView(address, 8).setBigUint64(0, value, true); }
}
