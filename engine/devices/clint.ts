// Core-Local Interruptor, "riscv,clint0" (SiFive CLINT; the RISC-V ACLINT specification's
// MSWI and MTIMER devices at the same offsets; QEMU's hw/intc/riscv_aclint.c). OpenSBI finds
// its IPIs and machine timer here.
//
//   0x0000 + 4*h   msip of hart h: bit 0 drives the hart's MSIP line
//   0x4000 + 8*h   mtimecmp of hart h, 64 bits as two 32-bit halves (low half first)
//   0xbff8         mtime, 64 bits as two halves: guest time at the 10 MHz timebase
//
// mtimecmp lives in the hart's block of shared memory (HartLines), where the core compares it
// with mtime itself and raises MTIP; so it is saved with the CPU, not here. mtime is guest time
// (GuestClock); writes to it are ignored. Registers are 32-bit; other widths are bus errors.
import { BusError, InterruptBit, type AccessWidth, type Device, type DeviceState, type HartLines } from './device.ts';
import type { GuestClock } from './clock.ts';
import { StateReader } from './state.ts';
import { half, withHalf } from './u64.ts';

const MSIP_BASE = 0x0000;
const MTIMECMP_BASE = 0x4000;
const MTIME = 0xbff8;
/** mtimecmp at reset: no timer interrupt until the guest programs one. */
const MTIMECMP_NEVER = 0xffff_ffff_ffff_ffffn;

export class Clint implements Device {
  readonly kind = 'clint';
  private readonly msip: boolean[];

  constructor(
    private readonly harts: number,
    private readonly clock: Pick<GuestClock, 'now'>,
    private readonly lines: HartLines,
  ) {
    this.msip = new Array<boolean>(harts).fill(false);
  }

  reset(): void {
    for (let hart = 0; hart < this.harts; hart++) {
      this.setMsip(hart, false);
      this.lines.setMtimecmp(hart, MTIMECMP_NEVER);
    }
  }

  read(offset: number, width: AccessWidth): number {
    this.checkAccess(offset, width);
    if (offset >= MTIME && offset < MTIME + 8) return half(this.clock.now(), offset !== MTIME);
    if (offset >= MTIMECMP_BASE) {
      const hart = (offset - MTIMECMP_BASE) >> 3;
      return hart < this.harts ? half(this.lines.getMtimecmp(hart), (offset & 4) !== 0) : 0;
    }
    const hart = (offset - MSIP_BASE) >> 2;
    return hart < this.harts && this.msip[hart] ? 1 : 0;
  }

  write(offset: number, width: AccessWidth, value: number): void {
    this.checkAccess(offset, width);
    if (offset >= MTIME) return; // mtime is guest time, not settable
    if (offset >= MTIMECMP_BASE) {
      const hart = (offset - MTIMECMP_BASE) >> 3;
      if (hart >= this.harts) return;
      this.lines.setMtimecmp(hart, withHalf(this.lines.getMtimecmp(hart), (offset & 4) !== 0, value));
      return;
    }
    const hart = (offset - MSIP_BASE) >> 2;
    if (hart < this.harts) this.setMsip(hart, (value & 1) !== 0);
  }

  private checkAccess(offset: number, width: AccessWidth): void {
    if (width !== 4 || offset & 3) {
      throw new BusError(`CLINT: ${width}-byte access at offset 0x${offset.toString(16)} (registers are 32-bit)`);
    }
  }

  private setMsip(hart: number, level: boolean): void {
    this.msip[hart] = level;
    this.lines.setIrqLine(hart, InterruptBit.MachineSoftware, level);
  }

  saveState(): DeviceState {
    return { version: 1, msipHarts: this.msip.flatMap((on, hart) => (on ? [hart] : [])) };
  }

  loadState(state: DeviceState): void {
    const pending = StateReader.open(state, this.kind, 1).uints('msipHarts', this.harts - 1, this.harts);
    for (let hart = 0; hart < this.harts; hart++) this.setMsip(hart, pending.includes(hart));
  }
}
