// What crosses between the owning thread and a machine thread.

/** Words of the shared control array. */
export const enum Control {
  /** Incremented (and notified) by the owner to wake a sleeping machine thread. */
  Doorbell = 0,
  /** What the owner asks for. */
  Request = 1,
  Words = 2,
  RequestNone = 0,
  RequestQuit = 1,
}

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

export type MachineMessage =
  | { type: 'console'; data: Uint8Array }
  | { type: 'exit'; exit: MachineExit };
