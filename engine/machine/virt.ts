// The `virt` board: QEMU's riscv64 virt machine (hw/riscv/virt.c), so that firmware and kernels
// built for it boot unmodified. One table describes every device once; the MMIO buses and the
// device tree are made from it. Each slot says which thread serves it: the device thread (its
// Bus, its saved state and reset) or every vCPU thread for itself (createVcpuBus: registers
// that are views of the harts' shared lines, with no state of their own).
//
//   0x0010_0000  0x1000      test/syscon   sifive,test0 (+ syscon-poweroff / syscon-reboot)
//   0x0010_1000  0x1000      rtc           google,goldfish-rtc            irq 11
//   0x0200_0000  0x10000     clint         riscv,clint0 (msip, mtimecmp, mtime)   vCPU threads
//   0x0c00_0000  0x60_0000   plic          sifive,plic-1.0.0 (M and S context per hart)
//   0x1000_0000  0x100       uart0         ns16550a, 3686400 Hz           irq 10
//   0x1000_1000  0x1000 × 8  virtio0..7    virtio,mmio                    irqs 1..8
//                            (0: virtio-console, 1: virtio-rng, 2..7: the disks in order
//                            (virtio-blk), then the NICs in order (virtio-net), then empty
//                            transports)
//   0x8000_0000  RAM         DRAM
import type { CharBackend } from '../devices/char.ts';
import { nullCharBackend } from '../devices/char.ts';
import type { AccessWidth, Device, HartLines, IrqLine, MmioBus } from '../devices/device.ts';
import { Clint } from '../devices/clint.ts';
import { GoldfishRtc } from '../devices/goldfish-rtc.ts';
import { Plic, PLIC_SOURCES } from '../devices/plic.ts';
import { SifiveTest, type MachineEvents } from '../devices/sifive-test.ts';
import { Ns16550a } from '../devices/uart-ns16550a.ts';
import { VirtioBlk } from '../devices/virtio/blk.ts';
import { VirtioConsole } from '../devices/virtio/console.ts';
import { VirtioMmio } from '../devices/virtio/mmio.ts';
import { VirtioNet } from '../devices/virtio/net.ts';
import type { NetBackend } from '../net/backend.ts';
import { VirtioRng } from '../devices/virtio/rng.ts';
import { Bus } from './bus.ts';
import type { GuestClock } from '../devices/clock.ts';
import type { BoardDisk } from './disks.ts';
import { hartIntcPhandle, PLIC_PHANDLE, virtDeviceTree, type DeviceTree, type FdtNode, type VirtTreeOptions } from './fdt.ts';
import { GuestMemory } from '../devices/guest-memory.ts';

/** A device as the board maps it and the device tree describes it. */
export interface SlotDescription {
  /** Unique name of the slot (also its key in saved state), e.g. "uart0", "virtio1". */
  name: string;
  /** Device-tree node name, written as `${node}@${base}` under /soc. */
  node: string;
  base: number;
  size: number;
  /** PLIC source the device's interrupt line drives. */
  irq?: number;
  compatible: string[];
  /** Who serves the slot's accesses: the device thread, or each vCPU thread for its hart. */
  thread: 'device' | 'vcpu';
  /** Adds the node's device-specific properties (and any nodes that refer to it). */
  describe?(node: FdtNode, context: { tree: DeviceTree; harts: number }): void;
}

export interface BoardSlot extends SlotDescription {
  device: Device;
}

export interface VirtBoardOptions {
  harts: number;
  ramBytes: number;
  memory: WebAssembly.Memory;
  clock: GuestClock;
  /** Behind UART0 (the serial console, ttyS0). */
  console: CharBackend;
  /**
   * Behind the virtio-console (hvc0); none by default. Never the UART's back-end: once the
   * guest's driver posts receive buffers, both devices would take turns stealing input.
   */
  virtioConsole?: CharBackend;
  /** Disks, each a virtio-blk device in the next free virtio slot; the board does not close them. */
  disks?: readonly BoardDisk[];
  /** Network cards, each a virtio-net device in the next free virtio slot after the disks. */
  nics?: readonly BoardNic[];
  hart: HartLines;
  /** What the guest asks of the board through the sifive test device. */
  events: MachineEvents;
}

/** A NIC as the board serves it: what its frames go to, and its address. */
export interface BoardNic {
  backend: NetBackend;
  mac: string;
  mtu?: number;
}

interface BoardContext extends VirtBoardOptions {
  guestMemory: GuestMemory;
  plic: Plic;
  blockDevices: VirtioBlk[];
  netDevices: VirtioNet[];
}

