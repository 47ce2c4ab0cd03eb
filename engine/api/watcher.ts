// State-change events for the library. Containers change state on their own (a process ends,
// the CLI pauses one), so while anyone listens the watcher polls the engine's view of them and
// emits an event only when something differs; a mutating API call pokes it for an immediate look.
// Resource use (containers' and the VMs this engine runs) is polled the same way.
import type { ContainersService, ContainerStats } from '../containers/index.ts';
import type { VmUsage } from '../vm/runner.ts';
import type { ApiEvent } from './channels.ts';

/** What the watcher looks at. */
export interface WatchedLibrary {
  /** The containers service (rejects where containers cannot run). */
  containers(): Promise<ContainersService>;
  /** Resource use of the VMs running in this engine, by VM id. */
  vmUsage(): Record<string, VmUsage>;
}

export interface WatchIntervals {
  stateMs: number;
  usageMs: number;
  imagesMs: number;
}

export const DEFAULT_INTERVALS: WatchIntervals = { stateMs: 1000, usageMs: 2000, imagesMs: 5000 };

export class LibraryWatcher {
  private timers: NodeJS.Timeout[] = [];
  private readonly last = { containers: '', images: '', usage: '', vmUsage: '' };
  private busy = new Set<string>();
  /** Someone listens (start was called more recently than stop). */
  private wanted = false;
  private isEnabled = true;

  constructor(
    private readonly library: WatchedLibrary,
    private readonly emit: (event: ApiEvent) => void,
    private readonly intervals: WatchIntervals = DEFAULT_INTERVALS,
  ) {}

  get running(): boolean {
    return this.timers.length > 0;
  }

  /**
   * Off while another engine watches the library for this one's clients (a relay: see
   * engine/daemon/engine-access.ts); back on, it resumes if anyone listens.
   */
  get enabled(): boolean {
    return this.isEnabled;
  }

  set enabled(on: boolean) {
    this.isEnabled = on;
    if (!on) this.clearTimers();
    else if (this.wanted) this.start();
  }

  start(): void {
    this.wanted = true;
    if (this.running || !this.isEnabled) return;
    this.timers = [
      setInterval(() => void this.once('containers', () => this.pollContainers()), this.intervals.stateMs),
      setInterval(() => void this.once('usage', () => this.pollUsage()), this.intervals.usageMs),
      setInterval(() => void this.once('vmUsage', async () => this.pollVmUsage()), this.intervals.usageMs),
      setInterval(() => void this.once('images', () => this.pollImages()), this.intervals.imagesMs),
    ];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    this.wanted = false;
    this.clearTimers();
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Looks now (after a call that changed something). */
  poke(): void {
    if (!this.running) return;
    void this.once('containers', () => this.pollContainers());
    void this.once('images', () => this.pollImages());
  }

  /** Polls of one kind never overlap; a failed poll (containers unsupported here) is silent. */
  private async once(kind: string, poll: () => Promise<void>): Promise<void> {
    if (this.busy.has(kind)) return;
    this.busy.add(kind);
    try {
      await poll();
    } catch {
      // the next poll tries again; calls report the error to whoever asks
    } finally {
      this.busy.delete(kind);
    }
  }

  /** Whether a value differs from the one last seen of its kind (and remembers it). */
  private differs(kind: keyof LibraryWatcher['last'], value: unknown): boolean {
    const text = JSON.stringify(value);
    if (text === this.last[kind]) return false;
    this.last[kind] = text;
    return true;
  }

  private async pollContainers(): Promise<void> {
    const containers = await (await this.library.containers()).runtime.list();
    if (this.differs('containers', containers)) this.emit({ type: 'containers:changed', containers });
  }

  private async pollImages(): Promise<void> {
    const images = await (await this.library.containers()).store.list();
    if (this.differs('images', images)) this.emit({ type: 'images:changed', images });
  }

  private async pollUsage(): Promise<void> {
    const service = await this.library.containers();
    const usage: Record<string, ContainerStats> = {};
    for (const c of await service.runtime.list()) {
      if (c.status !== 'running' && c.status !== 'paused') continue;
      // A container that ended between the two looks simply has no figures.
      const stats = await service.runtime.stats(c.id).catch(() => undefined);
      if (stats) usage[c.id] = stats;
    }
    // Nothing running: one empty set, then silence.
    if (this.differs('usage', usage)) this.emit({ type: 'containers:usage', usage });
  }

  private pollVmUsage(): void {
    const usage = this.library.vmUsage();
    if (this.differs('vmUsage', usage)) this.emit({ type: 'vms:usage', usage });
  }
}
