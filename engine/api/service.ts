// The in-process implementation of the service API. Transports open a session per client
// (a window, a WebSocket) and pass calls through untouched: the service checks the channel
// and the argument, runs the domain's handler, and turns every outcome into a Result value.
// Events go to every session, except terminal output, which goes to the session that opened
// the terminal.
import { channels, isChannel, type ApiEvent, type ArgsOf, type Channel, type Result, type ResultOf } from './channels.ts';
import { appHandlers } from './domains/app.ts';
import { containerHandlers } from './domains/containers.ts';
import { imageHandlers } from './domains/images.ts';
import { terminalHandlers } from './domains/terminals.ts';
import { vmHandlers } from './domains/vms.ts';
import { HangarError } from '../common/errors.ts';
import { toApiError } from './errors.ts';
import type { PreferencesStore } from './preferences-store.ts';
import { TerminalHub } from './terminals.ts';
import { LibraryWatcher, type WatchIntervals } from './watcher.ts';
import type { ContainersService, Progress } from '../containers/index.ts';
import { VmLibrary } from '../vm/library.ts';
import { machineParts } from '../vm/runner-machine.ts';
import type { VmRunner } from '../vm/runner.ts';
import { VmRunners } from '../vm/runners.ts';

export type EventListener = (event: ApiEvent) => void;

/** One client of the service. Its terminals close with it. */
export interface ApiSession {
  /** Any channel name and argument, as received from a transport: both are checked here. */
  call(channel: string, args: unknown): Promise<Result<unknown>>;
  close(): void;
}

/** Where transports get a session for each client: the service itself, or a relay to another engine's. */
export interface SessionSource {
  connect(onEvent: EventListener): ApiSession;
}

/** What a handler gets besides its argument. */
export interface CallContext {
  /** The calling session (terminals belong to it). */
  session: SessionHandle;
  /** Aborted by operations:cancel with the call's operation id. */
  signal: AbortSignal;
  /** Reports progress as operation:progress events (when the call has an operation id). */
  onProgress: (progress: Progress) => void;
}

export interface SessionHandle {
  emit: EventListener;
}

export type Handler<C extends Channel> = (args: ArgsOf<C>, context: CallContext) => Promise<ResultOf<C>>;
export type HandlersOf<D extends string> = { [C in Channel as C extends `${D}:${string}` ? C : never]: Handler<C> };
type Handlers = { [C in Channel]: Handler<C> };

export interface ServiceOptions {
  /** Prepared on first use: on a host that cannot run containers, their calls answer 'unsupported'. */
  containers: ContainersService;
  preferences: PreferencesStore;
  /** The VM library and the VMs this engine runs (default: the library in HANGAR_HOME). */
  vms?: VmRunners;
  version: string;
  watchIntervals?: WatchIntervals;
}

/** What the domain handlers share. */
export interface ServiceCore {
  readonly options: ServiceOptions;
  /** The containers service, prepared once (throws NotLinuxError elsewhere than Linux). */
  containers(): Promise<ContainersService>;
  readonly terminals: TerminalHub;
  readonly watcher: LibraryWatcher;
  readonly vms: VmRunners;
  /** An event for every session. */
  broadcast(event: ApiEvent): void;
  /** Aborts the long call with this operation id; false when there is none. */
  cancel(operation: string): boolean;
}

export class ApiService implements ServiceCore, SessionSource {
  readonly terminals: TerminalHub;
  readonly watcher: LibraryWatcher;
  readonly vms: VmRunners;
  private readonly sessions = new Set<SessionHandle>();
  private readonly operations = new Map<string, AbortController>();
  private readonly handlers: Handlers;
  private ready?: Promise<ContainersService>;

