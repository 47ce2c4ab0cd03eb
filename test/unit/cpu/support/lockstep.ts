// The lockstep checker (issue #13's correctness bar for the translator): two cores execute the
// same guest from the same state — one translating (CpuOptions.stopAtBlockEnds, so its run()
// returns at every block end), one interpreting only — and after each step the whole
// architectural state of the hart and guest RAM are compared. The first difference is reported
// with the step's first pc, its instruction and every field that differs.
//
// Users: support/machine.ts in lockstep mode (the CPU unit suite's programs, lockstep.test.ts)
// and test/integration/engine/lockstep-boot.test.ts (the first instructions of a Debian boot).
import * as layout from '../../../../engine/cpu/layout.ts';
import { Cpu, CpuExit } from '../../../../engine/cpu/cpu.ts';

const {
  HART_BASE, HART_X, HART_F, HART_PC, HART_SATP, HART_PMPCFG, HART_PMPADDR, HART_TLB_LOAD, HART_JIT_YIELD,
  HART_PROFILE, RAM_OFFSET, DRAM_BASE,
} = layout;

/** The compared bytes of a hart block: all of it but the translator's scratch words and the profile. */
const COMPARED: ReadonlyArray<readonly [number, number]> = [[0, HART_TLB_LOAD], [HART_JIT_YIELD + 4, HART_PROFILE]];

/** Name of the hart-block field holding byte `offset` (layout.ts names). */
function fieldName(offset: number): string {
  if (offset >= HART_X && offset < HART_X + 256) return `x${(offset - HART_X) >> 3}`;
  if (offset >= HART_F && offset < HART_F + 256) return `f${(offset - HART_F) >> 3}`;
  if (offset >= HART_PMPCFG && offset < HART_PMPADDR) return `pmpcfg${((offset - HART_PMPCFG) >> 3) * 2}`;
  if (offset >= HART_PMPADDR && offset < HART_PMPADDR + 512) return `pmpaddr${(offset - HART_PMPADDR) >> 3}`;
  let best = '';
  let bestOffset = -1;
  for (const [name, value] of Object.entries(layout)) {
    if (!name.startsWith('HART_') || typeof value !== 'number' || value > offset || value <= bestOffset || value >= 0x1000) continue;
    best = name.slice(5).toLowerCase();
    bestOffset = value;
  }
  return best || `+0x${offset.toString(16)}`;
}

export interface FieldDifference { field: string; translated: string; interpreted: string }

/** Fields of hart `hart` whose bytes differ between the two memories (8-byte granules). */
export function hartDifferences(translated: WebAssembly.Memory, interpreted: WebAssembly.Memory, hart = 0): FieldDifference[] {
  const base = HART_BASE + hart * layout.HART_SIZE;
  const same = COMPARED.every(([start, end]) => Buffer.from(translated.buffer, base + start, end - start).equals(Buffer.from(interpreted.buffer, base + start, end - start)));
  if (same) return [];
  const a = new BigUint64Array(translated.buffer, base, layout.HART_SIZE / 8);
  const b = new BigUint64Array(interpreted.buffer, base, layout.HART_SIZE / 8);
  const differences: FieldDifference[] = [];
  for (const [start, end] of COMPARED) {
    for (let offset = start; offset < end; offset += 8) {
      const i = offset >> 3;
      if (a[i] !== b[i]) differences.push({ field: fieldName(offset), translated: hex(a[i]!), interpreted: hex(b[i]!) });
    }
  }
  return differences;
}

/** Guest physical address of the first byte of RAM that differs, or null. */
export function firstRamDifference(translated: WebAssembly.Memory, interpreted: WebAssembly.Memory, ramBytes: number): bigint | null {
  // A plain loop: Buffer.equals over shared memory is tens of times slower.
  const a = new BigUint64Array(translated.buffer, RAM_OFFSET, ramBytes / 8);
  const b = new BigUint64Array(interpreted.buffer, RAM_OFFSET, ramBytes / 8);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const differing = a[i]! ^ b[i]!; // little-endian: the lowest differing byte comes first
    let byte = 0;
    while (((differing >> BigInt(byte * 8)) & 0xffn) === 0n) byte++;
    return BigInt(DRAM_BASE) + BigInt(i * 8 + byte);
  }
  return null;
}

const hex = (value: bigint): string => `0x${value.toString(16)}`;