/** What a vCPU thread's slots are made from. */
export interface VcpuContext {
  harts: number;
  clock: Pick<GuestClock, 'now'>;
  /** The harts' shared interrupt lines and timer compares (waking the hart they change). */
  lines: HartLines;
}

/** The registers of a slot a vCPU thread serves: views of shared state, nothing to save or reset. */
type Registers = Pick<Device, 'read' | 'write'>;

type SlotDefinition = SlotDescription & (
  /** Makes the device; `irq` is the PLIC input of the slot's `irq` source. */
  | { thread: 'device'; create(board: BoardContext, irq: IrqLine): Device }
  | { thread: 'vcpu'; create(context: VcpuContext): Registers }
);

const VIRTIO_BASE = 0x1000_1000;
const VIRTIO_SLOT_SIZE = 0x1000;
const VIRTIO_SLOTS = 8;
/** The first virtio slot after the console and the entropy source: disks go here on, then NICs. */
const FIRST_DISK_SLOT = 2;
/** Slots for disks and NICs together. */
export const MAX_DISKS = VIRTIO_SLOTS - FIRST_DISK_SLOT;
const UART_CLOCK_HZ = 3_686_400;
const TEST_PHANDLE = 'test';

function virtioDevice(slot: number, board: BoardContext) {
  switch (slot) {
    case 0: return new VirtioConsole(board.virtioConsole ?? nullCharBackend);
    case 1: return new VirtioRng();
    default: {
      const disks = board.disks ?? [];
      const disk = disks[slot - FIRST_DISK_SLOT];
      if (disk) {
        const device = new VirtioBlk(disk.disk, { serial: disk.serial });
        board.blockDevices.push(device);
        return device;
      }
      const nic = board.nics?.[slot - FIRST_DISK_SLOT - disks.length];
      if (!nic) return null;
      const device = new VirtioNet(nic.backend, { mac: nic.mac, mtu: nic.mtu });
      board.netDevices.push(device);
      return device;
    }
  }
}

/** Per hart, the two interrupt inputs a controller drives: <intc m intc s>. */
function perHartInterrupts(tree: DeviceTree, harts: number, machine: number, supervisor: number): number[] {
  const cells: number[] = [];
  for (let hart = 0; hart < harts; hart++) {
    const intc = tree.phandle(hartIntcPhandle(hart));
    cells.push(intc, machine, intc, supervisor);
  }
  return cells;
}

const VIRT_SLOTS: readonly SlotDefinition[] = [
  {
    name: 'test', node: 'test', base: 0x10_0000, size: 0x1000, thread: 'device',
    compatible: ['sifive,test1', 'sifive,test0', 'syscon'],
    describe(node, { tree }) {
      const syscon = tree.phandle(TEST_PHANDLE);
      node.prop('phandle', syscon);
      // Linux powers off and reboots through these (drivers/power/reset/syscon-*.c).
      tree.root.child('poweroff').prop('value', 0x5555).prop('offset', 0).prop('regmap', syscon).prop('compatible', 'syscon-poweroff');
      tree.root.child('reboot').prop('value', 0x7777).prop('offset', 0).prop('regmap', syscon).prop('compatible', 'syscon-reboot');
    },
    create: (board) => new SifiveTest(board.events),
  },
  {
    name: 'rtc', node: 'rtc', base: 0x10_1000, size: 0x1000, irq: 11, thread: 'device',
    compatible: ['google,goldfish-rtc'],
    create: (board, irq) => new GoldfishRtc(irq, board.clock),
  },
  {
    name: 'clint', node: 'clint', base: 0x200_0000, size: 0x1_0000, thread: 'vcpu',
    compatible: ['sifive,clint0', 'riscv,clint0'],
    describe(node, { tree, harts }) {
      node.prop('interrupts-extended', perHartInterrupts(tree, harts, 3, 7)); // MSIP, MTIP
    },
    create: ({ harts, clock, lines }) => new Clint(harts, clock, lines),
  },
  {
    name: 'plic', node: 'plic', base: 0xc00_0000, size: 0x60_0000, thread: 'device',
    compatible: ['sifive,plic-1.0.0', 'riscv,plic0'],
    describe(node, { tree, harts }) {
      node.prop('phandle', tree.phandle(PLIC_PHANDLE))
        .prop('riscv,ndev', PLIC_SOURCES - 1) // sources 1..95 (0 means none), as QEMU writes it
        .prop('interrupts-extended', perHartInterrupts(tree, harts, 11, 9)) // MEIP, SEIP
        .prop('interrupt-controller', true)
        .prop('#interrupt-cells', 1)
        .prop('#address-cells', 0);
    },
    create: (board) => board.plic,
  },
  {
    name: 'uart0', node: 'serial', base: 0x1000_0000, size: 0x100, irq: 10, thread: 'device',
    compatible: ['ns16550a'],
    describe(node) {
      node.prop('clock-frequency', UART_CLOCK_HZ);
    },
    create: (board, irq) => new Ns16550a(board.console, irq),
  },
  ...Array.from({ length: VIRTIO_SLOTS }, (_, slot): SlotDefinition => ({
    name: `virtio${slot}`, node: 'virtio_mmio', base: VIRTIO_BASE + slot * VIRTIO_SLOT_SIZE, size: VIRTIO_SLOT_SIZE,
    irq: slot + 1, thread: 'device',
    compatible: ['virtio,mmio'],
    create: (board, irq) => new VirtioMmio(virtioDevice(slot, board), board.guestMemory, irq),
  })),
];

