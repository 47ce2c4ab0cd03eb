// What the core sees of the board, declared here because the core is the lowest layer that uses
// it: physical MMIO accesses routed to whatever is mapped there, the error for an access nothing
// answers, and the harts' interrupt inputs and timer compares that devices drive. The board
// (engine/machine) implements MmioBus; interrupt controllers (engine/devices) drive HartLines.

/** Access width in bytes. The bus splits 8-byte CPU accesses into two 4-byte ones, low half first. */
export type AccessWidth = 1 | 2 | 4;

/** Thrown by a device or the bus for an access the hardware would not answer (→ access fault). */
export class BusError extends Error {}

/** What the CPU core sees of the board: physical MMIO accesses, routed to the device mapped there. */
export interface MmioBus {
  /** Reads `width` bytes at guest physical `address`; throws BusError where nothing is mapped. */
  read(address: number, width: AccessWidth): number;
  write(address: number, width: AccessWidth, value: number): void;
}

/** Bits of the mip/mie CSRs (privileged spec, "Machine Interrupt Registers"). */
export const enum InterruptBit {
  SupervisorSoftware = 1,
  MachineSoftware = 3,
  SupervisorTimer = 5,
  MachineTimer = 7,
  SupervisorExternal = 9,
  MachineExternal = 11,
}

/** A device's view of one hart's interrupt inputs and timer compare register (shared memory). */
export interface HartLines {
  /** Raises or lowers an interrupt input of `hart` (InterruptBit: MSIP, MEIP, SEIP). */
  setIrqLine(hart: number, bit: InterruptBit, level: boolean): void;
  /** The level the line was last driven to (by any thread). */
  irqLine(hart: number, bit: InterruptBit): boolean;
  getMtimecmp(hart: number): bigint;
  setMtimecmp(hart: number, value: bigint): void;
}
