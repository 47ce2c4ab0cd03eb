// The virt board as built: every slot of the table answers on the bus at its base, interrupt
// lines reach the PLIC and through it the harts, the test finisher powers off and resets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RAM_OFFSET } from '../../../engine/cpu/layout.ts';
import { BusError, InterruptBit, type HartLines } from '../../../engine/devices/device.ts';
import { GuestClock } from '../../../engine/devices/clock.ts';
import { createVcpuBus, createVirtBoard, type VirtBoardOptions } from '../../../engine/machine/virt.ts';
import { createRaw, openDisk } from '../../../engine/storage/index.ts';
import { NetStack } from '../../../engine/net/nat.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDtb } from './dts.ts';

const MiB = 1024 * 1024;

function board(slots: Pick<VirtBoardOptions, 'disks' | 'nics'> = {}) {
  const ramBytes = 16 * MiB;
  const pages = (RAM_OFFSET + ramBytes) / 65536;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const clock = new GuestClock(memory);
  clock.start();
  const output: number[] = [];
  const irqs: Array<[number, number, boolean]> = [];
  const events: string[] = [];
  // The harts' side of the wiring, recorded (the CPU core is not under test here).
  const mtimecmp = [0n, 0n];
  const hart: HartLines = {
    setIrqLine: (h, bit, level) => irqs.push([h, bit, level]),
    irqLine: (h, bit) => [...irqs].reverse().find(([line, b]) => line === h && b === bit)?.[2] ?? false,
    getMtimecmp: (h) => mtimecmp[h]!,
    setMtimecmp: (h, value) => { mtimecmp[h] = value; },
  };
  const built = createVirtBoard({
    harts: 2, ramBytes, memory, clock, hart, ...slots,
    console: { write: (bytes) => output.push(...bytes), read: () => null },
    events: { powerOff: (status) => events.push(`poweroff ${status}`), reset: () => events.push('reset') },
  });
  // What a vCPU thread serves itself (the CLINT), in front of the device thread's bus.
  const vcpuBus = createVcpuBus({ harts: 2, clock, lines: hart }, built.bus);
  return { ...built, vcpuBus, output, irqs, events, mtimecmp };
}

test('every device of the memory map answers at its base', () => {
  const b = board();
  assert.deepEqual(b.devices.map((d) => [d.name, d.base]), [
    ['test', 0x10_0000], ['rtc', 0x10_1000], ['plic', 0xc00_0000], ['uart0', 0x1000_0000],
    ...Array.from({ length: 8 }, (_, n) => [`virtio${n}`, 0x1000_1000 + n * 0x1000]),
  ], 'the device thread\'s slots: all but the CLINT');
  // virtio-mmio: magic "virt", version 2; device IDs 3 (console), 4 (entropy), 0 (empty slot).
  const virtio = (n: number, offset: number) => b.bus.read(0x1000_1000 + n * 0x1000 + offset, 4);
  assert.deepEqual(Array.from({ length: 8 }, (_, n) => virtio(n, 0)), new Array(8).fill(0x74726976));
  assert.deepEqual(Array.from({ length: 8 }, (_, n) => virtio(n, 8)), [3, 4, 0, 0, 0, 0, 0, 0]);
  // UART: a byte written to THR reaches the console.
  b.bus.write(0x1000_0000, 1, 0x41);
  assert.deepEqual(b.output, [0x41]);
  // CLINT, on a vCPU thread's bus only: hart 1's mtimecmp at 0x4008.
  b.vcpuBus.write(0x200_4008, 4, 1234);
  b.vcpuBus.write(0x200_400c, 4, 0);
  assert.equal(b.mtimecmp[1], 1234n);
  assert.throws(() => b.bus.read(0x200_4008, 4), BusError, 'the device thread does not serve the CLINT');
  // The vCPU's bus passes everything else on: the UART again.
  b.vcpuBus.write(0x1000_0000, 1, 0x42);
  assert.deepEqual(b.output, [0x41, 0x42]);
  // Between and beyond the devices nothing answers, on either bus.
  for (const address of [0, 0x10_2000, 0x200_0000 + 0x1_0000, 0x1000_0100, 0x1000_9000, 0x8000_0000]) {
    assert.throws(() => b.bus.read(address, 4), BusError, address.toString(16));
    assert.throws(() => b.vcpuBus.read(address, 4), BusError, address.toString(16));
  }
  assert.throws(() => b.vcpuBus.read(0x200_fffe, 4), BusError, 'an access running off the end of the CLINT');
});

