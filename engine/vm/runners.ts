// The VMs one engine runs, over its library: at most one runner per VM (the VM's lock says so
// across processes too), their states merged into the library's view, and the operations that
// differ for a running VM (snapshots, clones) routed to its runner. 'changed' is emitted on
// every state change of a VM run here and after every operation that changes the library.
import { EventEmitter } from 'node:events';
import type { OperationOptions } from '../common/operation.ts';
import { VmStateError } from './errors.ts';
import type { CloneOptions, VmInfo, VmLibrary, VmSummary } from './library.ts';
import { VmRunner, type RunnerParts, type RunnerState } from './runner.ts';
import type { SnapshotRecord } from './config.ts';

/** A VM's state as the engine running it sees it. */
export type VmRunState = Exclude<VmSummary['state'], 'running'> | RunnerState;

export interface RunnersEvents {
  changed: [];
  /** A VM started here (its console is the runner's). */
  started: [VmRunner];
}

export class VmRunners extends EventEmitter<RunnersEvents> {
  private readonly runners = new Map<string, VmRunner>();

  constructor(readonly library: VmLibrary, private readonly parts: RunnerParts) {
    super();
  }

  /** The runner of a VM run by this engine (by name or id), if it is. */
  find(ref: string): VmRunner | undefined {
    for (const runner of this.runners.values()) if (runner.id === ref || runner.name === ref) return runner;
    return undefined;
  }

  /** The runner of a running VM; a clear refusal when it is not running (here). */
  async runner(ref: string): Promise<VmRunner> {
    const runner = this.find(ref);
    if (runner) return runner;
    const info = await this.library.info(ref);
    if (info.state === 'running') throw new VmStateError(`VM "${info.name}" is run by another process (see its vm.lock), not by this engine`);
    throw new VmStateError(`VM "${info.name}" is not running${info.state === 'saved' ? ' (it is saved: start resumes it)' : ''}`);
  }

  get running(): VmRunner[] {
    return [...this.runners.values()];
  }

  private stateOf(summary: { id: string; state: VmSummary['state'] }): VmRunState {
    return this.runners.get(summary.id)?.state ?? (summary.state === 'running' ? 'running' : summary.state);
  }

  async list(): Promise<Array<Omit<VmSummary, 'state'> & { state: VmRunState }>> {
    return (await this.library.list()).map((vm) => ({ ...vm, state: this.stateOf(vm) }));
  }

  async info(ref: string): Promise<Omit<VmInfo, 'state'> & { state: VmRunState }> {
    const info = await this.library.info(ref);
    return { ...info, state: this.stateOf(info) };
  }

  /** Starts (or resumes) a VM in this engine; resolves once its machine runs. */
  async start(ref: string, op: OperationOptions = {}): Promise<VmRunner> {
    const already = this.find(ref);
    if (already) throw new VmStateError(`VM "${already.name}" is already ${already.state}`);
    const hold = await this.library.holdForRunning(ref);
    const runner = new VmRunner(hold, this.parts);
    this.runners.set(runner.id, runner);
    runner.on('state', () => this.emit('changed'));
    void runner.finished.then(() => {
      this.runners.delete(runner.id);
      this.emit('changed');
    });
    this.emit('started', runner);
    this.emit('changed');
    await runner.start(op);
    return runner;
  }

  async snapshot(ref: string, name: string, options: { noRam?: boolean; description?: string }, op: OperationOptions = {}): Promise<SnapshotRecord> {
    const runner = this.find(ref);
    const record = runner ? await runner.snapshot(name, options, op) : await this.library.takeSnapshot(ref, name, options);
    this.emit('changed');
    return record;
  }

  async restoreSnapshot(ref: string, snapshot: string, options: { saveCurrentAs?: string }, op: OperationOptions = {}): Promise<SnapshotRecord> {
    const runner = this.find(ref);
    const record = runner ? await runner.restoreSnapshot(snapshot, options, op) : await this.library.restoreSnapshot(ref, snapshot, options);
    this.emit('changed');
    return record;
  }

  /**
   * Clones a VM. A running source is cloned from a snapshot's frozen images (immutable while it
   * runs): the one named, or for a linked clone one taken live (disks only) first.
   */
  async clone(ref: string, newName: string, options: CloneOptions, op: OperationOptions = {}): Promise<VmInfo> {
    const runner = this.find(ref);
    let info: VmInfo;
    if (runner) {
      let snapshot = options.snapshot;
      if (snapshot === undefined) {
        if (!options.linked) throw new VmStateError(`VM "${runner.name}" is running: a full clone copies one of its snapshots, or stop it first`);
        snapshot = (await runner.snapshot(`linked clone ${newName}`, { noRam: true }, op)).id;
      }
      info = await this.library.clone(ref, newName, { ...options, snapshot }, op, runner.folder);
    } else {
      info = await this.library.clone(ref, newName, options, op);
    }
    this.emit('changed');
    return info;
  }

  /** Saves every VM running here (the engine is going away; each resumes at its next start). */
  async saveAll(): Promise<void> {
    await Promise.allSettled(this.running.map(async (runner) => {
      try {
        await runner.save();
      } catch {
        if (!runner.ended) await runner.stop({ force: true });
      }
    }));
  }
}
