// A machine as its device thread owns it (engine/vcpu/device-thread.ts): the shared memory and
// the compiled core, the `virt` board's devices, the boot images, and one core instance used only
// to reset and inspect the harts — they run on their own vCPU threads, each with its own instance
// over the same memory. Interrupt lines the devices drive wake the hart's thread (`wake`).
import { readFileSync } from 'node:fs';
import { Cpu, SharedHartLines } from '../cpu/cpu.ts';
import type { CharBackend } from '../devices/char.ts';
import type { Device, MmioBus } from '../devices/device.ts';
import { GuestClock } from './clock.ts';
import { createVirtBoard, type VirtBoard } from './virt.ts';
import { loadBootImages } from './boot.ts';
import { closeDisks, openDisks, type BoardDisk } from './disks.ts';
import { WakingHartLines, type MachineControl } from '../vcpu/control.ts';
import type { DiskConfig } from '../vcpu/protocol.ts';

export interface MachineConfig {
  harts: number;
  ramBytes: number;
  firmwarePath: string;
  kernelPath: string;
  initrdPath?: string;
  bootargs: string;
  /** Served by virtio-blk devices in the order given (the guest's vda, vdb, ...). */
  disks?: DiskConfig[];
}

/** What the guest asked of the board (through the sifive test device), taken once. */
export type BoardRequest = { type: 'poweroff'; status: number } | { type: 'reset' };

/** A device window on the physical bus. */
export interface BusWindow { base: number; size: number }

export class Machine {
  private request: BoardRequest | null = null;
  private readonly pollable: Device[];

  private constructor(
    private readonly config: MachineConfig,
    readonly memory: WebAssembly.Memory,
    readonly module: WebAssembly.Module,
    private readonly cpu: Cpu,
    private readonly clock: GuestClock,
    private readonly board: VirtBoard,
    private readonly disks: BoardDisk[],
  ) {
    this.pollable = board.devices.flatMap((slot) => (slot.device.poll ? [slot.device] : []));
  }

  static async create(config: MachineConfig, console: CharBackend, control: Pick<MachineControl, 'wakeHart'>): Promise<Machine> {
    const memory = Cpu.createMemory(config.ramBytes);
    const module = await Cpu.compile();
    const clock = new GuestClock(memory);
    let machine: Machine | undefined;
    const disks = openDisks(config.disks ?? []);
    const board = createVirtBoard({
      harts: config.harts,
      ramBytes: config.ramBytes,
      memory,
      clock,
      console,
      disks,
      hart: new WakingHartLines(new SharedHartLines(memory, config.harts), control),
      events: {
        powerOff: (status) => { machine!.request ??= { type: 'poweroff', status }; },
        reset: () => { machine!.request ??= { type: 'reset' }; },
      },
    });
    const cpu = new Cpu(module, memory, { ramBytes: config.ramBytes, harts: config.harts, bus: board.bus });
    machine = new Machine(config, memory, module, cpu, clock, board, disks);
    return machine;
  }

  /** Flushes and closes the disks. The owner calls it once the machine has ended (powered off, quit, or failed). */
  close(): void {
    closeDisks(this.disks);
  }

  /** The board's bus: every device but the per-hart CLINT is reached through it. */
  get bus(): MmioBus {
    return this.board.bus;
  }

  /** Where the CLINT is mapped: each vCPU thread serves it for its own hart. */
  get clint(): BusWindow {
    const slot = this.board.devices.find((s) => s.device.kind === 'clint');
    if (!slot) throw new Error('the board has no CLINT');
    return { base: slot.base, size: slot.size };
  }

  /**
   * Loads the boot images and puts every hart at the firmware's entry, like a power cycle. No
   * hart may be running (at start-up, or all parked).
   */
  boot(): void {
    for (const device of this.board.devices) device.device.reset();
    const images = loadBootImages(this.board, {
      harts: this.config.harts,
      ramBytes: this.config.ramBytes,
      firmware: readFileSync(this.config.firmwarePath),
      kernel: readFileSync(this.config.kernelPath),
      initrd: this.config.initrdPath ? readFileSync(this.config.initrdPath) : undefined,
      bootargs: this.config.bootargs,
    });
    images.harts.forEach((entry, hart) => this.cpu.resetHart(hart, entry));
    this.request = null;
    this.clock.start();
  }

  /** Lets the devices that take host input or keep timers (UART, virtio-console, RTC) catch up. */
  poll(): void {
    for (const device of this.pollable) device.poll!();
  }

  /** The guest's power-off or reset request since the last call, if any. */
  takeRequest(): BoardRequest | null {
    const request = this.request;
    this.request = null;
    return request;
  }

  /** Guest instructions retired by all harts since boot. */
  instructions(): bigint {
    let instructions = 0n;
    for (let hart = 0; hart < this.config.harts; hart++) instructions += this.cpu.instret(hart);
    return instructions;
  }
}
