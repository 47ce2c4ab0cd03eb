// virtio-mmio transport, version 2 (virtio 1.2, §4.2.2; QEMU's hw/virtio/virtio-mmio.c, Linux's
// drivers/virtio/virtio_mmio.c). One slot of the board; the device type behind it is a
// VirtioDevice, or nothing (an empty slot reads DeviceID 0, as QEMU's unused transports).
//
//   0x000 MagicValue        R  0x74726976 ("virt")
//   0x004 Version           R  2
//   0x008 DeviceID          R  the device type (0: empty slot)
//   0x00c VendorID          R  0x554d4551 ("QEMU")
//   0x010 DeviceFeatures    R  32 feature bits, selected by DeviceFeaturesSel
//   0x014 DeviceFeaturesSel W
//   0x020 DriverFeatures    W  32 accepted bits, selected by DriverFeaturesSel
//   0x024 DriverFeaturesSel W
//   0x030 QueueSel          W  the queue the Queue* registers address
//   0x034 QueueNumMax       R  largest size of the selected queue (0: no such queue)
//   0x038 QueueNum          W  its size
//   0x044 QueueReady        RW 1 starts the queue (its layout is checked then)
//   0x050 QueueNotify       W  the index of a queue with new requests
//   0x060 InterruptStatus   R  bit 0 used buffers, bit 1 configuration change
//   0x064 InterruptACK      W  clears InterruptStatus bits
//   0x070 Status            RW device status (§2.1); writing 0 resets the device
//   0x080 QueueDescLow/High     0x090 QueueDriverLow/High     0x0a0 QueueDeviceLow/High   (W)
//   0x0ac SHMSel W, 0x0b0 SHMLenLow/High, 0x0b8 SHMBaseLow/High: no shared memory regions
//   0x0fc ConfigGeneration  R  the device's configGeneration (0 unless its configuration changes)
//   0x100 device configuration space
//
// Registers below 0x100 are 32-bit; other accesses read 0 and are ignored (as QEMU).
// A driver that breaks the ring rules gets DEVICE_NEEDS_RESET and a configuration change
// interrupt (§2.1.2); the device then does nothing more until it is reset.
import type { AccessWidth, Device, DeviceState, IrqLine } from '../device.ts';
import { GuestMemoryError, type GuestMemory } from '../guest-memory.ts';
import { IrqOutput } from '../irq-output.ts';
import { DeviceStateError, StateReader, u64State } from '../state.ts';
import { half, withHalf } from '../u64.ts';
import { Virtqueue, VirtqueueError } from './queue.ts';
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioDevice, type VirtioQueues,
} from './virtio-device.ts';

const MAGIC_VALUE = 0x000;
const VERSION = 0x004;
const DEVICE_ID = 0x008;
const VENDOR_ID = 0x00c;
const DEVICE_FEATURES = 0x010;
const DEVICE_FEATURES_SEL = 0x014;
const DRIVER_FEATURES = 0x020;
const DRIVER_FEATURES_SEL = 0x024;
const QUEUE_SEL = 0x030;
const QUEUE_NUM_MAX = 0x034;
const QUEUE_NUM = 0x038;
const QUEUE_READY = 0x044;
const QUEUE_NOTIFY = 0x050;
const INTERRUPT_STATUS = 0x060;
const INTERRUPT_ACK = 0x064;
const STATUS = 0x070;
const QUEUE_DESC_LOW = 0x080;
const QUEUE_DESC_HIGH = 0x084;
const QUEUE_DRIVER_LOW = 0x090;
const QUEUE_DRIVER_HIGH = 0x094;
const QUEUE_DEVICE_LOW = 0x0a0;
const QUEUE_DEVICE_HIGH = 0x0a4;
const SHM_LEN_LOW = 0x0b0;
const SHM_BASE_HIGH = 0x0bc;
const CONFIG_GENERATION = 0x0fc;
const CONFIG = 0x100;

const MAGIC = 0x7472_6976;
const VENDOR_QEMU = 0x554d_4551;

/** Device status bits (§2.1). */
export const enum VirtioStatus {
  Acknowledge = 1,
  Driver = 2,
  DriverOk = 4,
  FeaturesOk = 8,
  NeedsReset = 0x40,
  Failed = 0x80,
}

const INTERRUPT_USED_BUFFER = 1;
const INTERRUPT_CONFIG_CHANGE = 2;

/** Ring features the transport supports for every device type. */
const TRANSPORT_FEATURES = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;

export class VirtioMmio implements Device {
  readonly kind = 'virtio-mmio';
  private readonly irq: IrqOutput;
  private readonly queues: Virtqueue[];
  private readonly offered: bigint;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  /** The device's configGeneration the driver was last interrupted for. */
  private signalledGeneration = 0;
  /** Why the device last set DEVICE_NEEDS_RESET (for logs and tests); null when it has not. */
  failure: string | null = null;
  /** What the device type sees of the queues. */
  private readonly view: VirtioQueues;

