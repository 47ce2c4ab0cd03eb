// What a virtio device type (console, rng, later blk and net) provides to the virtio-mmio
// transport (mmio.ts), which owns feature negotiation, status, queue setup and interrupts
// (virtio 1.2, §2 and §4.2). A device only sees its queues through VirtioQueues, handed in on
// each call: it keeps no handle to guest memory or to the transport, so it saves as plain data.
import type { AccessWidth, DeviceState } from '../device.ts';
import type { Virtqueue } from './queue.ts';

/** Feature bits the transport offers on every device (§6). */
export const VIRTIO_F_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

/** Device IDs (§5). */
export const enum VirtioDeviceId {
  Net = 1,
  Block = 2,
  Console = 3,
  Entropy = 4,
}

/** The device's queues as the driver set them up, and what was negotiated. */
export interface VirtioQueues {
  /** Queue `index` once the driver made it ready; null otherwise. */
  queue(index: number): Virtqueue | null;
  /** The feature bits the driver accepted. */
  readonly features: bigint;
}

export interface VirtioDevice {
  /** Names the device in saved state, e.g. "virtio-console". */
  readonly kind: string;
  readonly deviceId: VirtioDeviceId;
  /** Device-type feature bits offered (bits 0..23); the transport adds the ring and version bits. */
  readonly features: bigint;
  /** The largest size of each queue; its length is the number of queues. */
  readonly queueSizes: readonly number[];
  /** Bytes of device configuration space (at transport offset 0x100). */
  readonly configSize: number;
  /**
   * Bumped by a device whose configuration changes on its own (virtio-net's link status): the
   * transport shows it as ConfigGeneration and interrupts the driver for it (§2.5.1, §4.2.3.3).
   * Absent: the configuration never changes.
   */
  readonly configGeneration?: number;
  /** A config space access, already checked to lie inside configSize. */
  readConfig(offset: number, width: AccessWidth): number;
  writeConfig(offset: number, width: AccessWidth, value: number): void;
  /** The driver notified `queue` (only called while the device is live: DRIVER_OK, no NEEDS_RESET). */
  onNotify(queue: number, queues: VirtioQueues): void;
  /** Called by the machine loop while the device is live: host-side input, completions. */
  poll?(queues: VirtioQueues): void;
  /** Before a save: takes host-side input into the device's state (Device.quiesce). */
  quiesce?(): void;
  /** Device reset (status 0 or machine reset): drops in-flight work. */
  reset(): void;
  saveState(): DeviceState;
  loadState(state: DeviceState): void;
}

/** Reads `width` bytes little-endian at `offset` of a config space image. */
export function readConfigBytes(config: Uint8Array, offset: number, width: AccessWidth): number {
  let value = 0;
  for (let i = width - 1; i >= 0; i--) value = value * 256 + config[offset + i];
  return value;
}
