// A device's interrupt output. Devices re-evaluate their interrupt condition after every
// register access; this drives the line (into the PLIC) only when the level changes, or when
// forced after a restore, where the other end must be told the level whatever it believes.
import type { IrqLine } from './device.ts';

export class IrqOutput {
  private level = false;

  constructor(private readonly line: IrqLine) {}

  set(level: boolean, force = false): void {
    if (level === this.level && !force) return;
    this.level = level;
    this.line(level);
  }
}
