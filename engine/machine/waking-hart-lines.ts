// Interrupt lines that wake the hart they reach: each hart runs on its own vCPU thread and may be
// asleep in WFI (engine/vcpu/control.ts implements HartWaker with the hart's wake word).
import type { HartLines, InterruptBit } from '../cpu/board.ts';

/** Rings a hart's wake word so that a hart asleep in WFI looks at its lines again. */
export interface HartWaker {
  wakeHart(hart: number): void;
}

/**
 * The harts' interrupt inputs and timer compares as devices drive them, plus a ring of the hart's
 * wake word, so that a hart sleeping in WFI on its own thread looks at them again at once.
 */
export class WakingHartLines implements HartLines {
  constructor(private readonly lines: HartLines, private readonly control: HartWaker) {}

  setIrqLine(hart: number, bit: InterruptBit, level: boolean): void {
    this.lines.setIrqLine(hart, bit, level);
    this.control.wakeHart(hart);
  }

  irqLine(hart: number, bit: InterruptBit): boolean {
    return this.lines.irqLine(hart, bit);
  }

  getMtimecmp(hart: number): bigint {
    return this.lines.getMtimecmp(hart);
  }

  setMtimecmp(hart: number, value: bigint): void {
    this.lines.setMtimecmp(hart, value);
    this.control.wakeHart(hart);
  }
}
