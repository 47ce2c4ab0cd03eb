// A machine as its device thread owns it (engine/vcpu/device-thread.ts): the shared memory and
// the compiled core, the `virt` board's devices, the boot images, and one core instance used only
// to reset and inspect the harts — they run on their own vCPU threads, each with its own instance
// over the same memory. Interrupt lines the devices drive wake the hart's thread (`wake`).
//
// Saved state (state-file.ts): `cpu` every hart's named fields (hart-state.ts),
// `devices` the board table's slot name -> Device.saveState(), `clock` the guest ticks at the
// pause, and guest RAM. A restore reads all of it into the fresh machine before any hart runs.
import { readFileSync } from 'node:fs';
import { Cpu, SharedHartLines } from '../cpu/cpu.ts';
import { RAM_OFFSET } from '../cpu/layout.ts';
import type { CharBackend } from '../devices/char.ts';
import type { Device, DeviceState, MmioBus } from '../devices/device.ts';
import { DeviceStateError, StateReader, u64State } from '../devices/state.ts';
import { readStateFile, writeStateFile, type StateFileSummary } from './state-file.ts';
import { StateFileError } from './errors.ts';
import { GuestClock } from '../devices/clock.ts';
import { createVirtBoard, type VirtBoard } from './virt.ts';
import { loadBootImages } from './boot.ts';
import { closeDisks, openDisks, type BoardDisk, type DiskConfig } from './disks.ts';
import { cpuStateFromJson, cpuStateJson, writeHartState, type HartState } from './hart-state.ts';
import { WakingHartLines, type HartWaker } from './waking-hart-lines.ts';
import type { NetBackend } from '../net/backend.ts';
import type { NetworkOptions } from '../net/policy.ts';

/**
 * A network card: virtio-net in the next virtio slot after the disks, behind the user-mode NAT
 * (engine/net: DHCP gives the guest 10.0.2.15, the gateway 10.0.2.2 stands for the host, DNS at
 * 10.0.2.3), which the machine's net thread runs (engine/vcpu/net-thread.ts).
 */
export interface NicConfig {
  kind: 'nat';
  /** aa:bb:cc:dd:ee:ff, unicast. */
  mac: string;
  /** The link's MTU (DHCP option 26 and VIRTIO_NET_F_MTU). Default 1500. */
  mtu?: number;
  /** The virtual network's addresses, and the host loopback endpoints the guest may reach (`allow`). */
  network?: NetworkOptions;
}

export interface MachineConfig {
  harts: number;
  ramBytes: number;
  firmwarePath: string;
  kernelPath: string;
  initrdPath?: string;
  bootargs: string;
  /** Served by virtio-blk devices in the order given (the guest's vda, vdb, ...). */
  disks?: DiskConfig[];
  /** Network cards, in the virtio slots after the disks (the guest's eth0, eth1, ...). */
  nics?: NicConfig[];
  /**
   * A saved-state file (state-file.ts) to resume instead of booting; `vm`: the VM it
   * must belong to (null: any).
   */
  restoreFrom?: { path: string; vm: string | null };
  /** Runs of a block of guest code before the vCPUs translate it (CpuOptions.jitThreshold; default 64). */
  jitThreshold?: number;
}

/** The character back-ends of the board's two consoles. */
export interface MachineConsoles {
  /** The UART (ttyS0): the user's serial console. */
  console: CharBackend;
  /** The virtio-console (hvc0): the guest agent's channel. */
  agent: CharBackend;
}

const CLOCK_STATE_VERSION = 1;

/** A saved state read into the machine, waiting for the harts to be ready. */
interface PendingRestore {
  harts: HartState[];
  ticks: bigint;
}

/** What the guest asked of the board (through the sifive test device), taken once. */
export type BoardRequest = { type: 'poweroff'; status: number } | { type: 'reset' };

export class Machine {
  private request: BoardRequest | null = null;
  private readonly pollable: Device[];
  private pendingRestore: PendingRestore | null = null;

  private constructor(
    private readonly config: MachineConfig,
    readonly memory: WebAssembly.Memory,
    readonly module: WebAssembly.Module,
    private readonly cpu: Cpu,
    private readonly clock: GuestClock,
    private readonly board: VirtBoard,
    private disks: BoardDisk[],
  ) {
    this.pollable = board.devices.flatMap((slot) => (slot.device.poll ? [slot.device] : []));
  }

