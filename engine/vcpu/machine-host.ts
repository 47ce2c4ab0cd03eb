// The owning thread's handle on a running machine. It starts the device thread (which builds and
// boots the board, or restores a saved state into it) and one vCPU thread per hart, carries the
// serial console and the guest agent's channel both ways, pauses and resumes all harts together,
// saves a paused machine's state, swaps its disks, and reports how the machine ended. The machine
// itself never runs on the caller's event loop (the CLI's, or the Electron main process's): this
// class only waits on it, with Atomics.waitAsync and messages.
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { ByteRing, RingFeeder } from './byte-ring.ts';
import { GuestClock } from '../devices/clock.ts';
import { hartProfile, type HartProfile } from '../cpu/cpu.ts';
import type { MachineConfig } from '../machine/machine.ts';
import { errorMessage, HangarError, reviveError, serializeError, type SerializedError } from '../common/errors.ts';
import type { DiskConfig } from '../machine/disks.ts';
import type { StateFileSummary } from '../machine/state-file.ts';
import { MachineControl, ParkReason, StopReason } from './control.ts';
import { createMailboxes } from './mmio-mailbox.ts';
import { createNetLink, type NetLinkBuffers } from './frame-ring.ts';
import { bundledThread } from './thread-bundle.ts';
import type { DeviceCommand, DeviceData, DeviceMessage, MachineExit, NetData, VcpuBoard, VcpuData, VcpuFailure } from './protocol.ts';

export interface MachineHostEvents {
  console: [Uint8Array];
  /** Bytes the guest wrote to hvc0 (the virtio-console): the guest agent's channel. */
  agent: [Uint8Array];
  exit: [MachineExit];
}

/** How long pause() and resume() wait for every thread before they fail (a hung machine). */
const PARK_TIMEOUT_MS = 10_000;
/** How long the threads get to end by themselves after the machine stopped. */
const WIND_DOWN_MS = 2000;
/**
 * Bytes for the agent that the guest has not taken yet (its driver posts receive buffers as it
 * reads): held in this ring, never dropped; sendAgent refuses what does not fit.
 */
const AGENT_HOLD_BYTES = 1024 * 1024;
/** The serial console's input ring, which the UART's polls drain as the guest reads. */
const CONSOLE_RING_BYTES = 64 * 1024;
/**
 * Typed or pasted console input that waits for room in the ring (a paused guest reads nothing):
 * at most this much per console, beyond it sendConsole refuses. A paste through the API
 * (terminals:write, 1 MiB of text at most) fits whole.
 */
const CONSOLE_QUEUE_BYTES = 4 * 1024 * 1024;
const DEVICE_THREAD = new URL('./device-thread.ts', import.meta.url);
const VCPU_THREAD = new URL('./vcpu-thread.ts', import.meta.url);
const NET_THREAD = new URL('./net-thread.ts', import.meta.url);

/** A command as the caller gives it (the host numbers it). */
type Command = DeviceCommand extends infer C ? (C extends DeviceCommand ? Omit<C, 'id'> : never) : never;

export class MachineHost extends EventEmitter<MachineHostEvents> {
  /** Started once the threads' code is bundled (thread-bundle.ts). */
  private device: Thread | null = null;
  private readonly vcpus: Thread[] = [];
  /** The user-mode network's thread, when the machine has NICs (net-thread.ts). */
  private net: Thread | null = null;
  /** One per NIC of the config: the rings between the device thread and the net thread. */
  private readonly netLinks: NetLinkBuffers[];
  private readonly input = new ByteRing(CONSOLE_RING_BYTES);
  private readonly consoleFeed = new RingFeeder(this.input, CONSOLE_QUEUE_BYTES, () => this.control.ringDevice());
  private readonly agentInput = new ByteRing(AGENT_HOLD_BYTES);
  private readonly control = new MachineControl();
  private clock: GuestClock | null = null;
  private memory: WebAssembly.Memory | null = null;
  /** The first vCPU thread's failure: the machine's, whatever the device thread then says. */
  private failure: SerializedError | null = null;
  private paused = false;
  /** The vCPU threads have the board; before that, they wait for it and are ended without ado. */
  private boardSent = false;
  private nextCommand = 1;
  private readonly commands = new Map<number, { resolve(result: StateFileSummary | undefined): void; reject(err: Error): void }>();
  /** The command the device thread is carrying out: resume() waits for it. */
  private operation: Promise<unknown> = Promise.resolve();
  readonly exited: Promise<MachineExit>;
  /** Resolves once the machine runs (booted, or restored); rejects with its exit message if it ends first. */
  readonly started: Promise<void>;

