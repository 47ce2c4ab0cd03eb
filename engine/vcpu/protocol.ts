// What the threads of a running machine tell its owner (MachineHost) by message. Everything the
// guest's progress depends on crosses in shared memory instead (control.ts, mmio-mailbox.ts,
// byte-ring.ts); these messages need the owner's event loop, never the machine's.
import type { SerializedError } from '../common/errors.ts';
import type { DiskConfig } from '../machine/disks.ts';
import type { MachineConfig } from '../machine/machine.ts';
import type { StateFileSummary } from '../machine/state-file.ts';
import type { NetStackOptions } from '../net/nat.ts';
import type { NetLinkBuffers } from './frame-ring.ts';

export interface MachineExit {
  /** poweroff: the guest turned the machine off; quit: the owner stopped it; error: it failed. */
  reason: 'poweroff' | 'quit' | 'error';
  /** The guest's exit status where it reports one (sifive test finisher), else 0; 1 on error. */
  status: number;
  message?: string;
  /** Why it failed (reason 'error'), as raised in whichever thread raised it: its code survives. */
  error?: SerializedError;
  /** Guest instructions retired by all harts (0 if the machine never started). */
  instructions?: number;
}

/** From the device thread. */
export type DeviceMessage =
  /** The board is built: what the vCPU threads need to start. */
  | { type: 'started'; memory: WebAssembly.Memory; module: WebAssembly.Module }
  /** The machine is booted or restored: the harts run. */
  | { type: 'running' }
  /** Bytes the guest wrote to the serial console (ttyS0). */
  | { type: 'console'; data: Uint8Array }
  /** Bytes the guest wrote to the virtio-console (hvc0), the agent's channel. */
  | { type: 'agent'; data: Uint8Array }
  /** The answer to a DeviceCommand: its result, or why it failed. */
  | { type: 'done'; id: number; result?: StateFileSummary; error?: SerializedError }
  | { type: 'exit'; exit: MachineExit };

/** To the device thread, only while it is parked (the machine paused): it answers each with 'done'. */
export type DeviceCommand =
  /**
   * Writes the machine's state file; `ticks`: guest time at the pause. `consoleInput`: input the
   * owner held back for want of room in the console's ring, to be read after what the ring holds.
   */
  | { type: 'save'; id: number; path: string; vm: string | null; ticks: bigint; consoleInput: Uint8Array }
  | { type: 'replaceDisks'; id: number; disks: DiskConfig[] };

/** From a vCPU thread whose hart could not go on (a host error, not a guest one). */
export interface VcpuFailure { type: 'failed'; error: SerializedError }

/** What a vCPU thread is started with. */
export interface VcpuData {
  hart: number;
  harts: number;
  ramBytes: number;
  /** MachineConfig.jitThreshold. */
  jitThreshold?: number;
  control: SharedArrayBuffer;
  mailboxes: SharedArrayBuffer;
}

/** Then, by message, once the device thread has built the board. */
export interface VcpuBoard {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
}

/** What the device thread is started with. */
export interface DeviceData {
  config: MachineConfig;
  control: SharedArrayBuffer;
  mailboxes: SharedArrayBuffer;
  /** ByteRing of bytes typed into the serial console. */
  input: SharedArrayBuffer;
  /** ByteRing of bytes for the guest agent (the virtio-console's receive queue). */
  agentInput: SharedArrayBuffer;
  /** One link per NIC of config.nics, in order (its other end is on the net thread). */
  nics: NetLinkBuffers[];
}

/** What the net thread is started with: a stack per NIC and its link. It ends on any message. */
export interface NetData {
  control: SharedArrayBuffer;
  nics: { link: NetLinkBuffers; options: Omit<NetStackOptions, 'onFrames'> }[];
}
