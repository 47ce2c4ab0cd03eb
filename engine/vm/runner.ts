// A running VM in the engine that owns the library: the VM's "running" hold (its folder's lock),
// the machine (engine/vcpu MachineHost: vCPU and device threads), the guest agent on the
// virtio-console (hvc0) and the serial console (ttyS0) as a byte stream.
//
//   start     boots the VM's disks and boot files, or resumes its saved state (restoreFrom): once
//             the machine runs on, the saved state is discarded and the guest's wall clock set
//   stop      the agent asks the guest to power off; after the timeout (or with force) it is killed
//   save      suspend to disk: pause, state file written (folder.saveState), machine killed, hold let go
//   snapshot  live: pause, disks flushed, takeSnapshot with the machine's state (or none), the new
//             overlays swapped in under the running guest, resume
//   restore   a snapshot of the running VM: kill, restoreSnapshot on the folder still held, start
//             again from it (resumes when the snapshot has RAM)
// A machine that ends by itself (the guest powered off, an error) lets go of the hold: the VM is
// powered off. Operations that change the machine's state run one at a time; exec, file copies
// and the console work alongside them.
import { EventEmitter } from 'node:events';
import type { OperationOptions } from '../common/operation.ts';
import { errorMessage, serializeError } from '../common/errors.ts';
import type { DiskConfig } from '../machine/disks.ts';
import type { MachineConfig } from '../machine/machine.ts';
import type { MachineExit } from '../vcpu/protocol.ts';
import { RingFullError } from '../vcpu/byte-ring.ts';
import { VmStateError } from './errors.ts';
import type { AgentChannel, GuestAgent } from './agent.ts';
import type { RunningVm } from './library.ts';
import { findSnapshot, restoreSnapshot, takeSnapshot } from './snapshots.ts';
import type { SnapshotRecord } from './config.ts';
import type { VmUsage } from './types.ts';
export type { VmUsage } from './types.ts';

export type RunnerState = 'starting' | 'running' | 'paused' | 'saving' | 'stopping';

/** What the runner uses of a machine: engine/vcpu/machine-host.ts's MachineHost. */
export interface RunnerMachine {
  /** Booted, or restored from the state file; rejects if the machine ends first. */
  readonly started: Promise<void>;
  readonly exited: Promise<MachineExit>;
  on(event: 'console' | 'agent', listener: (bytes: Uint8Array) => void): unknown;
  /** Resolves once the bytes are on their way to the guest (in its input ring); refuses past its queue's cap. */
  sendConsole(bytes: Uint8Array): Promise<void>;
  sendAgent(bytes: Uint8Array): void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  kill(): Promise<MachineExit>;
  /** Paused only: device work completed, disks flushed, the state file written atomically. */
  saveState(path: string, vm: string | null): Promise<unknown>;
  /** Paused only: disks flushed and closed, `disks` opened in the same slots. */
  replaceDisks(disks: DiskConfig[]): Promise<void>;
  /** Host seconds its harts have spent running guest code. */
  cpuSeconds(): number;
}

/** What the runner uses of the guest agent. */
export type RunnerAgent = Pick<GuestAgent, 'connect' | 'exec' | 'readFile' | 'writeFile' | 'setClock' | 'powerOff' | 'close'>;

/** How a runner makes its machine and agent (the real ones in runner-machine.ts; fakes in unit tests). */
export interface RunnerParts {
  machine(config: MachineConfig): RunnerMachine;
  agent(channel: AgentChannel): RunnerAgent;
}

/** How a run ended: the machine's own exit, or "saved" (suspended to disk). */
export type RunEnd = { reason: 'saved' } | MachineExit;

export interface RunnerEvents {
  state: [RunnerState];
  console: [Uint8Array];
  ended: [RunEnd];
}

/** The guest agent starts with the guest's init: a cold boot takes a while on an emulated CPU. */
const AGENT_AFTER_BOOT_MS = 600_000;
const AGENT_AFTER_RESTORE_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 30_000;

export class VmRunner extends EventEmitter<RunnerEvents> {
  private machine: RunnerMachine | null = null;
  private agent: RunnerAgent | null = null;
  private agentReady: Promise<void> | null = null;
  private restored = false;
  private current: RunnerState = 'starting';
  /** The state-changing operation in progress; the next waits for it. */
  private queue: Promise<unknown> = Promise.resolve();
  private endedWith: RunEnd | null = null;
  /** Resolves once the run is over and the hold let go. */
  readonly finished: Promise<RunEnd>;
  private finish!: (end: RunEnd) => void;

  constructor(private readonly hold: RunningVm, private readonly parts: RunnerParts) {
    super();
    this.finished = new Promise((resolve) => { this.finish = resolve; });
  }

  get folder() {
    return this.hold.folder;
  }

  get id(): string {
    return this.hold.folder.config.id;
  }

  get name(): string {
    return this.hold.folder.config.name;
  }

  get state(): RunnerState {
    return this.current;
  }