  constructor(private readonly config: MachineConfig) {
    super();
    this.netLinks = (config.nics ?? []).map(() => createNetLink());
    let running: () => void;
    const startedRunning = new Promise<void>((resolve) => { running = resolve; });
    const netScript = this.netLinks.length > 0 ? bundledThread(NET_THREAD) : null;
    const ended = Promise.all([bundledThread(DEVICE_THREAD), bundledThread(VCPU_THREAD), netScript]).then(
      ([deviceScript, vcpuScript, netScript]) => {
        if (this.stopped()) return { reason: 'quit', status: 0 } satisfies MachineExit; // killed before it started
        if (netScript) this.startNetThread(netScript);
        const mailboxes = createMailboxes();
        const device = this.startDeviceThread(deviceScript, mailboxes, { running: () => running() });
        this.startVcpuThreads(vcpuScript, mailboxes);
        return device;
      },
      (err: unknown): MachineExit => {
        const message = `machine: its threads' code does not build: ${errorMessage(err)}`;
        return { reason: 'error', status: 1, message, error: { code: 'failed', message } };
      });
    this.exited = ended.then(async (exit) => {
      this.control.requestStop(StopReason.Ended);
      this.net?.worker.postMessage('stop');
      this.consoleFeed.close(new HangarError('invalid-state', 'machine: it has stopped'));
      await this.windDown();
      const final: MachineExit = this.failure ? { ...exit, reason: 'error', status: 1, message: this.failure.message, error: this.failure } : exit;
      for (const { reject } of this.commands.values()) reject(new HangarError('invalid-state', 'machine: it has stopped'));
      this.commands.clear();
      this.emit('exit', final);
      return final;
    });
    this.started = Promise.race([
      startedRunning,
      // The error as its thread raised it (a damaged state file is still `corrupt` here).
      this.exited.then((exit) => { throw exit.error ? reviveError(exit.error) : new HangarError('failed', exit.message ?? `machine: it ended (${exit.reason}) before it ran`); }),
    ]);
    this.started.catch(() => {}); // an owner that only watches `exited` must not see an unhandled rejection
  }

  /** Starts the device thread; resolves with how the machine ended once it has. */
  private startDeviceThread(script: URL, mailboxes: SharedArrayBuffer, events: { running(): void }): Promise<MachineExit> {
    this.device = startThread(script, {
      config: this.config, control: this.control.buffer, mailboxes, input: this.input.buffer, agentInput: this.agentInput.buffer,
      nics: this.netLinks,
    } satisfies DeviceData);
    const { worker } = this.device;
    return new Promise<MachineExit>((resolve) => {
      worker.on('message', (message: DeviceMessage) => {
        switch (message.type) {
          case 'console': this.emit('console', message.data); break;
          case 'agent': this.emit('agent', message.data); break;
          case 'started': this.startHarts(message); break;
          case 'running': events.running(); break;
          case 'done': this.answer(message); break;
          case 'exit': resolve(message.exit); break;
        }
      });
      worker.on('error', (err) => resolve({ reason: 'error', status: 1, message: err.message, error: serializeError(err) }));
      worker.on('exit', (code) => resolve({ reason: 'error', status: 1, message: `device thread ended (${code})` }));
    });
  }

