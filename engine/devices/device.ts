// The one shape every device model has (Firecracker's BusDevice, TinyEMU's register call):
// MMIO read/write at an offset inside the device's window, reset, and a plain, versioned,
// serialisable state. The board (engine/machine) is a table of (base, size, device, irq);
// snapshots walk that table, storing each device's state under its slot's name, and nothing
// else knows a device's insides.

/** Access width in bytes. The bus splits 8-byte CPU accesses into two 4-byte ones, low half first. */
export type AccessWidth = 1 | 2 | 4;

/** A device's saved state: a plain JSON-serialisable object with named fields and a version. */
export interface DeviceState {
  version: number;
  [field: string]: unknown;
}

export interface Device {
  /** The model, e.g. "ns16550a": names the device in saved-state errors (the board finds devices by it). */
  readonly kind: string;
  /** Reads `width` bytes at `offset` (relative to the device's base); returns them unsigned. */
  read(offset: number, width: AccessWidth): number;
  /** Writes the low `width` bytes of `value` at `offset`. */
  write(offset: number, width: AccessWidth, value: number): void;
  /** Returns the device to its power-on state. */
  reset(): void;
  saveState(): DeviceState;
  /**
   * Restores a state made by saveState, of this device's current version or of the older ones
   * it still reads (StateReader.open's oldest); throws DeviceStateError for any other.
   */
  loadState(state: DeviceState): void;
  /** Called by the machine loop between CPU batches: pick up host-side input, timers. */
  poll?(): void;
  /**
   * Before a save, with every hart stopped: takes host-side input the device has not taken yet
   * into its own state, so that the saved state carries it (nothing on its way is lost).
   */
  quiesce?(): void;
}

/** An interrupt line into the PLIC (level-triggered). */
export type IrqLine = (level: boolean) => void;

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
  getMtimecmp(hart: number): bigint;
  setMtimecmp(hart: number, value: bigint): void;
}
