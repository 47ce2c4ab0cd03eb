// CLINT registers (SiFive CLINT / RISC-V ACLINT MSWI and MTIMER) as a running machine serves
// them: every vCPU thread has its own bus (engine/machine/virt.ts createVcpuBus) whose CLINT is
// a view of the harts' lines in the shared memory. Here two such buses, one per hart, over one
// machine's memory, with the real core reading the lines: msip drives MSIP, mtimecmp is written
// a 32-bit half at a time into the hart's block, mtime is guest time, and the harts' saved
// state carries all of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu, SharedHartLines } from '../../../engine/cpu/cpu.ts';
import { BusError, InterruptBit, type AccessWidth, type MmioBus } from '../../../engine/devices/device.ts';
import { GuestClock } from '../../../engine/devices/clock.ts';
import { readHartState, writeHartState } from '../../../engine/machine/hart-state.ts';
import { createVcpuBus } from '../../../engine/machine/virt.ts';
import { MachineControl } from '../../../engine/vcpu/control.ts';
import { WakingHartLines } from '../../../engine/machine/waking-hart-lines.ts';

const HARTS = 2;
const RAM = 1 << 20;
const CLINT = 0x200_0000;
const MSIP = InterruptBit.MachineSoftware;
const MIP = 0x344;
const NEVER = 0xffff_ffff_ffff_ffffn;
const compiled = Cpu.compile();

/** Whatever a vCPU's bus passes on to the device thread, recorded; it answers 0x5a. */
class DeviceThread implements MmioBus {
  readonly accesses: string[] = [];
  read(address: number, width: AccessWidth): number {
    this.accesses.push(`read 0x${address.toString(16)}/${width}`);
    return 0x5a;
  }
  write(address: number, width: AccessWidth, value: number): void {
    this.accesses.push(`write 0x${address.toString(16)}/${width} ${value}`);
  }
}

async function machine(ticks = 0n) {
  const memory = Cpu.createMemory(RAM);
  const control = new MachineControl();
  const clock = new GuestClock(memory);
  clock.start(ticks);
  const deviceThread = new DeviceThread();
  // As each vCPU thread makes it (vcpu-thread.ts): its own lines and bus over the one memory.
  const vcpuBus = () => createVcpuBus({ harts: HARTS, clock, lines: new WakingHartLines(new SharedHartLines(memory, HARTS), control) }, deviceThread);
  const buses = [vcpuBus(), vcpuBus()];
  const cpu = new Cpu(await compiled, memory, { ramBytes: RAM, harts: HARTS, bus: buses[0]! });
  for (let hart = 0; hart < HARTS; hart++) cpu.resetHart(hart, { pc: 0x8000_0000n, a0: 0n, a1: 0n, a2: 0n });
  const reg = (hart: number, offset: number) => buses[hart]!.read(CLINT + offset, 4);
  const set = (hart: number, offset: number, value: number) => buses[hart]!.write(CLINT + offset, 4, value);
  return { memory, control, clock, cpu, buses, deviceThread, reg, set };
}

test('msip written on one hart\'s thread raises the other hart\'s MSIP, wakes it, and reads back on both', async () => {
  const { control, cpu, reg, set } = await machine();
  const wake = control.wakeSeen(1);
  set(0, 0x4, 0xffff_ffff); // hart 0's thread sends hart 1 an IPI
  assert.equal(cpu.irqLine(1, MSIP), true);
  assert.equal(cpu.irqLine(0, MSIP), false);
  assert.equal(cpu.readCsr(1, MIP) & (1n << BigInt(MSIP)), 1n << BigInt(MSIP), 'the core sees MSIP pending');
  assert.notEqual(control.wakeSeen(1), wake, 'the sleeping hart is rung');
  assert.equal(reg(0, 0x4), 1);
  assert.equal(reg(1, 0x4), 1, 'the other thread reads the same register');
  set(1, 0x4, 2); // hart 1 clears its own: bit 0 only counts
  assert.equal(cpu.irqLine(1, MSIP), false);
  assert.equal(reg(0, 0x4), 0);
  set(0, 0x8, 1); // hart 2 does not exist
  assert.equal(reg(0, 0x8), 0);
});

test('mtimecmp is written and read as two 32-bit halves in the hart\'s block', async () => {
  const { cpu, reg, set } = await machine();
  assert.equal(cpu.getMtimecmp(1), NEVER, 'hart reset: no timer interrupt');
  set(0, 0x4008, 0x89ab_cdef);
  set(0, 0x400c, 0x0123_4567);
  assert.equal(cpu.getMtimecmp(1), 0x0123_4567_89ab_cdefn);
  assert.equal(reg(1, 0x4008), 0x89ab_cdef);
  assert.equal(reg(1, 0x400c), 0x0123_4567);
  set(1, 0x400c, 0);
  assert.equal(cpu.getMtimecmp(1), 0x89ab_cdefn, 'a high-half write keeps the low half');
  assert.equal(cpu.getMtimecmp(0), NEVER);
  cpu.setMtimecmp(0, 7n); // as the core's own view of the register
  assert.equal(reg(1, 0x4000), 7);
});

test('mtime reads guest time; writes are ignored; other widths fault', async () => {
  const { buses, reg, set } = await machine(0x1_2345_6789n);
  const low = reg(0, 0xbff8);
  assert.equal(reg(0, 0xbffc), 1);
  assert.ok(low >= 0x2345_6789 && low < 0x2345_6789 + 10_000_000, `mtime low half 0x${low.toString(16)} (guest time goes on)`);
  set(0, 0xbff8, 0);
  assert.ok(reg(1, 0xbff8) >= low, 'a write does not move guest time');
  assert.throws(() => buses[0]!.read(CLINT + 0xbff8, 2), BusError);
  assert.throws(() => buses[0]!.write(CLINT + 0x1, 4, 1), BusError);
});

test('the CLINT keeps no state of its own: the harts\' saved state carries msip and mtimecmp', async () => {
  const before = await machine();
  before.set(0, 0x0, 1);
  before.set(1, 0x4008, 1234);
  before.set(1, 0x400c, 5);
  const saved = [0, 1].map((hart) => readHartState(before.memory, hart));
  const after = await machine();
  saved.forEach((state, hart) => writeHartState(after.memory, hart, state));
  assert.equal(after.reg(1, 0x0), 1, 'hart 0\'s msip, read on hart 1\'s thread of the restored machine');
  assert.equal(after.cpu.irqLine(0, MSIP), true);
  assert.equal(after.cpu.getMtimecmp(1), (5n << 32n) | 1234n);
  after.set(0, 0x0, 0);
  assert.equal(after.cpu.irqLine(0, MSIP), false);
});

test('what is not the CLINT goes on to the device thread', async () => {
  const { buses, deviceThread } = await machine();
  assert.equal(buses[1]!.read(0x1000_0005, 1), 0x5a);
  buses[0]!.write(0xc00_2000, 4, 3);
  buses[0]!.read(CLINT - 4, 4);
  assert.deepEqual(deviceThread.accesses, ['read 0x10000005/1', 'write 0xc002000/4 3', 'read 0x1fffffc/4']);
});
