// A whole machine in one thread: the CPU core over shared memory, the `virt` board's devices,
// the boot images, and the loop that runs harts in batches, polls devices between batches and
// sleeps while every hart idles in WFI.
import { readFileSync } from 'node:fs';
import { Cpu, CpuExit } from '../cpu/cpu.ts';
import type { CharBackend } from '../devices/char.ts';
import { GuestClock } from './clock.ts';
import { createVirtBoard } from './virt.ts';
import { loadBootImages } from './boot.ts';
import { closeDisks, openDisks, type BoardDisk } from './disks.ts';
import { Control, type DiskConfig, type MachineExit } from '../vcpu/protocol.ts';

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

/** Instructions a hart runs before the loop polls devices and the owner's requests. */
const BATCH = 20_000;
/** Longest sleep of an idle machine, so device timers (the RTC alarm) are never far late. */
const MAX_IDLE_MS = 10;

export class Machine {
  private exit: MachineExit | null = null;
  private resetRequested = false;

  private constructor(
    private readonly config: MachineConfig,
    private readonly cpu: Cpu,
    private readonly clock: GuestClock,
    private readonly board: ReturnType<typeof createVirtBoard>,
    private readonly console: BufferedConsole,
    private readonly disks: BoardDisk[],
  ) {}

  static async create(config: MachineConfig, console: CharBackend): Promise<Machine> {
    const memory = Cpu.createMemory(config.ramBytes);
    const module = await Cpu.compile();
    const clock = new GuestClock(memory);
    const buffered = new BufferedConsole(console);
    let machine: Machine | undefined;
    const disks = openDisks(config.disks ?? []);
    // The board and the core refer to each other (MMIO one way, interrupt lines the other).
    let cpu: Cpu | undefined;
    const board = createVirtBoard({
      harts: config.harts,
      ramBytes: config.ramBytes,
      memory,
      clock,
      console: buffered,
      disks,
      hart: {
        setIrqLine: (hart, bit, level) => cpu!.setIrqLine(hart, bit, level),
        getMtimecmp: (hart) => cpu!.getMtimecmp(hart),
        setMtimecmp: (hart, value) => cpu!.setMtimecmp(hart, value),
      },
      events: {
        powerOff: (status) => machine!.powerOff(status),
        reset: () => { machine!.resetRequested = true; },
      },
    });
    cpu = new Cpu(module, memory, { ramBytes: config.ramBytes, harts: config.harts, bus: board.bus });
    machine = new Machine(config, cpu, clock, board, buffered, disks);
    return machine;
  }

  private powerOff(status: number): void {
    this.exit ??= { reason: 'poweroff', status };
  }

  /** Loads the boot images and puts every hart at the firmware's entry, like a power cycle. */
  private boot(): void {
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
    this.clock.start();
  }

  /** Runs until the guest powers off or the owner asks to quit (through `control`). */
  run(control: Int32Array): MachineExit {
    let exit: MachineExit;
    try {
      exit = this.loop(control);
    } finally {
      this.close();
    }
    let instructions = 0n;
    for (let hart = 0; hart < this.config.harts; hart++) instructions += this.cpu.instret(hart);
    return { ...exit, instructions: Number(instructions) };
  }

  /** Flushes and closes the disks: the machine has ended (powered off, quit, or failed). */
  close(): void {
    closeDisks(this.disks);
  }

  private loop(control: Int32Array): MachineExit {
    this.boot();
    const pollable = this.board.devices.flatMap((slot) => (slot.device.poll ? [slot.device] : []));
    const harts = this.config.harts;
    for (;;) {
      const doorbell = Atomics.load(control, Control.Doorbell);
      let idle = true;
      for (let hart = 0; hart < harts; hart++) {
        if (this.cpu.run(hart, BATCH) !== CpuExit.Idle) idle = false;
      }
      for (const device of pollable) device.poll!();
      this.console.flush();
      if (this.exit) return this.exit;
      if (Atomics.load(control, Control.Request) === Control.RequestQuit) return { reason: 'quit', status: 0 };
      if (this.resetRequested) {
        this.resetRequested = false;
        this.boot();
        continue;
      }
      if (idle) Atomics.wait(control, Control.Doorbell, doorbell, this.idleMs());
    }
  }

  /** How long every hart can sleep: until the earliest timer, at most MAX_IDLE_MS. */
  private idleMs(): number {
    let ns = MAX_IDLE_MS * 1e6;
    for (let hart = 0; hart < this.config.harts; hart++) {
      ns = Math.min(ns, this.clock.nsUntil(this.cpu.nextTimerTicks(hart)));
    }
    return ns / 1e6;
  }
}

/** Collects console output during a batch and hands it on in one piece. */
class BufferedConsole implements CharBackend {
  private chunks: Uint8Array[] = [];
  constructor(private readonly backend: CharBackend) {}
  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
  }
  read(): Uint8Array | null {
    return this.backend.read();
  }
  flush(): void {
    if (this.chunks.length === 0) return;
    this.backend.write(Buffer.concat(this.chunks));
    this.chunks = [];
  }
}