  /**
   * Starts the vCPU threads with the device thread: each loads its code while the device thread
   * builds the board (and reads a saved state into it), then waits for the board (startHarts)
   * before it makes its core.
   */
  private startVcpuThreads(script: URL, mailboxes: SharedArrayBuffer): void {
    for (let hart = 0; hart < this.config.harts; hart++) {
      const vcpu = startThread(script, {
        hart, harts: this.config.harts, ramBytes: this.config.ramBytes, jitThreshold: this.config.jitThreshold,
        control: this.control.buffer, mailboxes,
      } satisfies VcpuData);
      vcpu.worker.on('message', (message: VcpuFailure) => this.fail(message.error));
      vcpu.worker.on('error', (err) => this.fail({ ...serializeError(err), message: `hart ${hart}: ${err.message}` }));
      this.vcpus.push(vcpu);
    }
  }

  /** The NICs' stacks, before the device thread: frames the guest sends find them there. */
  private startNetThread(script: URL): void {
    const nics = this.config.nics!.map((nic, i) => ({ link: this.netLinks[i]!, options: { ...nic.network, mtu: nic.mtu } }));
    this.net = startThread(script, { control: this.control.buffer, nics } satisfies NetData);
    // A stack that cannot start (a bad network option) or fails ends the machine, saying why.
    this.net.worker.on('error', (err) => this.fail({ ...serializeError(err), message: `network: ${err.message}` }));
  }

  private startHarts({ memory, module }: Extract<DeviceMessage, { type: 'started' }>): void {
    this.clock = new GuestClock(memory);
    this.memory = memory;
    this.boardSent = true;
    for (const { worker } of this.vcpus) worker.postMessage({ memory, module } satisfies VcpuBoard);
  }

  private fail(error: SerializedError): void {
    this.failure ??= error;
    this.control.requestStop(StopReason.Ended);
  }

  /** Waits for every thread to end after a stop; a thread that does not is terminated. */
  private async windDown(): Promise<void> {
    const device = this.device;
    await Promise.all([...(device ? [device] : []), ...(this.net ? [this.net] : []), ...this.vcpus].map(async ({ worker, ended }) => {
      const waiting = worker !== device?.worker && !this.boardSent; // for a board that never came
      const timer = setTimeout(() => void worker.terminate(), waiting ? 0 : WIND_DOWN_MS);
      await ended;
      clearTimeout(timer);
    }));
  }

  /**
   * Types bytes into the guest's console (the UART). Resolves once they are in the input ring
   * (the guest reads them from there, in order); until the guest makes room they wait here, at
   * most CONSOLE_QUEUE_BYTES of them, and past that the bytes are refused (RingFullError).
   * Waiting for each call before the next gives the caller back-pressure.
   */
  sendConsole(bytes: Uint8Array): Promise<void> {
    if (this.stopped()) return Promise.reject(new Error('machine: it has stopped'));
    return this.consoleFeed.write(bytes);
  }

  /**
   * Sends bytes to the guest agent (hvc0). What the guest has no receive buffers for yet is held
   * (up to AGENT_HOLD_BYTES); throws, sending nothing, when the bytes do not fit.
   */
  sendAgent(bytes: Uint8Array): void {
    if (this.stopped()) throw new Error('machine: it has stopped');
    if (bytes.length > this.agentInput.free()) {
      throw new Error(`machine: the guest has not read ${AGENT_HOLD_BYTES - 1 - this.agentInput.free()} bytes sent to its agent; ${bytes.length} more do not fit`);
    }
    this.agentInput.write(bytes);
    this.control.ringDevice();
  }

  /**
   * Stops every hart at an instruction boundary and the devices with them, then stops guest
   * time; resolves once all are parked. Rejects if the machine has ended or does not park.
   */
  async pause(): Promise<void> {
    if (this.paused) return;
    await this.control.until(() => this.control.started() || this.stopped(), PARK_TIMEOUT_MS, 'the machine to boot');
    this.paused = true;
    this.control.requestPark(ParkReason.Owner);
    await this.control.until(
      () => this.stopped() || (this.control.parkedHarts() === this.config.harts && this.control.deviceParked()),
      PARK_TIMEOUT_MS, 'every hart to pause');
    if (this.stopped()) throw new Error('machine: it has stopped');
    this.clock!.pause();
  }

