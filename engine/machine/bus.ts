// The physical MMIO bus: a table of (base, size, device) sorted by base (Firecracker's Bus).
// Overlapping ranges are refused when the table is built, so an address belongs to at most one
// device; an access that no device covers whole is a BusError (the CPU turns it into an access
// fault). The CPU calls read/write on every MMIO access: lookup is a binary search over flat
// arrays and allocates nothing.
import { BusError, type AccessWidth, type Device, type MmioBus } from '../devices/device.ts';

export interface BusRange {
  name: string;
  base: number;
  size: number;
  device: Device;
}

export class Bus implements MmioBus {
  private readonly bases: Float64Array;
  private readonly ends: Float64Array;
  private readonly devices: Device[];

  constructor(ranges: readonly BusRange[]) {
    const sorted = [...ranges].sort((a, b) => a.base - b.base);
    sorted.forEach((range, i) => {
      if (!(range.size > 0) || !Number.isSafeInteger(range.base) || !Number.isSafeInteger(range.base + range.size)) {
        throw new RangeError(`bus: ${range.name} has an invalid range (base ${hex(range.base)}, size ${hex(range.size)})`);
      }
      const previous = sorted[i - 1];
      if (previous && previous.base + previous.size > range.base) {
        throw new RangeError(`bus: ${range.name} at ${hex(range.base)} overlaps ${previous.name} ` +
          `(${hex(previous.base)}..${hex(previous.base + previous.size)})`);
      }
    });
    this.bases = Float64Array.from(sorted, (r) => r.base);
    this.ends = Float64Array.from(sorted, (r) => r.base + r.size);
    this.devices = sorted.map((r) => r.device);
  }

  read(address: number, width: AccessWidth): number {
    const i = this.find(address, width);
    return this.devices[i]!.read(address - this.bases[i]!, width);
  }

  write(address: number, width: AccessWidth, value: number): void {
    const i = this.find(address, width);
    this.devices[i]!.write(address - this.bases[i]!, width, value);
  }

  /** Index of the range holding [address, address + width), or throws BusError. */
  private find(address: number, width: number): number {
    const bases = this.bases;
    let low = 0;
    let high = bases.length - 1;
    // The last range whose base is <= address.
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (bases[mid]! <= address) low = mid + 1;
      else high = mid - 1;
    }
    if (high >= 0 && address + width <= this.ends[high]!) return high;
    throw new BusError(`no device at physical address ${hex(address)} (${width}-byte access)`);
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
