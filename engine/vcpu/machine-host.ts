// The owning thread's handle on a running machine: it starts the machine thread, carries the
// console both ways, and reports how the machine ended. The machine itself never runs on the
// caller's event loop (the CLI's, or later the Electron main process's).
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { ByteRing } from './byte-ring.ts';
import type { MachineConfig } from '../machine/machine.ts';
import { Control, type MachineExit, type MachineMessage } from './protocol.ts';

export interface MachineHostEvents {
  console: [Uint8Array];
  exit: [MachineExit];
}

export class MachineHost extends EventEmitter<MachineHostEvents> {
  private readonly worker: Worker;
  private readonly input = new ByteRing(64 * 1024);
  private readonly control = new Int32Array(new SharedArrayBuffer(Control.Words * 4));
  readonly exited: Promise<MachineExit>;

  constructor(config: MachineConfig) {
    super();
    this.worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), {
      workerData: {
        entry: new URL('./machine-thread.ts', import.meta.url).href,
        config,
        input: this.input.buffer,
        control: this.control.buffer,
      },
    });
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (exit: MachineExit) => {
        if (done) return;
        done = true;
        this.emit('exit', exit);
        resolve(exit);
      };
      this.worker.on('message', (message: MachineMessage) => {
        if (message.type === 'console') this.emit('console', message.data);
        else if (message.type === 'exit') finish(message.exit);
      });
      this.worker.on('error', (err) => finish({ reason: 'error', status: 1, message: err.message }));
      this.worker.on('exit', (code) => finish({ reason: 'error', status: 1, message: `machine thread ended (${code})` }));
    });
  }

  /** Types bytes into the guest's console (the UART). */
  sendConsole(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      offset += this.input.write(bytes.subarray(offset));
      this.ring();
      if (offset < bytes.length) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }

  /** Stops the machine at once (like pulling the plug); resolves when the thread has ended. */
  async kill(): Promise<MachineExit> {
    Atomics.store(this.control, Control.Request, Control.RequestQuit);
    this.ring();
    const exit = await Promise.race([
      this.exited,
      new Promise<null>((resolve) => setTimeout(resolve, 2000, null)),
    ]);
    if (exit) return exit;
    await this.worker.terminate();
    return this.exited;
  }

  /** Wakes the machine thread if it sleeps (guest idle in WFI). */
  private ring(): void {
    Atomics.add(this.control, Control.Doorbell, 1);
    Atomics.notify(this.control, Control.Doorbell);
  }
}