  /** Starts guest time and every hart again; resolves once all have left the park. */
  async resume(): Promise<void> {
    if (!this.paused) return;
    await this.operation.catch(() => {});
    if (!this.paused) return;
    this.paused = false;
    this.clock!.resume();
    const unparks = this.control.unparks();
    this.control.releasePark(ParkReason.Owner);
    await this.control.until(
      () => this.stopped() || (this.control.unparks() - unparks >= this.config.harts && !this.control.deviceParked()),
      PARK_TIMEOUT_MS, 'every hart to resume');
  }

  /**
   * Paused only: writes the machine's state to `path` atomically (engine/machine/state-file.ts) with
   * VM id `vm`, after the devices took the input on its way to them and the disks were flushed.
   * Guest time in the file is the time at the pause.
   */
  async saveState(path: string, vm: string | null): Promise<StateFileSummary> {
    const ticks = this.pausedClock('saveState').now();
    // Console input still waiting for room in the ring goes to the device with the save (ahead of
    // any later input), so that the state file carries it.
    return (await this.command({ type: 'save', path, vm, ticks, consoleInput: this.consoleFeed.takeWaiting() }))!;
  }

  /**
   * Paused only: flushes and closes every disk and opens `disks` in the same virtio-blk slots
   * (same count, sizes and writability: a live snapshot's new overlays). If one does not open
   * or fit, the machine keeps its disks.
   */
  async replaceDisks(disks: DiskConfig[]): Promise<void> {
    this.pausedClock('replaceDisks');
    await this.command({ type: 'replaceDisks', disks });
  }

  private pausedClock(what: string): GuestClock {
    if (!this.paused || this.stopped() || !this.clock) throw new HangarError('invalid-state', `machine: ${what} needs a paused machine`);
    return this.clock;
  }

  /** Has the (parked) device thread carry out `command`, one at a time. */
  private command(command: Command): Promise<StateFileSummary | undefined> {
    const id = this.nextCommand++;
    const result = this.operation.catch(() => {}).then(() => new Promise<StateFileSummary | undefined>((resolve, reject) => {
      if (this.stopped()) throw new HangarError('invalid-state', 'machine: it has stopped');
      this.commands.set(id, { resolve, reject });
      this.device!.worker.postMessage({ ...command, id } satisfies DeviceCommand);
    }));
    this.operation = result;
    return result;
  }

  private answer(done: Extract<DeviceMessage, { type: 'done' }>): void {
    const waiting = this.commands.get(done.id);
    if (!waiting) return;
    this.commands.delete(done.id);
    if (!done.error) waiting.resolve(done.result);
    else waiting.reject(reviveError(done.error));
  }

  private stopped(): boolean {
    return this.control.stopReason() !== StopReason.Running;
  }

  /**
   * Host seconds the harts have spent running guest code (not asleep in WFI, not parked), all
   * harts together: its growth over wall time is the machine's CPU use (1 = one host core busy).
   */
  cpuSeconds(): number {
    let ms = 0;
    for (let hart = 0; hart < this.config.harts; hart++) ms += this.control.busyMs(hart);
    return ms / 1000;
  }

  /** Every hart's profile counters (engine/cpu/layout.ts: PROFILE_*); none before the harts start. */
  hartProfiles(): HartProfile[] {
    const memory = this.memory;
    return memory ? Array.from({ length: this.config.harts }, (_, hart) => hartProfile(memory, hart, this.config.harts)) : [];
  }

  /** Stops the machine at once (like pulling the plug); resolves when its threads have ended. */
  async kill(): Promise<MachineExit> {
    this.control.requestStop(StopReason.Quit);
    return this.exited;
  }
}

interface Thread {
  worker: Worker;
  /** Resolves when the thread has ended, however it ended. */
  ended: Promise<void>;
}

function startThread(script: URL, workerData: DeviceData | VcpuData | NetData): Thread {
  const worker = new Worker(script, { workerData });
  return { worker, ended: new Promise((resolve) => worker.once('exit', () => resolve())) };
}