test('the UART interrupt (source 10) reaches hart 0\'s S-mode context through the PLIC', () => {
  const b = board();
  const plic = 0xc00_0000;
  b.bus.write(plic + 4 * 10, 4, 1);                  // priority of source 10
  b.bus.write(plic + 0x2000 + 0x80 * 1, 4, 1 << 10); // enabled in context 1 (hart 0, S mode)
  b.bus.write(plic + 0x20_0000 + 0x1000 * 1, 4, 0);  // threshold 0
  b.bus.write(0x1000_0001, 1, 0x02);                 // UART IER: transmitter empty
  assert.deepEqual(b.irqs.at(-1), [0, InterruptBit.SupervisorExternal, true]);
  assert.equal(b.bus.read(plic + 0x20_0004 + 0x1000 * 1, 4), 10); // claim
});

test('the test finisher powers off with a status and resets', () => {
  const b = board();
  b.bus.write(0x10_0000, 4, 0x5555);
  b.bus.write(0x10_0000, 4, 0x3333 | (3 << 16));
  b.bus.write(0x10_0000, 4, 0x7777);
  assert.deepEqual(b.events, ['poweroff 0', 'poweroff 3', 'reset']);
});

test('the board writes its device tree from the same table', () => {
  const b = board();
  const { nodes } = decodeDtb(b.dtb({ bootargs: 'quiet' }));
  assert.ok(nodes.has('/soc/clint@2000000'), 'the vCPU-served CLINT is in the tree too');
  for (const slot of b.devices) {
    const node = nodes.get(`/soc/${slot.node}@${slot.base.toString(16)}`);
    assert.ok(node, slot.name);
    assert.equal(node.get('interrupts'), slot.irq === undefined ? undefined : `<0x${slot.irq.toString(16).padStart(2, '0')}>`);
  }
  assert.equal(nodes.get('/memory@80000000')!.get('reg'), '<0x00 0x80000000 0x00 0x1000000>');
  assert.ok(nodes.has('/cpus/cpu@1') && !nodes.has('/cpus/cpu@2'));
});

test('NICs take the virtio slots after the disks; disks and NICs together fill at most six', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-virt-'));
  try {
    const path = join(dir, 'disk.img');
    createRaw(path, MiB);
    const disk = openDisk(path, { readOnly: true });
    const nic = (last: number) => ({ backend: new NetStack(), mac: `52:54:00:12:34:${last.toString(16)}` });
    const b = board({ disks: [{ disk }], nics: [nic(0x56), nic(0x57)] });
    // Device IDs 3 (console), 4 (entropy), 2 (block), 1 (network) twice, then empty slots.
    assert.deepEqual(Array.from({ length: 8 }, (_, n) => b.bus.read(0x1000_1000 + n * 0x1000 + 8, 4)), [3, 4, 2, 1, 1, 0, 0, 0]);
    assert.equal(b.netDevices.length, 2);
    // virtio-net's config space (§5.1.4) starts with the MAC: the second NIC's last octet is 0x57.
    assert.equal(b.bus.read(0x1000_5000 + 0x100 + 5, 1), 0x57);
    assert.throws(() => board({ disks: Array(5).fill({ disk }), nics: [nic(0x56), nic(0x57)] }), /at most 6 disks and network cards together/);
    disk.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
