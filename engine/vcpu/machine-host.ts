// The owning thread's handle on a running machine. It starts the device thread (which builds and
// boots the board) and one vCPU thread per hart, carries the console both ways, pauses and
// resumes all harts together, and reports how the machine ended. The machine itself never runs
// on the caller's event loop (the CLI's, or the Electron main process's): this class only waits
// on it, with Atomics.waitAsync and messages.
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { ByteRing } from './byte-ring.ts';
import { GuestClock } from '../machine/clock.ts';
import type { MachineConfig } from '../machine/machine.ts';
import { MachineControl, ParkReason, StopReason } from './control.ts';
import { createMailboxes } from './mmio-mailbox.ts';
import type { DeviceData, DeviceMessage, MachineExit, VcpuData, VcpuFailure } from './protocol.ts';

export interface MachineHostEvents {
  console: [Uint8Array];
  exit: [MachineExit];
}

/** How long pause() and resume() wait for every thread before they fail (a hung machine). */
const PARK_TIMEOUT_MS = 10_000;
/** How long the threads get to end by themselves after the machine stopped. */
const WIND_DOWN_MS = 2000;

export class MachineHost extends EventEmitter<MachineHostEvents> {
  private readonly device: Thread;
  private readonly vcpus: Thread[] = [];
  private readonly input = new ByteRing(64 * 1024);
  private readonly control = new MachineControl();
  private clock: GuestClock | null = null;
  private failure: string | null = null;
  private paused = false;
  readonly exited: Promise<MachineExit>;

  constructor(private readonly config: MachineConfig) {
    super();
    const mailboxes = createMailboxes();
    this.device = startThread('./device-thread.ts', {
      config, control: this.control.buffer, mailboxes, input: this.input.buffer,
    } satisfies DeviceData);
    const deviceEnded = new Promise<MachineExit>((resolve) => {
      const { worker } = this.device;
      worker.on('message', (message: DeviceMessage) => {
        if (message.type === 'console') this.emit('console', message.data);
        else if (message.type === 'started') this.startHarts(message, mailboxes);
        else resolve(message.exit);
      });
      worker.on('error', (err) => resolve({ reason: 'error', status: 1, message: err.message }));
      worker.on('exit', (code) => resolve({ reason: 'error', status: 1, message: `device thread ended (${code})` }));
    });
    this.exited = deviceEnded.then(async (exit) => {
      this.control.requestStop(StopReason.Ended);
      await this.windDown();
      const final: MachineExit = this.failure ? { ...exit, reason: 'error', status: 1, message: this.failure } : exit;
      this.emit('exit', final);
      return final;
    });
  }

  private startHarts(started: Extract<DeviceMessage, { type: 'started' }>, mailboxes: SharedArrayBuffer): void {
    this.clock = new GuestClock(started.memory);
    for (let hart = 0; hart < this.config.harts; hart++) {
      const vcpu = startThread('./vcpu-thread.ts', {
        hart, harts: this.config.harts, ramBytes: this.config.ramBytes, memory: started.memory,
        module: started.module, clint: started.clint, control: this.control.buffer, mailboxes,
      } satisfies VcpuData);
      vcpu.worker.on('message', (message: VcpuFailure) => this.fail(message.message));
      vcpu.worker.on('error', (err) => this.fail(`hart ${hart}: ${err.message}`));
      this.vcpus.push(vcpu);
    }
  }

  private fail(message: string): void {
    this.failure ??= message;
    this.control.requestStop(StopReason.Ended);
  }

  /** Waits for every thread to end after a stop; a thread that does not is terminated. */
  private async windDown(): Promise<void> {
    await Promise.all([this.device, ...this.vcpus].map(async ({ worker, ended }) => {
      const timer = setTimeout(() => void worker.terminate(), WIND_DOWN_MS);
      await ended;
      clearTimeout(timer);
    }));
  }

  /** Types bytes into the guest's console (the UART). */
  sendConsole(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      offset += this.input.write(bytes.subarray(offset));
      this.control.ringDevice();
      if (offset < bytes.length) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
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
    this.paused = false;
    this.clock!.resume();
    const unparks = this.control.unparks();
    this.control.releasePark(ParkReason.Owner);
    await this.control.until(
      () => this.stopped() || (this.control.unparks() - unparks >= this.config.harts && !this.control.deviceParked()),
      PARK_TIMEOUT_MS, 'every hart to resume');
  }

  private stopped(): boolean {
    return this.control.stopReason() !== StopReason.Running;
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

function startThread(entry: string, workerData: DeviceData | VcpuData): Thread {
  // ts-worker.mjs registers the TypeScript loader in the new thread, then imports `entry`.
  const worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), {
    workerData: { ...workerData, entry: new URL(entry, import.meta.url).href },
  });
  return { worker, ended: new Promise((resolve) => worker.once('exit', () => resolve())) };
}
