// Platform-Level Interrupt Controller, "sifive,plic-1.0.0" (RISC-V PLIC specification 1.0.0;
// layout of QEMU's hw/intc/sifive_plic.c on the virt board, which Linux's irq-sifive-plic and
// OpenSBI drive). 96 sources, 1..95 usable (0 means "no interrupt"); two contexts per hart:
// context 2h is hart h in M mode (drives MEIP), 2h+1 hart h in S mode (drives SEIP).
//
//   0x00_0000 + 4*s            priority of source s (0..7; 0 never interrupts)
//   0x00_1000 + 4*w            pending bits of sources 32w..32w+31 (read-only)
//   0x00_2000 + 0x80*c + 4*w   enable bits of context c for sources 32w..32w+31
//   0x20_0000 + 0x1000*c       priority threshold of context c (0..7)
//   0x20_0004 + 0x1000*c       claim (read) / complete (write) of context c
//
// Registers are 32 bits wide; other widths and unaligned accesses are bus errors.
// Sources are level-triggered: a source is pending while its line is high and it is not
// claimed, so a line still high when the handler completes interrupts again (the gateway's
// level behaviour). A context's interrupt line is high while an enabled pending source has a
// priority above its threshold; a claim returns the highest such source (lowest id on a tie).
import {
  BusError, InterruptBit, type AccessWidth, type Device, type DeviceState, type HartLines, type IrqLine,
} from './device.ts';
import { StateReader } from './state.ts';

export const PLIC_SOURCES = 96;
const WORDS = PLIC_SOURCES / 32;
const PRIORITY_MASK = 7;

const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000;
const CONTEXT_STRIDE = 0x1000;

export class Plic implements Device {
  readonly kind = 'plic';
  private readonly contexts: number;
  private readonly priority = new Uint32Array(PLIC_SOURCES);
  /** Input line levels, one bit per source. */
  private readonly asserted = new Uint32Array(WORDS);
  /** Sources claimed by some context and not completed yet. */
  private readonly claimed = new Uint32Array(WORDS);
  /** Enable bits: WORDS words per context. */
  private readonly enabled: Uint32Array;
  private readonly threshold: Uint32Array;
  /** The level each context's line was last driven to. */
  private readonly contextLevel: boolean[];

  constructor(harts: number, private readonly lines: HartLines) {
    this.contexts = 2 * harts;
    this.enabled = new Uint32Array(this.contexts * WORDS);
    this.threshold = new Uint32Array(this.contexts);
    this.contextLevel = new Array<boolean>(this.contexts).fill(false);
  }

  /** The input line of `source` (1..95), for the device wired to it. */
  irqLine(source: number): IrqLine {
    if (!Number.isInteger(source) || source < 1 || source >= PLIC_SOURCES) {
      throw new RangeError(`PLIC source ${source} is not in 1..${PLIC_SOURCES - 1}`);
    }
    const word = source >> 5;
    const bit = 1 << (source & 31);
    return (level) => {
      const before = this.asserted[word];
      this.asserted[word] = level ? before | bit : before & ~bit;
      if (this.asserted[word] !== before) this.update();
    };
  }

  reset(): void {
    this.priority.fill(0);
    this.claimed.fill(0);
    this.enabled.fill(0);
    this.threshold.fill(0);
    // Line levels are the devices' outputs, not PLIC state: they stay as the devices drive them.
    this.update(true);
  }