  constructor(private readonly backend: VirtioDevice | null, memory: GuestMemory, irqLine: IrqLine) {
    this.irq = new IrqOutput(irqLine);
    this.queues = (backend?.queueSizes ?? []).map((size) => new Virtqueue(memory, size));
    this.offered = backend ? backend.features | TRANSPORT_FEATURES : 0n;
    const features = () => this.driverFeatures;
    this.view = {
      queue: (index) => (this.queues[index]?.ready ? this.queues[index] : null),
      get features() { return features(); },
    };
  }

  reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.failure = null;
    for (const queue of this.queues) queue.reset();
    this.backend?.reset();
    this.signalledGeneration = this.backend?.configGeneration ?? 0;
    this.irq.set(false);
  }

  read(offset: number, width: AccessWidth): number {
    if (offset >= CONFIG) {
      const at = offset - CONFIG;
      return this.backend && at + width <= this.backend.configSize ? this.backend.readConfig(at, width) : 0;
    }
    if (width !== 4 || offset & 3) return 0;
    switch (offset) {
      case MAGIC_VALUE: return MAGIC;
      case VERSION: return 2;
      case VENDOR_ID: return VENDOR_QEMU;
      case DEVICE_ID: return this.backend?.deviceId ?? 0;
    }
    if (!this.backend) return 0;
    const queue = this.queues[this.queueSel];
    switch (offset) {
      case DEVICE_FEATURES: return this.deviceFeaturesSel < 2 ? half(this.offered, this.deviceFeaturesSel === 1) : 0;
      case QUEUE_NUM_MAX: return queue?.maxSize ?? 0;
      case QUEUE_NUM: return queue?.size ?? 0;
      case QUEUE_READY: return queue?.ready ? 1 : 0;
      case INTERRUPT_STATUS: return this.interruptStatus;
      case STATUS: return this.status;
      case QUEUE_DESC_LOW: case QUEUE_DESC_HIGH: return queue ? half(queue.descAddr, offset === QUEUE_DESC_HIGH) : 0;
      case QUEUE_DRIVER_LOW: case QUEUE_DRIVER_HIGH: return queue ? half(queue.driverAddr, offset === QUEUE_DRIVER_HIGH) : 0;
      case QUEUE_DEVICE_LOW: case QUEUE_DEVICE_HIGH: return queue ? half(queue.deviceAddr, offset === QUEUE_DEVICE_HIGH) : 0;
      case CONFIG_GENERATION: return this.backend.configGeneration ?? 0;
      default:
        // A length and base of all ones: the selected shared memory region does not exist.
        return offset >= SHM_LEN_LOW && offset <= SHM_BASE_HIGH ? 0xffff_ffff : 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number): void {
    if (!this.backend) return;
    if (offset >= CONFIG) {
      const at = offset - CONFIG;
      if (at + width <= this.backend.configSize) this.backend.writeConfig(at, width, value);
      return;
    }
    if (width !== 4 || offset & 3) return;
    value >>>= 0;
    switch (offset) {
      case DEVICE_FEATURES_SEL: this.deviceFeaturesSel = value; return;
      case DRIVER_FEATURES_SEL: this.driverFeaturesSel = value; return;
      case DRIVER_FEATURES:
        // Features are fixed once the driver has set FEATURES_OK.
        if (this.driverFeaturesSel < 2 && !(this.status & VirtioStatus.FeaturesOk)) {
          this.driverFeatures = withHalf(this.driverFeatures, this.driverFeaturesSel === 1, value);
        }
        return;
      case QUEUE_SEL: this.queueSel = value; return;
      case QUEUE_NOTIFY: this.notify(value & 0xffff); return;
      case INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case STATUS: this.writeStatus(value & 0xff); return;
    }
    const queue = this.queues[this.queueSel];
    if (!queue) return;
    if (offset === QUEUE_READY) {
      if (value & 1) this.enableQueue(queue);
      else queue.disable();
      return;
    }
    // A live queue's size and placement cannot change under the device.
    if (queue.ready) return;
    switch (offset) {
      case QUEUE_NUM: queue.size = value; break;
      case QUEUE_DESC_LOW: case QUEUE_DESC_HIGH: queue.descAddr = withHalf(queue.descAddr, offset === QUEUE_DESC_HIGH, value); break;
      case QUEUE_DRIVER_LOW: case QUEUE_DRIVER_HIGH: queue.driverAddr = withHalf(queue.driverAddr, offset === QUEUE_DRIVER_HIGH, value); break;
      case QUEUE_DEVICE_LOW: case QUEUE_DEVICE_HIGH: queue.deviceAddr = withHalf(queue.deviceAddr, offset === QUEUE_DEVICE_HIGH, value); break;
      default: break;
    }
  }

  /**
   * Host-side work of the device type (input, completions), while the device is live; and the
   * requests a call before was not allowed to take (Virtqueue.startBatch), as if notified again.
   */
  poll(): void {
    const backend = this.backend;
    if (!backend || !this.live()) return;
    const cut = this.queues.flatMap((queue, index) => (queue.ready && queue.cutShort ? [index] : []));
    if (!backend.poll && cut.length === 0) return;
    this.guarded(() => {
      backend.poll?.(this.view);
      for (const index of cut) backend.onNotify(index, this.view);
    });
  }

  quiesce(): void {
    this.backend?.quiesce?.();
  }

  private live(): boolean {
    return (this.status & (VirtioStatus.DriverOk | VirtioStatus.NeedsReset)) === VirtioStatus.DriverOk;
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    // The driver cannot set NEEDS_RESET: only the device does.
    let status = (value & ~VirtioStatus.NeedsReset) | (this.status & VirtioStatus.NeedsReset);
    // FEATURES_OK only sticks for an acceptable set: offered bits only, VERSION_1 among them (§3.1.1).
    if (status & VirtioStatus.FeaturesOk && !(this.status & VirtioStatus.FeaturesOk) &&
        ((this.driverFeatures & ~this.offered) !== 0n || !(this.driverFeatures & VIRTIO_F_VERSION_1))) {
      status &= ~VirtioStatus.FeaturesOk;
    }
    const starting = status & VirtioStatus.DriverOk && !(this.status & VirtioStatus.DriverOk);
    this.status = status;
    // Input that arrived before the driver was ready is delivered now, not at the next poll.
    if (starting) this.poll();
  }

  private enableQueue(queue: Virtqueue): void {
    try {
      queue.enable((this.driverFeatures & VIRTIO_F_EVENT_IDX) !== 0n);
    } catch (error) {
      if (!(error instanceof VirtqueueError)) throw error;
      this.needsReset(error.message);
    }
  }

  private notify(index: number): void {
    const backend = this.backend;
    if (!backend || !this.live() || !this.queues[index]?.ready) return;
    this.guarded(() => backend.onNotify(index, this.view));
  }

  /**
   * Runs device-type work on the queues, then interrupts the driver for used buffers it asked
   * to hear about. A broken ring (or a guest address outside RAM) puts the device in NEEDS_RESET.
   */
  private guarded(work: () => void): void {
    try {
      for (const queue of this.queues) queue.startBatch();
      work();
      for (const queue of this.queues) {
        if (queue.takeNotification()) this.interruptStatus |= INTERRUPT_USED_BUFFER;
      }
      // The device changed its configuration on its own (§4.2.3.3: a configuration change notification).
      const generation = this.backend?.configGeneration ?? 0;
      if (generation !== this.signalledGeneration) {
        this.signalledGeneration = generation;
        this.interruptStatus |= INTERRUPT_CONFIG_CHANGE;
      }
    } catch (error) {
      if (!(error instanceof VirtqueueError || error instanceof GuestMemoryError)) throw error;
      this.needsReset(error.message);
    }
    this.updateIrq();
  }

  private needsReset(reason: string): void {
    this.failure = reason;
    this.status |= VirtioStatus.NeedsReset;
    this.interruptStatus |= INTERRUPT_CONFIG_CHANGE;
    this.updateIrq();
  }

  private updateIrq(force = false): void {
    this.irq.set(this.interruptStatus !== 0, force);
  }

  saveState(): DeviceState {
    return {
      version: 1,
      deviceId: this.backend?.deviceId ?? 0,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: u64State(this.driverFeatures),
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      queues: this.queues.map((queue) => queue.saveState()),
      device: this.backend?.saveState() ?? null,
    };
  }

  loadState(state: DeviceState): void {
    const s = StateReader.open(state, this.kind, 1);
    const deviceId = s.uint('deviceId');
    if (deviceId === 0 && this.backend) {
      // Saved while this slot was an empty transport (by a board from before the device was
      // there: a VM suspended before it had a NIC). The guest never found a device here, so the
      // device starts reset, as if plugged into an idle slot; the guest finds it at its next boot.
      this.reset();
      return;
    }
    if (deviceId !== (this.backend?.deviceId ?? 0)) {
      throw new DeviceStateError(`${this.kind}: saved state is of device ${deviceId}, this slot holds ${this.backend?.deviceId ?? 0}`);
    }
    this.status = s.uint('status', 0xff);
    this.deviceFeaturesSel = s.uint('deviceFeaturesSel');
    this.driverFeaturesSel = s.uint('driverFeaturesSel');
    this.driverFeatures = s.u64('driverFeatures');
    this.queueSel = s.uint('queueSel');
    this.interruptStatus = s.uint('interruptStatus', INTERRUPT_USED_BUFFER | INTERRUPT_CONFIG_CHANGE);
    const eventIdx = (this.driverFeatures & VIRTIO_F_EVENT_IDX) !== 0n;
    s.list('queues', (entry) => entry, this.queues.length).forEach((entry, index) => {
      try {
        this.queues[index].loadState(entry, eventIdx);
      } catch (error) {
        if (!(error instanceof VirtqueueError)) throw error;
        throw new DeviceStateError(`${this.kind}: saved queue ${index}: ${error.message}`);
      }
    });
    if (this.backend) this.backend.loadState(s.nested('device'));
    this.signalledGeneration = this.backend?.configGeneration ?? 0;
    this.failure = null;
    this.updateIrq(true);
  }
}
