// Core-Local Interruptor, "riscv,clint0" (SiFive CLINT; the RISC-V ACLINT specification's
// MSWI and MTIMER devices at the same offsets; QEMU's hw/intc/riscv_aclint.c). OpenSBI finds
// its IPIs and machine timer here.
//
//   0x0000 + 4*h   msip of hart h: bit 0 is the hart's MSIP line
//   0x4000 + 8*h   mtimecmp of hart h, 64 bits as two 32-bit halves (low half first)
//   0xbff8         mtime, 64 bits as two halves: guest time at the 10 MHz timebase
//
// The CLINT keeps nothing of its own: it is a view of the harts' lines. msip is the MSIP line
// and mtimecmp the compare register in each hart's block of shared memory (HartLines), where
// the core compares it with mtime itself and raises MTIP; mtime is guest time (GuestClock),
// and writes to it are ignored. So every vCPU thread serves the CLINT for its own hart with
// its own view, all of them agree, and the harts' saved state carries the registers. Hart reset
// clears msip and sets mtimecmp to all ones (no timer interrupt until the guest programs one).
// Registers are 32-bit; other widths are bus errors.
import { BusError, InterruptBit, type AccessWidth, type Device, type HartLines } from './device.ts';
import type { GuestClock } from './clock.ts';
import { half, withHalf } from './u64.ts';

const MSIP_BASE = 0x0000;
const MTIMECMP_BASE = 0x4000;
const MTIME = 0xbff8;

export class Clint implements Pick<Device, 'read' | 'write'> {
  constructor(
    private readonly harts: number,
    private readonly clock: Pick<GuestClock, 'now'>,
    private readonly lines: HartLines,
  ) {}

  read(offset: number, width: AccessWidth): number {
    this.checkAccess(offset, width);
    if (offset >= MTIME && offset < MTIME + 8) return half(this.clock.now(), offset !== MTIME);
    if (offset >= MTIMECMP_BASE) {
      const hart = (offset - MTIMECMP_BASE) >> 3;
      return hart < this.harts ? half(this.lines.getMtimecmp(hart), (offset & 4) !== 0) : 0;
    }
    const hart = (offset - MSIP_BASE) >> 2;
    return hart < this.harts && this.lines.irqLine(hart, InterruptBit.MachineSoftware) ? 1 : 0;
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
    if (hart < this.harts) this.lines.setIrqLine(hart, InterruptBit.MachineSoftware, (value & 1) !== 0);
  }

  private checkAccess(offset: number, width: AccessWidth): void {
    if (width !== 4 || offset & 3) {
      throw new BusError(`CLINT: ${width}-byte access at offset 0x${offset.toString(16)} (registers are 32-bit)`);
    }
  }
}