  read(offset: number, width: AccessWidth): number {
    this.checkAccess(offset, width);
    if (offset < PENDING_BASE) {
      const source = offset >> 2;
      return source < PLIC_SOURCES ? this.priority[source] : 0;
    }
    if (offset < ENABLE_BASE) {
      const word = (offset - PENDING_BASE) >> 2;
      return word < WORDS ? (this.asserted[word] & ~this.claimed[word]) >>> 0 : 0;
    }
    if (offset < CONTEXT_BASE) {
      const index = this.enableIndex(offset);
      return index === null ? 0 : this.enabled[index];
    }
    const context = (offset - CONTEXT_BASE) / CONTEXT_STRIDE | 0;
    if (context >= this.contexts) return 0;
    switch (offset % CONTEXT_STRIDE) {
      case 0: return this.threshold[context];
      case 4: return this.claim(context);
      default: return 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number): void {
    this.checkAccess(offset, width);
    if (offset < PENDING_BASE) {
      const source = offset >> 2;
      if (source > 0 && source < PLIC_SOURCES) this.priority[source] = value & PRIORITY_MASK;
    } else if (offset < ENABLE_BASE) {
      return; // pending bits are read-only
    } else if (offset < CONTEXT_BASE) {
      const index = this.enableIndex(offset);
      if (index === null) return;
      // Source 0 does not exist: its enable bit is hardwired to 0.
      this.enabled[index] = index % WORDS === 0 ? value & ~1 : value;
    } else {
      const context = (offset - CONTEXT_BASE) / CONTEXT_STRIDE | 0;
      if (context >= this.contexts) return;
      switch (offset % CONTEXT_STRIDE) {
        case 0: this.threshold[context] = value & PRIORITY_MASK; break;
        case 4: this.complete(context, value >>> 0); return;
        default: return;
      }
    }
    this.update();
  }

  private checkAccess(offset: number, width: AccessWidth): void {
    if (width !== 4 || offset & 3) {
      throw new BusError(`PLIC: ${width}-byte access at offset 0x${offset.toString(16)} (registers are 32-bit)`);
    }
  }

  /** Index into `enabled` of an enable-register offset, or null outside the contexts. */
  private enableIndex(offset: number): number | null {
    const context = (offset - ENABLE_BASE) / ENABLE_STRIDE | 0;
    const word = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >> 2;
    return context < this.contexts && word < WORDS ? context * WORDS + word : null;
  }

  /** The highest-priority pending source enabled for `context` above its threshold, or 0. */
  private bestSource(context: number): number {
    let best = 0;
    let bestPriority = this.threshold[context];
    for (let word = 0; word < WORDS; word++) {
      let bits = this.asserted[word] & ~this.claimed[word] & this.enabled[context * WORDS + word];
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const source = word * 32 + bit;
        if (this.priority[source] > bestPriority) {
          best = source;
          bestPriority = this.priority[source];
        }
      }
    }
    return best;
  }

  private claim(context: number): number {
    const source = this.bestSource(context);
    if (source !== 0) {
      this.claimed[source >> 5] |= 1 << (source & 31);
      this.update();
    }
    return source;
  }

  private complete(context: number, source: number): void {
    // A completion for a source not enabled for this context is ignored (PLIC spec).
    if (source === 0 || source >= PLIC_SOURCES) return;
    const bit = 1 << (source & 31);
    if (!(this.enabled[context * WORDS + (source >> 5)] & bit)) return;
    this.claimed[source >> 5] &= ~bit;
    this.update();
  }

  /** Drives each context's MEIP/SEIP line; only changes are sent unless `force`. */
  private update(force = false): void {
    for (let context = 0; context < this.contexts; context++) {
      const level = this.bestSource(context) !== 0;
      if (level === this.contextLevel[context] && !force) continue;
      this.contextLevel[context] = level;
      const bit = context & 1 ? InterruptBit.SupervisorExternal : InterruptBit.MachineExternal;
      this.lines.setIrqLine(context >> 1, bit, level);
    }
  }

  saveState(): DeviceState {
    return {
      version: 1,
      priorities: [...this.priority],
      assertedSources: this.sourcesIn(this.asserted),
      claimedSources: this.sourcesIn(this.claimed),
      contexts: Array.from({ length: this.contexts }, (_, context) => ({
        enabledSources: this.sourcesIn(this.enabled.subarray(context * WORDS, (context + 1) * WORDS)),
        threshold: this.threshold[context],
      })),
    };
  }

  loadState(state: DeviceState): void {
    const s = StateReader.open(state, this.kind, 1);
    const priorities = s.uints('priorities', PRIORITY_MASK, PLIC_SOURCES, true);
    const contexts = s.list('contexts', (c) => ({
      enabledSources: c.uints('enabledSources', PLIC_SOURCES - 1, PLIC_SOURCES),
      threshold: c.uint('threshold', PRIORITY_MASK),
    }), this.contexts);
    this.priority.set(priorities);
    this.priority[0] = 0;
    this.setSources(this.asserted, s.uints('assertedSources', PLIC_SOURCES - 1, PLIC_SOURCES));
    this.setSources(this.claimed, s.uints('claimedSources', PLIC_SOURCES - 1, PLIC_SOURCES));
    contexts.forEach((context, index) => {
      this.setSources(this.enabled.subarray(index * WORDS, (index + 1) * WORDS), context.enabledSources);
      this.threshold[index] = context.threshold;
    });
    this.update(true);
  }

  /** The source numbers whose bits are set in `words`. */
  private sourcesIn(words: Uint32Array): number[] {
    const sources: number[] = [];
    for (let source = 1; source < PLIC_SOURCES; source++) {
      if (words[source >> 5] & (1 << (source & 31))) sources.push(source);
    }
    return sources;
  }

  private setSources(words: Uint32Array, sources: readonly number[]): void {
    words.fill(0);
    for (const source of sources) if (source > 0) words[source >> 5] |= 1 << (source & 31);
  }
}
