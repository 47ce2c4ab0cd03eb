// What the threads of a running machine tell its owner (MachineHost) by message. Everything the
// guest's progress depends on crosses in shared memory instead (control.ts, mmio-mailbox.ts,
// byte-ring.ts); these messages need the owner's event loop, never the machine's.
import type { BusWindow, MachineConfig } from '../machine/machine.ts';

/**
 * A disk image the machine thread opens (engine/storage openDisk: raw or qcow2, by content) and
 * serves to the guest as a virtio-blk device; it is flushed and closed when the machine ends.
 */
export interface DiskConfig {
  path: string;
  readOnly: boolean;
  /** What the guest reads as the disk's serial number (GET_ID; at most 20 bytes). */
  serial?: string;
}

export interface MachineExit {
  /** poweroff: the guest turned the machine off; quit: the owner stopped it; error: it failed. */
  reason: 'poweroff' | 'quit' | 'error';
  /** The guest's exit status where it reports one (sifive test finisher), else 0; 1 on error. */
  status: number;
  message?: string;
  /** Guest instructions retired by all harts (0 if the machine never started). */
  instructions?: number;
}

/** From the device thread. */
export type DeviceMessage =
  /** The board is built: what the vCPU threads need to start. */
  | { type: 'started'; memory: WebAssembly.Memory; module: WebAssembly.Module; clint: BusWindow }
  | { type: 'console'; data: Uint8Array }
  | { type: 'exit'; exit: MachineExit };

/** From a vCPU thread whose hart could not go on (a host error, not a guest one). */
export interface VcpuFailure { type: 'failed'; message: string }

/** What a vCPU thread is started with. */
export interface VcpuData {
  hart: number;
  harts: number;
  ramBytes: number;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  clint: BusWindow;
  control: SharedArrayBuffer;
  mailboxes: SharedArrayBuffer;
}

/** What the device thread is started with. */
export interface DeviceData {
  config: MachineConfig;
  control: SharedArrayBuffer;
  mailboxes: SharedArrayBuffer;
  input: SharedArrayBuffer;
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