/**
 * The instruction bits at virtual `pc` as hart `hart` of `memory` sees them (Sv39/Sv48 walk
 * when satp says so; ignores permissions), or null when pc does not reach RAM.
 */
export function instructionAt(memory: WebAssembly.Memory, ramBytes: number, pc: bigint, hart = 0): number | null {
  const quads = new BigUint64Array(memory.buffer);
  const base = HART_BASE + hart * layout.HART_SIZE;
  const privilege = new Int32Array(memory.buffer)[(base + layout.HART_PRIV) >> 2];
  const satp = quads[(base + HART_SATP) >> 3]!;
  const mode = satp >> 60n;
  const ram = (pa: bigint): number | null => (pa >= BigInt(DRAM_BASE) && pa + 4n <= BigInt(DRAM_BASE) + BigInt(ramBytes) ? Number(pa - BigInt(DRAM_BASE)) + RAM_OFFSET : null);
  let pa = pc;
  if (privilege !== 3 && (mode === 8n || mode === 9n)) {
    let table = (satp & ((1n << 44n) - 1n)) << 12n;
    let found = false;
    for (let level = mode === 8n ? 2 : 3; level >= 0; level--) {
      const shift = BigInt(12 + 9 * level);
      const at = ram(table + ((pc >> shift) & 0x1ffn) * 8n);
      if (at === null) return null;
      const pte = quads[at >> 3]!;
      if ((pte & 1n) === 0n) return null;
      const ppn = (pte >> 10n) & ((1n << 44n) - 1n);
      if ((pte & 0xan) === 0n) {
        table = ppn << 12n;
        continue;
      }
      pa = ((ppn << 12n) & ~((1n << shift) - 1n)) | (pc & ((1n << shift) - 1n));
      found = true;
      break;
    }
    if (!found) return null;
  }
  const at = ram(pa);
  if (at === null) return null;
  const bytes = new Uint8Array(memory.buffer, at, 4);
  const low = bytes[0]! | (bytes[1]! << 8);
  return (low & 3) !== 3 ? low : (low | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

/** One side of a lockstep run: a core over its own memory and board. */
export interface LockstepSide {
  cpu: Cpu;
  memory: WebAssembly.Memory;
  /** Runs up to `budget` instructions on hart 0 (moving the side's own time with them). */
  step(budget: number): CpuExit;
}

export class LockstepDivergence extends Error {}

export interface LockstepStep {
  /** Instructions (attempted) in the step: both sides ran exactly these. */
  instructions: number;
  exit: CpuExit;
}

/**
 * One step: the translating side runs to its next block end (at most `budget` instructions),
 * the interpreting side the same number of instructions, then hart state is compared (and RAM
 * when `compareRam`). Throws a LockstepDivergence describing the first difference.
 */
export function lockstepStep(translated: LockstepSide, interpreted: LockstepSide, budget: number, ramBytes: number, compareRam: boolean): LockstepStep {
  const pc = translated.cpu.getPc(0);
  const before = translated.cpu.executed(0);
  const exit = translated.step(budget);
  const instructions = Number(translated.cpu.executed(0) - before);
  const startedAt = interpreted.cpu.executed(0);
  const interpretedExit = instructions > 0 ? interpreted.step(instructions) : interpreted.step(budget);
  const interpretedInstructions = Number(interpreted.cpu.executed(0) - startedAt);
  const fields = hartDifferences(translated.memory, interpreted.memory);
  if (interpretedInstructions !== instructions) {
    fields.unshift({ field: 'instructions executed in the step', translated: String(instructions), interpreted: String(interpretedInstructions) });
  }
  if (exit !== interpretedExit) fields.unshift({ field: 'run() exit', translated: String(exit), interpreted: String(interpretedExit) });
  const ram = fields.length === 0 && compareRam ? firstRamDifference(translated.memory, interpreted.memory, ramBytes) : null;
  if (fields.length > 0 || ram !== null) {
    const insn = instructionAt(interpreted.memory, ramBytes, pc);
    const what = ram !== null
      ? `RAM differs first at ${hex(ram)}`
      : fields.map((d) => `  ${d.field}: translated ${d.translated}, interpreted ${d.interpreted}`).join('\n');
    throw new LockstepDivergence(
      `lockstep: the translator and the interpreter diverge in the step of ${instructions} instructions from pc ${hex(pc)}`
      + ` (instruction ${insn === null ? 'not in RAM' : `0x${insn.toString(16)}`}, ${before} instructions before it):\n${what}`,
    );
  }
  return { instructions, exit };
}