  /** `networks`: what each NIC of config.nics is connected to, in order. */
  static async create(config: MachineConfig, consoles: MachineConsoles, control: HartWaker, networks: readonly NetBackend[] = []): Promise<Machine> {
    const nics = config.nics ?? [];
    if (networks.length !== nics.length) throw new RangeError(`${nics.length} NICs and ${networks.length} networks for them`);
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
      console: consoles.console,
      virtioConsole: consoles.agent,
      disks,
      nics: nics.map(({ mac, mtu }, i) => ({ mac, mtu, backend: networks[i]! })),
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

  /** Guest RAM in the shared memory. */
  private get ram(): Uint8Array {
    return new Uint8Array(this.memory.buffer, RAM_OFFSET, this.config.ramBytes);
  }

  /** The device thread's bus: every slot of the board but those the vCPU threads serve (the CLINT). */
  get bus(): MmioBus {
    return this.board.bus;
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

  /** Starts the machine: from the saved state read by loadSavedState if there is one, else a boot. */
  start(): void {
    const restore = this.pendingRestore;
    if (!restore) {
      this.boot();
      return;
    }
    this.pendingRestore = null;
    // After the device states: the lines the interrupt controllers drove on loading are the
    // saved ones anyway, and the CLINT's registers (msip, mtimecmp) live only in the harts' state.
    restore.harts.forEach((state, hart) => writeHartState(this.memory, hart, state));
    this.clock.start(restore.ticks);
  }

  /**
   * Reads the config's saved state into this fresh machine (no hart has run): RAM, every
   * device's state, and the harts' states and guest time that start() puts in place. A file or
   * a state that does not fit this machine is a StateFileError naming the file.
   */
  async loadSavedState(from: { path: string; vm: string | null }): Promise<void> {
    const saved = await readStateFile(from.path, { vm: from.vm ?? undefined, into: this.ram, zeroed: true });
    try {
      const harts = cpuStateFromJson(saved.cpu, this.config.harts);
      const ticks = StateReader.open(saved.clock as DeviceState, 'clock', CLOCK_STATE_VERSION).u64('ticks');
      const names = new Set(this.board.devices.map((slot) => slot.name));
      const foreign = Object.keys(saved.devices).find((name) => !names.has(name));
      if (foreign !== undefined) throw new DeviceStateError(`devices: "${foreign}" is no device of this board`);
      for (const slot of this.board.devices) {
        const state = saved.devices[slot.name];
        if (state === undefined) throw new DeviceStateError(`devices: no state for "${slot.name}"`);
        try {
          slot.device.loadState(state as DeviceState);
        } catch (err) {
          throw new DeviceStateError(`devices.${slot.name}: ${(err as Error).message}`);
        }
      }
      this.pendingRestore = { harts, ticks };
      // The network's flows were not saved (the stack is new): a new carrier makes a guest's
      // network manager take its lease again; open connections are reset when next used.
      for (const nic of this.board.netDevices) nic.flapLink();
    } catch (err) {
      if (err instanceof DeviceStateError) throw new StateFileError(`${from.path}: ${err.message}`);
      throw err;
    }
  }

  /**
   * Writes the machine's state to `path` (atomically) with every hart stopped: devices take the
   * input on its way to them, disks are flushed, then CPU, device and clock states and RAM go
   * to the file. `ticks`: guest time at the pause.
   */
  async saveState(path: string, vm: string | null, ticks: bigint): Promise<StateFileSummary> {
    const devices: Record<string, DeviceState> = {};
    for (const { name, device } of this.board.devices) {
      device.quiesce?.();
      devices[name] = device.saveState();
    }
    for (const { disk } of this.disks) disk.flush();
    return writeStateFile(path, {
      vm,
      cpu: cpuStateJson(this.memory, this.config.harts),
      devices,
      clock: { version: CLOCK_STATE_VERSION, ticks: u64State(ticks) },
      ram: this.ram,
    });
  }

  /**
   * Serves `configs` in place of the current disks, in the same virtio-blk slots (same count,
   * sizes and writability; the devices' queue state stays): the old images are flushed and
   * closed. With every hart stopped. If a new image does not open or fit, nothing changes.
   */
  replaceDisks(configs: readonly DiskConfig[]): void {
    if (configs.length !== this.disks.length) {
      throw new RangeError(`the machine has ${this.disks.length} disks; ${configs.length} given to replace them`);
    }
    const disks = openDisks(configs);
    const misfit = disks.findIndex(({ disk }, i) => disk.size !== this.disks[i]!.disk.size || disk.readOnly !== this.disks[i]!.disk.readOnly);
    if (misfit >= 0) {
      closeDisks(disks);
      throw new RangeError(`disk ${misfit}: ${configs[misfit]!.path} does not match the size or writability of ${this.disks[misfit]!.disk.path}`);
    }
    const old = this.disks;
    this.disks = disks;
    disks.forEach(({ disk }, i) => this.board.blockDevices[i]!.replaceDisk(disk));
    closeDisks(old);
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
