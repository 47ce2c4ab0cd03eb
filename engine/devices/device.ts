// The one shape every device model has (Firecracker's BusDevice, TinyEMU's register call):
// MMIO read/write at an offset inside the device's window, reset, and a plain, versioned,
// serialisable state. The board (engine/machine) is a table of (base, size, device, irq);
// snapshots walk that table, storing each device's state under its slot's name, and nothing
// else knows a device's insides.

// The core's side of the board (access widths, the MMIO bus, bus errors, interrupt lines) is
// declared in engine/cpu/board.ts, below the devices; a device takes them from here.
import type { AccessWidth } from '../cpu/board.ts';

export { BusError, InterruptBit, type AccessWidth, type HartLines, type MmioBus } from '../cpu/board.ts';

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

