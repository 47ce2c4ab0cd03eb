// Hart state save → restore: every architectural field the core keeps for a hart (registers,
// pc, privilege, CSRs, PMP, timer compare, interrupt lines, WFI, counters) goes through the
// saved JSON into another machine's memory and reads back the same through the core itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../engine/cpu/cpu.ts';
import { InterruptBit, type MmioBus } from '../../../engine/devices/device.ts';
import { cpuStateFromJson, cpuStateJson, readHartState, writeHartState } from '../../../engine/machine/hart-state.ts';

const RAM = 1024 * 1024;
const HARTS = 2;
const noBus: MmioBus = { read: () => 0, write: () => {} };
// mstatus 0x300, medeleg, mideleg, mie, mtvec, mcounteren, menvcfg 0x30a, mcountinhibit 0x320,
// mscratch 0x340, mepc, mcause, mtval, stvec 0x105, scounteren, senvcfg 0x10a, sscratch 0x140,
// sepc, scause, stval, stimecmp 0x14d, satp 0x180, fcsr 0x003, mip 0x344, mcycle 0xb00,
// minstret 0xb02, pmpcfg0 0x3a0, pmpcfg2, pmpaddr0 0x3b0, pmpaddr5, mhartid 0xf14.
const CSRS = [0x300, 0x302, 0x303, 0x304, 0x305, 0x306, 0x30a, 0x320, 0x340, 0x341, 0x342, 0x343, 0x105, 0x106,
  0x10a, 0x140, 0x141, 0x142, 0x143, 0x14d, 0x180, 0x003, 0x344, 0xb00, 0xb02, 0x3a0, 0x3a2, 0x3b0, 0x3b5, 0xf14];

async function machine() {
  const memory = Cpu.createMemory(RAM);
  const cpu = new Cpu(await Cpu.compile(), memory, { ramBytes: RAM, harts: HARTS, bus: noBus });
  return { memory, cpu };
}

/** A hart put in a state far from reset: every field a different, legal value. */
function scramble(cpu: Cpu, hart: number): void {
  cpu.resetHart(hart, { pc: 0x8000_0000n, a0: 0n, a1: 0n, a2: 0n });
  const salt = BigInt(hart + 1) << 40n;
  for (let i = 1; i < 32; i++) cpu.setX(hart, i, salt + BigInt(i) * 0x1111n);
  for (let i = 0; i < 32; i++) cpu.setF(hart, i, 0xffff_ffff_0000_0000n | BigInt(i * 3 + hart));
  cpu.setPc(hart, 0x8020_1234n + BigInt(hart) * 4n);
  cpu.writeCsr(hart, 0x300, (1n << 11n) | (1n << 18n) | (3n << 13n) | (1n << 5n)); // MPP=S, SUM, FS dirty, SPIE
  cpu.writeCsr(hart, 0x302, 0xb1ffn);
  cpu.writeCsr(hart, 0x303, 0x222n);
  cpu.writeCsr(hart, 0x304, 0xaaan);
  cpu.writeCsr(hart, 0x305, 0x8000_0100n);
  cpu.writeCsr(hart, 0x306, 7n);
  cpu.writeCsr(hart, 0x30a, (1n << 63n) | 1n); // STCE, FIOM
  cpu.writeCsr(hart, 0x340, salt + 0x340n);
  cpu.writeCsr(hart, 0x341, 0x8000_2000n);
  cpu.writeCsr(hart, 0x342, 9n);
  cpu.writeCsr(hart, 0x343, 0xdeadn);
  cpu.writeCsr(hart, 0x105, 0xffff_ffff_8000_0000n);
  cpu.writeCsr(hart, 0x106, 2n);
  cpu.writeCsr(hart, 0x140, salt + 0x140n);
  cpu.writeCsr(hart, 0x141, 0xffff_ffff_8000_4000n);
  cpu.writeCsr(hart, 0x142, 13n);
  cpu.writeCsr(hart, 0x143, 0xbeefn);
  cpu.writeCsr(hart, 0x14d, 123_456_789n + BigInt(hart));
  cpu.writeCsr(hart, 0x180, (8n << 60n) | 0x80123n); // Sv39
  cpu.writeCsr(hart, 0x003, 0x61n); // frm 3, NX
  cpu.writeCsr(hart, 0x344, 2n); // SSIP
  cpu.writeCsr(hart, 0xb00, 1_000_000n + BigInt(hart));
  cpu.writeCsr(hart, 0x3a0, 0x1f0fn);
  cpu.writeCsr(hart, 0x3b0, 0x2000_0000n);
  cpu.writeCsr(hart, 0x3b5, 0x3fffn);
  cpu.setMtimecmp(hart, 987_654_321n + BigInt(hart));
  cpu.setIrqLine(hart, InterruptBit.SupervisorExternal, true);
  if (hart === 1) cpu.setIrqLine(hart, InterruptBit.MachineSoftware, true);
}

