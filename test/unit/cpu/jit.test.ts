// The translator (engine/cpu/assembly/jit.ts) where it meets the rest of the machine: code
// that is rewritten while its blocks are compiled, instructions that straddle a page boundary,
// FENCE.I while blocks are live, traps and interrupts in the middle of a compiled loop. Each
// scenario runs twice, interpreted (no block runs often enough to be compiled) and translated
// (every block compiled at its first run), and both runs must end in the same state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterruptBit } from '../../../engine/devices/device.ts';
import {
  CAUSE, CSR, INTERRUPT, MMIO_BASE, RAM_BYTES, TestMachine, enter, hex, type ProgramOptions, type Stop,
} from './support/machine.ts';

const INTERPRETED = 0xffff_ffff;
const TRANSLATED = 1;
const DRAM = 0x8000_0000n;

type Drive = (m: TestMachine) => void;

/** Runs the program both ways; returns [interpreted, translated] after asserting they agree. */
async function bothWays(code: string, options: ProgramOptions & { stop?: Stop; drive?: Drive; setup?: Drive } = {}): Promise<[TestMachine, TestMachine]> {
  const { stop = 'done', drive = (m: TestMachine) => { m.runTo(stop); }, setup = () => {}, ...program } = options;
  const runs: TestMachine[] = [];
  for (const jitThreshold of [INTERPRETED, TRANSLATED]) {
    const m = await TestMachine.load(code, { ...program, jitThreshold });
    setup(m);
    drive(m);
    runs.push(m);
  }
  const [interpreted, translated] = runs as [TestMachine, TestMachine];
  assert.equal(interpreted.cpu.translatedBlocks, 0, 'the interpreted run compiled nothing');
  assert.ok(translated.cpu.translatedBlocks > 0, 'the translated run compiled blocks');
  const state = (m: TestMachine) => [
    `pc=${hex(m.pc)} privilege=${m.privilege} instret=${m.cpu.instret(0)}`,
    ...Array.from({ length: 32 }, (_, i) => `x${i}=${hex(m.x(`x${i}`))}`),
    ...(['mepc', 'mcause', 'mtval', 'mstatus', 'sepc', 'scause', 'stval'] as const).map((name) => `${name}=${hex(m.csr(CSR[name]))}`),
  ].join('\n');
  assert.equal(state(translated), state(interpreted), 'the translated run ends where the interpreted one does');
  return [interpreted, translated];
}

test('a store into a compiled block\'s page: the block runs its new instruction', async () => {
  const [, m] = await bothWays(`
    call patched
    mv s2, a0
    la t0, patched
    lw t1, replacement
    sw t1, 0(t0)
    call patched
    mv s3, a0`, {
    data: `
patched:
    addi a0, zero, 1
    ret
replacement:
    addi a0, zero, 2`,
  });
  m.expectX({ s2: 1n, s3: 2n });
});

/**
 * Three calls of `patched` (which sets a0 to 1 until it is rewritten to set `replacement`),
 * summing a0 in s2; `rewrite` runs after each call (t0 holds patched's address, t1 the new word).
 */
function callsOfPatched(rewrite: string, replacement: number): [string, string] {
  return [`
    li s1, 3
again:
    call patched
    add s2, s2, a0
    la t0, patched
    lw t1, replacement
${rewrite}
    addi s1, s1, -1
    bnez s1, again`, `
patched:
    addi a0, zero, 1
    ret
replacement:
    addi a0, zero, ${replacement}`];
}

test('an atomic store (run by the interpreter) into compiled code: the new instruction runs', async () => {
  const [code, data] = callsOfPatched('    amoswap.w zero, t1, (t0)', 10);
  const [, m] = await bothWays(code, { data });
  m.expectX({ s2: 21n }); // 1 + 10 + 10
});

test('a store to a later instruction of the running block, then FENCE.I: the new one runs', async () => {
  const [, m] = await bothWays(`
    li s1, 2
again:
    la t0, target
    lw t1, replacement
    sw t1, 0(t0)
    fence.i
target:
    addi a0, zero, 1
    add s2, s2, a0
    la t0, target
    lw t1, original
    sw t1, 0(t0)
    fence.i
    addi s1, s1, -1
    bnez s1, again`, {
    data: `
replacement:
    addi a0, zero, 7
original:
    addi a0, zero, 1`,
  });
  m.expectX({ s2: 14n });
});

test('code a device rewrites behind the hart\'s back runs after FENCE.I', async () => {
  let rewrites = 0;
  const [code, data] = callsOfPatched(`
    li t2, ${MMIO_BASE}
    lw zero, 0(t2)
    fence.i`, 100);
  const [, m] = await bothWays(code, {
    data,
    // The device's register read copies `replacement` over `patched` (as a DMA write would).
    setup: (machine) => {
      machine.bus.readValue = () => {
        rewrites++;
        machine.memory.write(machine.symbol('patched'), machine.memory.read(machine.symbol('replacement'), 4));
        return 0;
      };
    },
  });
  m.expectX({ s2: 201n });
  assert.equal(rewrites, 6, 'three reads in each run');
});

test('FENCE.I keeps the compiled blocks whose code did not change', async () => {
  const loop = (times: number) => `
    li s1, ${times}
again:
    call work
    fence.i
    addi s1, s1, -1
    bnez s1, again`;
  const data = `
work:
    addi s2, s2, 3
    slli s3, s2, 1
    ret`;
  const [, twice] = await bothWays(loop(2), { data });
  const [, often] = await bothWays(loop(50), { data });
  often.expectX({ s2: 150n, s3: 300n });
  assert.equal(often.cpu.translatedBlocks, twice.cpu.translatedBlocks, 'no block was compiled again after a FENCE.I');
});