/** The virt device tree for a machine of this shape (the same tree a built board writes). */
export function virtDtb(options: VirtTreeOptions): Uint8Array {
  return virtDeviceTree(VIRT_SLOTS, options);
}

export interface VirtBoard {
  harts: number;
  ramBytes: number;
  /** The device thread's bus: its slots only (a vCPU thread serves the others: createVcpuBus). */
  bus: Bus;
  /** The device thread's slots: the ones with saved state and a reset. */
  devices: BoardSlot[];
  memory: GuestMemory;
  /** The virtio-blk devices, one per disk in the order given (to swap their images: replaceDisk). */
  blockDevices: VirtioBlk[];
  /** The virtio-net devices, one per NIC in the order given. */
  netDevices: VirtioNet[];
  /** The device tree describing this board. */
  dtb(options: Omit<VirtTreeOptions, 'harts' | 'ramBytes'>): Uint8Array;
}

export function createVirtBoard(options: VirtBoardOptions): VirtBoard {
  if ((options.disks?.length ?? 0) + (options.nics?.length ?? 0) > MAX_DISKS) {
    throw new RangeError(`the virt board takes at most ${MAX_DISKS} disks and network cards together`);
  }
  const guestMemory = new GuestMemory(options.memory, options.ramBytes);
  const plic = new Plic(options.harts, options.hart);
  const board: BoardContext = { ...options, guestMemory, plic, blockDevices: [], netDevices: [] };
  const noIrq: IrqLine = () => { throw new Error('device raised an interrupt on a slot that has none'); };
  const devices = VIRT_SLOTS.flatMap((slot): BoardSlot[] => {
    if (slot.thread !== 'device') return [];
    const { create, ...description } = slot;
    return [{ ...description, device: create(board, description.irq === undefined ? noIrq : plic.irqLine(description.irq)) }];
  });
  return {
    harts: options.harts,
    ramBytes: options.ramBytes,
    bus: new Bus(devices),
    devices,
    memory: guestMemory,
    blockDevices: board.blockDevices,
    netDevices: board.netDevices,
    dtb: (tree) => virtDeviceTree(VIRT_SLOTS, { harts: options.harts, ramBytes: options.ramBytes, ...tree }),
  };
}

/** A slot a vCPU thread serves, with its registers. */
interface VcpuSlot { base: number; size: number; registers: Registers }

/**
 * A vCPU thread's physical bus: the slots the table gives to vCPU threads (the CLINT), served
 * right here over the harts' shared lines; every other access goes to `devices` (the mailbox to
 * the device thread, whose bus refuses what no slot covers).
 */
export function createVcpuBus(context: VcpuContext, devices: MmioBus): MmioBus {
  const own = VIRT_SLOTS.flatMap((slot): VcpuSlot[] => (slot.thread === 'vcpu' ? [{ base: slot.base, size: slot.size, registers: slot.create(context) }] : []));
  return new VcpuBus(own, devices);
}

class VcpuBus implements MmioBus {
  constructor(private readonly own: readonly VcpuSlot[], private readonly devices: MmioBus) {}

  read(address: number, width: AccessWidth): number {
    const slot = this.slotAt(address, width);
    return slot ? slot.registers.read(address - slot.base, width) : this.devices.read(address, width);
  }

  write(address: number, width: AccessWidth, value: number): void {
    const slot = this.slotAt(address, width);
    if (slot) slot.registers.write(address - slot.base, width, value);
    else this.devices.write(address, width, value);
  }

  private slotAt(address: number, width: AccessWidth): VcpuSlot | undefined {
    for (const slot of this.own) if (address >= slot.base && address + width <= slot.base + slot.size) return slot;
    return undefined;
  }
}