test('every hart\'s state goes through the saved JSON into another memory and the core reads it back the same', async () => {
  const a = await machine();
  for (let hart = 0; hart < HARTS; hart++) scramble(a.cpu, hart);
  const saved = JSON.parse(JSON.stringify(cpuStateJson(a.memory, HARTS)));
  assert.equal(saved.harts[1].csrs.satp, ((8n << 60n) | 0x80123n).toString(), 'named fields, 64-bit values as decimal strings');

  const b = await machine();
  cpuStateFromJson(saved, HARTS).forEach((state, hart) => writeHartState(b.memory, hart, state));
  for (let hart = 0; hart < HARTS; hart++) {
    assert.deepEqual(readHartState(b.memory, hart), readHartState(a.memory, hart));
    assert.equal(b.cpu.getPc(hart), a.cpu.getPc(hart));
    assert.equal(b.cpu.privilege(hart), 3);
    for (let i = 0; i < 32; i++) {
      assert.equal(b.cpu.getX(hart, i), a.cpu.getX(hart, i), `x${i}`);
      assert.equal(b.cpu.getF(hart, i), a.cpu.getF(hart, i), `f${i}`);
    }
    for (const csr of CSRS) assert.equal(b.cpu.readCsr(hart, csr), a.cpu.readCsr(hart, csr), `hart ${hart} csr 0x${csr.toString(16)}`);
    assert.equal(b.cpu.getMtimecmp(hart), 987_654_321n + BigInt(hart));
  }
  assert.equal(b.cpu.readCsr(1, 0xf14), 1n);
  // mip as the hart sees it (timer bits aside: they follow the host clock): SEIP, SSIP, and MSIP on hart 1 only.
  assert.equal(b.cpu.readCsr(0, 0x344) & 0xa0an, 0x202n);
  assert.equal(b.cpu.readCsr(1, 0x344) & 0xa0an, 0x20an);
});

test('a restored hart runs on from the saved pc with the saved registers and counters', async () => {
  const a = await machine();
  for (let hart = 0; hart < HARTS; hart++) a.cpu.resetHart(hart, { pc: 0x8000_0000n, a0: 0n, a1: 0n, a2: 0n });
  // addi a0, a0, 1 ; addi a0, a0, 1 ; ... in RAM, run 3 of them, save, restore, run 2 more.
  const ram = new Uint32Array(a.memory.buffer, 0x0400_0000, 16);
  ram.fill(0x0015_0513);
  a.cpu.run(0, 3);
  const saved = JSON.parse(JSON.stringify(cpuStateJson(a.memory, HARTS)));
  const b = await machine();
  new Uint32Array(b.memory.buffer, 0x0400_0000, 16).fill(0x0015_0513);
  cpuStateFromJson(saved, HARTS).forEach((state, hart) => writeHartState(b.memory, hart, state));
  assert.equal(b.cpu.getX(0, 10), 3n);
  b.cpu.run(0, 2);
  assert.equal(b.cpu.getX(0, 10), 5n);
  assert.equal(b.cpu.getPc(0), 0x8000_0014n);
  assert.equal(b.cpu.instret(0), 5n);
});

test('a cpu state that does not fit is refused, naming the field', async () => {
  const a = await machine();
  a.cpu.resetHart(0, { pc: 0x8000_0000n, a0: 0n, a1: 0n, a2: 0n });
  a.cpu.resetHart(1, { pc: 0x8000_0000n, a0: 0n, a1: 0n, a2: 0n });
  const good = () => JSON.parse(JSON.stringify(cpuStateJson(a.memory, HARTS)));
  assert.throws(() => cpuStateFromJson(good(), 4), /cpu: the saved state has 2 harts, this machine 4/);
  const badPrivilege = good();
  badPrivilege.harts[1].privilege = 2;
  assert.throws(() => cpuStateFromJson(badPrivilege, HARTS), /cpu\.harts\[1\]: saved field "privilege" is not 0, 1 or 3/);
  const badX0 = good();
  badX0.harts[0].x[0] = '5';
  assert.throws(() => cpuStateFromJson(badX0, HARTS), /x0 is not 0/);
  const noSatp = good();
  delete noSatp.harts[0].csrs.satp;
  assert.throws(() => cpuStateFromJson(noSatp, HARTS), /cpu\.harts\[0\]\.csrs: saved field "satp"/);
  const shortF = good();
  shortF.harts[0].f.pop();
  assert.throws(() => cpuStateFromJson(shortF, HARTS), /saved field "f" is not an array of 32/);
  const swapped = good();
  swapped.harts.reverse();
  assert.throws(() => cpuStateFromJson(swapped, HARTS), /mhartid is 1/);
  assert.throws(() => cpuStateFromJson({ ...good(), version: 2 }, HARTS), /cpu: unsupported saved state version 2/);
});