  get ended(): boolean {
    return this.endedWith !== null;
  }

  private setState(state: RunnerState): void {
    if (this.ended || state === this.current) return;
    this.current = state;
    this.emit('state', state);
  }

  /** Boots the VM, or resumes its saved state; resolves once the machine runs. Ends the run if it cannot. */
  async start(op: OperationOptions = {}): Promise<void> {
    await this.exclusive(() => this.launch(op));
  }

  private async launch(op: OperationOptions): Promise<void> {
    this.setState('starting');
    const folder = this.folder;
    const c = folder.config;
    const disks = folder.diskConfigs();
    const restoreFrom = c.savedState ? { path: folder.file(c.savedState), vm: c.id } : undefined;
    op.onProgress?.({ phase: restoreFrom ? 'resume' : 'boot', item: c.name });
    let machine: RunnerMachine;
    try {
      machine = this.parts.machine({ ...folder.machineConfig(), disks, restoreFrom });
    } catch (err) {
      const error = serializeError(err);
      await this.end({ reason: 'error', status: 1, message: error.message, error });
      throw err;
    }
    this.machine = machine;
    machine.on('console', (bytes) => this.emit('console', bytes));
    const listeners = new Set<(bytes: Uint8Array) => void>();
    machine.on('agent', (bytes) => { for (const listener of listeners) listener(bytes); });
    this.agent = this.parts.agent({
      write: (bytes) => machine.sendAgent(bytes),
      onData: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
    this.agentReady = null;
    void machine.exited.then((exit) => {
      // A machine this runner replaced or killed on purpose is not the end of the run.
      if (this.machine === machine) void this.end(exit);
    });
    try {
      await machine.started;
    } catch (err) {
      if (this.machine === machine) await this.end(await machine.exited);
      throw err;
    }
    this.restored = restoreFrom !== undefined;
    // The state file has been read into the machine: from here on the VM runs on from it.
    if (restoreFrom) await folder.discardSavedState();
    this.setState('running');
    if (this.restored) this.setGuestClock();
  }

  /** The agent once it has answered, connecting (again) when it has not yet. */
  private connectedAgent(signal?: AbortSignal): Promise<RunnerAgent> {
    const agent = this.agent;
    if (!agent || this.ended) return Promise.reject(new VmStateError(`VM "${this.name}" is not running`));
    this.agentReady ??= agent.connect({ timeoutMs: this.restored ? AGENT_AFTER_RESTORE_MS : AGENT_AFTER_BOOT_MS }).catch((err: unknown) => {
      if (this.agent === agent) this.agentReady = null;
      throw err;
    });
    const ready = this.agentReady.then(() => agent);
    if (!signal) return ready;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      ready.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** After a resume or restore the guest's wall clock is behind: the agent sets it (in the background). */
  private setGuestClock(): void {
    void this.connectedAgent().then((agent) => agent.setClock(new Date())).catch(() => {
      // No agent answering (a guest without one): its clock stays as it was.
    });
  }

  private running(): RunnerMachine {
    if (this.ended || !this.machine) throw new VmStateError(`VM "${this.name}" is not running`);
    return this.machine;
  }

  /** Runs a state-changing operation after the ones before it. */
  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.queue.then(operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async end(exit: RunEnd): Promise<void> {
    if (this.ended) return;
    this.endedWith = exit;
    this.agent?.close(exit.reason === 'saved' ? 'the VM was saved' : 'the machine stopped');
    this.agent = null;
    this.machine = null;
    await this.hold.release();
    this.emit('ended', exit);
    this.finish(exit);
  }

  /** Its machine's resource use; undefined while it has none (starting, ended). */
  usage(): VmUsage | undefined {
    if (this.ended || !this.machine) return undefined;
    return { cpuSeconds: this.machine.cpuSeconds(), memoryBytes: this.folder.config.memory * 1024 * 1024 };
  }

  async pause(): Promise<void> {
    await this.exclusive(async () => {
      const machine = this.running();
      if (this.current === 'paused') return;
      await machine.pause();
      this.setState('paused');
    });
  }

  async resume(): Promise<void> {
    await this.exclusive(async () => {
      const machine = this.running();
      if (this.current !== 'paused') return;
      await machine.resume();
      this.setState('running');
      this.setGuestClock();
    });
  }

  /**
   * Asks the guest to power off through its agent and waits up to `timeoutMs` for the machine to
   * end, then kills it; `force` kills it at once. Resolves once the run is over.
   */
  async stop(options: { force?: boolean; timeoutMs?: number } = {}): Promise<RunEnd> {
    return this.exclusive(async () => {
      const machine = this.running();
      const wasPaused = this.current === 'paused';
      this.setState('stopping');
      if (!options.force) {
        if (wasPaused) await machine.resume();
        const asked = this.connectedAgent().then((agent) => agent.powerOff());
        asked.catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS); });
        await Promise.race([machine.exited, timeout]);
        clearTimeout(timer);
      }
      if (!this.ended) await machine.kill();
      return this.finished;
    });
  }

  /** Suspends the VM to disk: its state file is written, then the machine ends. `vm start` resumes it. */
  async save(op: OperationOptions = {}): Promise<void> {
    await this.exclusive(async () => {
      const machine = this.running();
      const wasRunning = this.current === 'running';
      this.setState('saving');
      try {
        await machine.pause();
        op.onProgress?.({ phase: 'save state', item: this.name });
        await this.folder.saveState(async (path) => {
          await machine.saveState(path, this.id);
          // The last moment to give up: the state is written but vm.json does not name it yet.
          op.signal?.throwIfAborted();
        });
      } catch (err) {
        if (!this.ended) {
          if (wasRunning) await machine.resume();
          this.setState(wasRunning ? 'running' : 'paused');
        }
        throw err;
      }
      this.machine = null; // its end is the run's end, told as "saved"
      await machine.kill();
      await this.end({ reason: 'saved' });
    });
  }

  /**
   * A snapshot of the running VM: with its memory (restoring it resumes the guest where it was)
   * or, with noRam, its disks only. The guest is paused meanwhile and goes on on new overlays.
   */
  async snapshot(name: string, options: { noRam?: boolean; description?: string } = {}, op: OperationOptions = {}): Promise<SnapshotRecord> {
    return this.exclusive(() => this.liveSnapshot(name, options, op));
  }

  private async liveSnapshot(name: string, options: { noRam?: boolean; description?: string }, op: OperationOptions): Promise<SnapshotRecord> {
    const machine = this.running();
    const was = this.current;
    this.setState('saving');
    try {
      await machine.pause();
      op.onProgress?.({ phase: 'snapshot', item: name });
      // The overlays about to be frozen must hold every write the guest made: saveState flushes
      // them; without it, reopening the same files does.
      if (options.noRam) await machine.replaceDisks(this.folder.diskConfigs());
      const record = await takeSnapshot(this.folder, name, {
        description: options.description,
        noRam: options.noRam,
        writeState: options.noRam ? undefined : async (path) => {
          await machine.saveState(path, this.id);
          op.signal?.throwIfAborted();
        },
      });
      await machine.replaceDisks(this.folder.diskConfigs());
      return record;
    } finally {
      if (!this.ended) {
        if (was === 'running') await machine.resume();
        this.setState(was);
      }
    }
  }

  /**
   * Restores a snapshot of the running VM: the machine is killed, the snapshot restored (the
   * current state first kept as snapshot `saveCurrentAs`, when given), and the VM started from
   * it — resumed where the snapshot was taken when it holds RAM, booted otherwise.
   */
  async restoreSnapshot(ref: string, options: { saveCurrentAs?: string } = {}, op: OperationOptions = {}): Promise<SnapshotRecord> {
    return this.exclusive(async () => {
      this.running();
      const target = findSnapshot(this.folder.config, ref);
      if (options.saveCurrentAs !== undefined) await this.liveSnapshot(options.saveCurrentAs, {}, op);
      op.signal?.throwIfAborted();
      const machine = this.running();
      this.setState('starting');
      this.machine = null;
      this.agent?.close('the VM is restoring a snapshot');
      this.agent = null;
      await machine.kill();
      op.onProgress?.({ phase: 'restore', item: target.name });
      try {
        await restoreSnapshot(this.folder, target.id);
      } catch (err) {
        await this.end({ reason: 'error', status: 1, message: `restoring snapshot "${target.name}": ${errorMessage(err)}` });
        throw err;
      }
      await this.launch(op);
      return target;
    });
  }

  /**
   * Types bytes into the serial console. Resolves once they are on their way to the guest; while
   * it reads nothing (paused) they wait, up to the machine's cap, past which they are refused.
   */
  async sendConsole(bytes: Uint8Array): Promise<void> {
    try {
      await this.running().sendConsole(bytes);
    } catch (err) {
      if (err instanceof RingFullError) {
        throw new VmStateError(`VM "${this.name}"${this.current === 'paused' ? ' is paused, and' : ''} its console input is full: ${err.message}`);
      }
      throw err;
    }
  }

  private async guestAgent(signal?: AbortSignal): Promise<RunnerAgent> {
    if (this.current === 'paused') throw new VmStateError(`VM "${this.name}" is paused: resume it first`);
    this.running();
    return this.connectedAgent(signal);
  }

  async exec(argv: string[], options: { stdin?: Uint8Array; timeoutMs?: number; signal?: AbortSignal } = {}) {
    return (await this.guestAgent(options.signal)).exec(argv, options);
  }

  async readFile(path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return (await this.guestAgent(options.signal)).readFile(path, options);
  }

  async writeFile(path: string, data: Uint8Array, options: { mode?: number; signal?: AbortSignal } = {}): Promise<void> {
    await (await this.guestAgent(options.signal)).writeFile(path, data, options);
  }
}