  constructor(readonly options: ServiceOptions) {
    this.terminals = new TerminalHub(async () => (await this.containers()).runtime);
    this.watcher = new LibraryWatcher({
      containers: () => this.containers(),
      vmUsage: () => Object.fromEntries(this.vms.running.flatMap((runner) => {
        const usage = runner.usage();
        return usage ? [[runner.id, usage]] : [];
      })),
    }, (e) => this.broadcast(e), options.watchIntervals);
    this.vms = options.vms ?? new VmRunners(new VmLibrary(), machineParts);
    this.handlers = {
      ...appHandlers(this),
      ...imageHandlers(this),
      ...containerHandlers(this),
      ...terminalHandlers(this),
      ...vmHandlers(this),
    };
    this.vms.on('started', (runner) => void this.terminals.adoptConsole(runner.id, Promise.resolve(vmConsole(runner))));
    this.vms.on('changed', () => this.vmsChanged());
  }

  private vmsChangePending = false;

  /** vms:changed with the whole list, once for the changes of one turn of the event loop. */
  private vmsChanged(): void {
    if (this.vmsChangePending) return;
    this.vmsChangePending = true;
    setImmediate(() => {
      this.vmsChangePending = false;
      void this.vms.list().then((vms) => this.broadcast({ type: 'vms:changed', vms }), () => undefined);
    });
  }

  containers(): Promise<ContainersService> {
    this.ready ??= this.options.containers.init();
    // A failed init (not Linux) is not remembered as a rejected promise for ever: asked again, tried again.
    return this.ready.catch((err) => {
      this.ready = undefined;
      throw err;
    });
  }

  broadcast(event: ApiEvent): void {
    for (const session of this.sessions) session.emit(event);
  }

  cancel(operation: string): boolean {
    const controller = this.operations.get(operation);
    controller?.abort();
    return controller !== undefined;
  }

  connect(onEvent: EventListener): ApiSession {
    const handle: SessionHandle = { emit: onEvent };
    this.sessions.add(handle);
    this.watcher.start();
    return {
      call: (channel, args) => this.dispatch(handle, channel, args),
      close: () => {
        if (!this.sessions.delete(handle)) return;
        this.terminals.closeAll(handle);
        if (this.sessions.size === 0) this.watcher.stop();
      },
    };
  }

  /**
   * Stops watching and lets go of consoles; running containers go on. VMs run in this process:
   * whoever ends it saves them first (vms.saveAll).
   */
  close(): void {
    this.watcher.stop();
    this.terminals.detachAll();
    for (const controller of this.operations.values()) controller.abort();
    this.sessions.clear();
  }

  private async dispatch(session: SessionHandle, channel: string, args: unknown): Promise<Result<unknown>> {
    let registered: string | undefined;
    try {
      if (!isChannel(channel)) throw new HangarError('unsupported', `unknown channel "${String(channel).slice(0, 100)}"`);
      const checked = channels[channel].args.check(args ?? {}, channel) as { operation?: string };
      const controller = new AbortController();
      const operation = checked.operation;
      if (operation !== undefined) {
        if (this.operations.has(operation)) throw new HangarError('conflict', `operation ${operation} is already running`);
        this.operations.set(operation, controller);
        registered = operation;
      }
      const context: CallContext = {
        session,
        signal: controller.signal,
        onProgress: (progress) => {
          if (operation !== undefined) this.broadcast({ type: 'operation:progress', operation, progress });
        },
      };
      const handler = this.handlers[channel] as (args: unknown, context: CallContext) => Promise<unknown>;
      return { ok: true, value: (await handler(checked, context)) ?? null };
    } catch (err) {
      return { ok: false, error: toApiError(err) };
    } finally {
      if (registered !== undefined) this.operations.delete(registered);
    }
  }
}

/** A running VM's serial console as the terminal hub sees it (a console has no size to set). */
function vmConsole(runner: VmRunner) {
  return {
    onData: (listener: (data: Uint8Array) => void) => void runner.on('console', listener),
    write: (data: string) => runner.sendConsole(Buffer.from(data, 'utf8')),
    resize: () => {},
    exited: runner.finished.then((end) => (end.reason === 'error' ? 1 : 0)),
    detach: () => {},
  };
}