// Sv39 for the page-boundary tests: one level-0 table maps the first 2 MiB of RAM at the same
// virtual addresses, page by page (the tables and the harness's handlers are reached in M mode).
const ROOT = DRAM + 0x8_0000n, L1 = DRAM + 0x8_1000n, L0 = DRAM + 0x8_2000n;
const pte = (physical: bigint, flags: bigint): bigint => ((physical >> 12n) << 10n) | flags;
const V = 1n, R = 2n, W = 4n, X = 8n, A = 64n, D = 128n;

/** `code` runs in S mode with pages 0..pages-1 of RAM mapped (identity), the rest unmapped. */
function paged(pages: number): Drive {
  return (m) => {
    m.memory.writeU64(ROOT + 2n * 8n, pte(L1, V));
    m.memory.writeU64(L1, pte(L0, V));
    for (let page = 0n; page < BigInt(pages); page++) m.memory.writeU64(L0 + page * 8n, pte(DRAM + page * 0x1000n, V | R | W | X | A | D));
  };
}
const toSv39 = (body: string): string => `
    li t0, ${hex((8n << 60n) | (ROOT >> 12n))}
    csrw satp, t0
    sfence.vma
${enter('S', 'supervisor')}
supervisor:
${body}`;

/** Code at the end of the second page: three instructions, then a 4-byte one at offset 0xffe. */
const STRADDLE = `
.org 0x1ff0
before:
    addi s2, s2, 1
    addi s2, s2, 1
    addi s2, s2, 1
.option rvc
    c.nop
.option norvc
straddling:
    addi s3, s3, 5
    ret
.option rvc
    c.nop
.option norvc`; // back to a 4-byte boundary, for the harness's handlers that follow

test('a 4-byte instruction split across two pages runs, again and again', async () => {
  const [, m] = await bothWays(toSv39(`
    li s1, 4
again:
    call before
    addi s1, s1, -1
    bnez s1, again
    ecall
${STRADDLE}`), { setup: paged(8), stop: 'm-trap' });
  assert.equal(m.symbol('straddling'), DRAM + 0x1ffen);
  m.expectX({ s2: 12n, s3: 20n });
  m.expectCsr({ mcause: CAUSE.ecallS });
});

test('a 4-byte instruction whose second half lies on an unmapped page: fetch page fault at that page', async () => {
  const [, m] = await bothWays(toSv39(`
    call before
${STRADDLE}`), { setup: paged(2), stop: 'm-trap' });
  m.expectMTrap(CAUSE.fetchPage, DRAM + 0x1ffen, DRAM + 0x2000n);
  m.expectX({ s2: 3n, s3: 0n });
});

test('a load fault in the middle of a compiled loop: precise pc, tval and registers', async () => {
  const end = DRAM + BigInt(RAM_BYTES);
  const [, m] = await bothWays(`
    li t0, ${hex(end - 64n)}
    li t2, 1
loop:
    ld t1, 0(t0)
    addi t0, t0, 8
    addi a0, a0, 1
    bne t2, zero, loop`, { stop: 'm-trap' });
  m.expectMTrap(CAUSE.loadAccess, m.symbol('loop'), end);
  m.expectX({ a0: 8n, t0: end });
});

test('an interrupt taken in the middle of a compiled loop, which then runs to its end', async () => {
  const [interpreted, m] = await bothWays(`
    la t0, handler
    csrw mtvec, t0
    li t0, ${1 << InterruptBit.MachineExternal}
    csrs mie, t0
    csrsi mstatus, 8
    li a1, 100000
loop:
    addi a0, a0, 1
    slli a2, a0, 2
    bne a0, a1, loop`, {
    budget: 1_000_000,
    data: `
handler:
    csrr s1, mepc
    csrr s5, mcause
    addi s2, s2, 1
    li t0, ${MMIO_BASE}
    lw zero, 0(t0)
    mret`,
    // Part-way through the loop the line rises; reading the device lowers it.
    drive: (machine) => {
      machine.bus.readValue = () => {
        machine.cpu.setIrqLine(0, InterruptBit.MachineExternal, false);
        return 0;
      };
      for (let i = 0; i < 7; i++) machine.cpu.run(0, 1_000);
      const at = machine.x('a0');
      assert.ok(at > 100n && at < 100_000n, `the loop is under way (a0 = ${at})`);
      machine.cpu.setIrqLine(0, InterruptBit.MachineExternal, true);
      machine.runTo('done');
    },
  });
  const loop = m.symbol('loop');
  m.expectX({ a0: 100_000n, a2: 400_000n, s2: 1n, s5: INTERRUPT | 11n });
  assert.ok(m.x('s1') >= loop && m.x('s1') < loop + 12n, `mepc ${hex(m.x('s1'))} is in the loop`);
  assert.equal(interpreted.bus.accesses.length, 1);
  assert.equal(m.bus.accesses.length, 1);
});

test('a block follows a forward jal inside its page: the link, a loop after it and a fault there keep their pcs', async () => {
  // One block: jal links ra and skips an addi; then a loop back to the block's start (a taken
  // branch to offset 0) runs three passes; the fourth pass faults at the load after the jump.
  const [, m] = await bothWays(`
    li s1, 3
    li a2, ${MMIO_BASE + 0x2000}
loop:
    jal ra, over
    addi a0, a0, 100
over:
    addi a1, a1, 1
    addi s1, s1, -1
    bgez s1, loop_back
    ld a3, 0(a2)
loop_back:
    j loop`, { stop: 'm-trap' });
  const over = m.symbol('over');
  m.expectX({ a0: 0n, a1: 4n, ra: m.symbol('loop') + 4n });
  m.expectMTrap(CAUSE.loadAccess, over + 12n, BigInt(MMIO_BASE + 0x2000));
});
