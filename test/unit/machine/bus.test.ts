// The MMIO bus: ranges sorted and never overlapping, accesses routed to the device's offset,
// and addresses no device covers answered with BusError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../../engine/machine/bus.ts';
import { BusError, type AccessWidth, type Device } from '../../../engine/devices/device.ts';

/** A device that answers reads with its tag plus the offset and records writes. */
class RecordingDevice implements Device {
  readonly kind = 'recording';
  readonly writes: Array<[number, AccessWidth, number]> = [];
  constructor(private readonly tag: number) {}
  read(offset: number): number { return this.tag + offset; }
  write(offset: number, width: AccessWidth, value: number): void { this.writes.push([offset, width, value]); }
  reset(): void {}
  saveState() { return { version: 1 }; }
  loadState(): void {}
}

test('overlapping ranges are refused when the bus is built, naming both', () => {
  const a = new RecordingDevice(0);
  const b = new RecordingDevice(0);
  assert.throws(() => new Bus([
    { name: 'uart', base: 0x1000_0000, size: 0x100 },
    { name: 'virtio', base: 0x1000_00ff, size: 0x1000 },
  ].map((r, i) => ({ ...r, device: i ? b : a }))), /virtio at 0x100000ff overlaps uart/);
  // Adjacent ranges are fine, in any order.
  new Bus([
    { name: 'high', base: 0x2000, size: 0x1000, device: b },
    { name: 'low', base: 0x1000, size: 0x1000, device: a },
  ]);
  assert.throws(() => new Bus([{ name: 'empty', base: 0x1000, size: 0, device: a }]), /empty has an invalid range/);
});

test('reads and writes reach the device at its offset', () => {
  const devices = [new RecordingDevice(0x100), new RecordingDevice(0x200), new RecordingDevice(0x300)];
  const bus = new Bus([
    { name: 'c', base: 0xc00_0000, size: 0x60_0000, device: devices[2]! },
    { name: 'a', base: 0x10_0000, size: 0x1000, device: devices[0]! },
    { name: 'b', base: 0x200_0000, size: 0x1_0000, device: devices[1]! },
  ]);
  assert.equal(bus.read(0x10_0000, 4), 0x100);
  assert.equal(bus.read(0x10_0ffc, 4), 0x100 + 0xffc);
  assert.equal(bus.read(0x200_bff8, 4), 0x200 + 0xbff8);
  assert.equal(bus.read(0xc5f_ffff, 1), 0x300 + 0x5f_ffff);
  bus.write(0x200_4004, 2, 0xbeef);
  assert.deepEqual(devices[1]!.writes, [[0x4004, 2, 0xbeef]]);
  assert.deepEqual(devices[0]!.writes, []);
});

test('an address no device covers whole is a BusError', () => {
  const bus = new Bus([
    { name: 'a', base: 0x10_0000, size: 0x1000, device: new RecordingDevice(0) },
    { name: 'b', base: 0x10_1000, size: 0x1000, device: new RecordingDevice(0) },
  ]);
  for (const address of [0, 0xf_ffff, 0x10_2000, 0x8000_0000, 2 ** 40]) {
    assert.throws(() => bus.read(address, 4), BusError, `read ${address.toString(16)}`);
    assert.throws(() => bus.write(address, 1, 0), BusError, `write ${address.toString(16)}`);
  }
  // Straddling the end of the last device is not answered by it.
  assert.throws(() => bus.read(0x10_1ffe, 4), BusError);
  assert.equal(bus.read(0x10_1ffc, 4), 0xffc);
  assert.throws(() => new Bus([]).read(0x1000, 4), BusError);
});
