// Recording stand-ins for what surrounds a device model in a unit test: the hart's interrupt
// inputs and mtimecmp (implemented by the CPU in the machine), an interrupt line, a console
// back-end, and guest time.
import type { HartLines, InterruptBit, IrqLine } from '../../../engine/devices/device.ts';
import type { CharBackend } from '../../../engine/devices/char.ts';

export class RecordingHartLines implements HartLines {
  private readonly levels = new Map<string, boolean>();
  private readonly mtimecmp = new Map<number, bigint>();

  setIrqLine(hart: number, bit: InterruptBit, level: boolean): void {
    this.levels.set(`${hart}:${bit}`, level);
  }
  irqLine(hart: number, bit: InterruptBit): boolean {
    return this.levels.get(`${hart}:${bit}`) ?? false;
  }
  getMtimecmp(hart: number): bigint {
    return this.mtimecmp.get(hart) ?? 0n;
  }
  setMtimecmp(hart: number, value: bigint): void {
    this.mtimecmp.set(hart, value);
  }
}

/** An interrupt line that remembers its level and how often it was driven. */
export function recordingIrq(): { line: IrqLine; readonly level: boolean; readonly changes: number } {
  const state = { level: false, changes: 0 };
  return {
    line: (level) => { state.changes++; state.level = level; },
    get level() { return state.level; },
    get changes() { return state.changes; },
  };
}

/** A console whose input is typed by the test and whose output is collected. */
export class TestConsole implements CharBackend {
  private output: number[] = [];
  private input: Uint8Array[] = [];
  write(bytes: Uint8Array): void {
    this.output.push(...bytes);
  }
  read(): Uint8Array | null {
    return this.input.shift() ?? null;
  }
  type(text: string): void {
    this.input.push(new TextEncoder().encode(text));
  }
  /** Everything written so far, as text; clears it. */
  take(): string {
    const text = new TextDecoder().decode(Uint8Array.from(this.output));
    this.output = [];
    return text;
  }
}

/** Guest time that moves only when the test says so. */
export class ManualClock {
  ticks = 0n;
  now(): bigint {
    return this.ticks;
  }
}

/** A saved state as it comes back from a file. */
export const throughJson = <T>(state: T): T => JSON.parse(JSON.stringify(state)) as T;
