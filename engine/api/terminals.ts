// Terminals as byte streams. A console is a stream that outlives its views: a container created
// with a terminal and started through the API gives its pseudo-terminal to this hub, a VM run by
// this engine its serial console. The hub keeps the most recent output so a view opened later
// starts with the screen as it was; any number of views may show one console. A container whose
// terminal the hub does not hold (started by the CLI, by an engine that has since exited, or
// without a terminal) gets a shell started in it instead. Views belong to a session: output
// goes to that session only, and its views close with it.
import { randomUUID } from 'node:crypto';
import type { Terminal } from '../containers/index.ts';
import type { ContainerRuntime } from '../containers/runtime.ts';
import { HangarError } from '../common/errors.ts';

/** How much recent console output is kept for new views. */
const BACKLOG_BYTES = 256 << 10;
const SHELL = ['/bin/sh'];

export interface TerminalSink {
  data(terminal: string, data: Uint8Array): void;
  exit(terminal: string, exitCode: number): void;
}

/** What a console is to the hub: a container's terminal, or an adapter of a VM's serial console. */
export interface ConsoleStream {
  onData(listener: (data: Uint8Array) => void): void;
  /**
   * Types into the console. A VM's resolves once the bytes are on their way to the guest (they
   * may wait while it is paused, up to a cap past which they are refused): back-pressure.
   */
  write(data: string): void | Promise<void>;
  resize(cols: number, rows: number): void;
  /** Resolves with the exit status when the console's owner (process, machine) ends. */
  readonly exited: Promise<number>;
  /** Stops listening; the container or machine goes on. */
  detach(): void;
}

interface Console {
  terminal: ConsoleStream;
  backlog: Uint8Array[];
  backlogBytes: number;
  views: Set<View>;
}

interface View {
  id: string;
  owner: object;
  sink: TerminalSink;
  console?: Console;
  shell?: Terminal;
}

export class TerminalHub {
  /** Consoles by container or VM id. */
  private readonly consoles = new Map<string, Console>();
  private readonly views = new Map<string, View>();

  constructor(private readonly runtime: () => Promise<ContainerRuntime>) {}

  /** Consoles being started: a view asked for meanwhile waits for the console, not a shell. */
  private readonly starting = new Map<string, Promise<unknown>>();

  /**
   * Takes over a console for the lifetime of its owner: a container's terminal (from
   * startTerminal; the container shows as running before startTerminal returns, so views wait
   * for it here) or a VM's serial console.
   */
  async adoptConsole(id: string, starting: Promise<ConsoleStream | Terminal>): Promise<void> {
    this.starting.set(id, starting.catch(() => undefined));
    let terminal: ConsoleStream;
    try {
      terminal = await starting;
    } finally {
      this.starting.delete(id);
    }
    const console: Console = { terminal, backlog: [], backlogBytes: 0, views: new Set() };
    this.consoles.set(id, console);
    terminal.onData((chunk) => {
      console.backlog.push(chunk);
      console.backlogBytes += chunk.length;
      while (console.backlogBytes > BACKLOG_BYTES && console.backlog.length > 1) console.backlogBytes -= console.backlog.shift()!.length;
      for (const view of console.views) view.sink.data(view.id, chunk);
    });
    void terminal.exited.then((exitCode) => {
      this.consoles.delete(id);
      for (const view of console.views) this.end(view, exitCode);
    });
  }

  async open(owner: object, sink: TerminalSink, container: string, size: { cols: number; rows: number }) {
    const runtime = await this.runtime();
    let info = await runtime.inspect(container);
    const starting = this.starting.get(info.id);
    if (starting) {
      await starting;
      info = await runtime.inspect(container);
    }
    if (info.status !== 'running') {
      throw new HangarError('invalid-state', `container ${info.name} is ${info.status}: a terminal needs it running${info.status === 'paused' ? ' (resume it)' : ''}`);
    }
    if (this.consoles.has(info.id)) return this.openConsole(owner, sink, info.id, size);
    const view: View = { id: randomUUID(), owner, sink };
    const shell = await runtime.execTerminal(info.id, SHELL, size);
    view.shell = shell;
    shell.onData((chunk) => sink.data(view.id, chunk));
    void shell.exited.then((exitCode) => this.end(view, exitCode));
    this.views.set(view.id, view);
    return { terminal: view.id, kind: 'shell' as const, backlog: new Uint8Array() };
  }

  /** A view of an adopted console (a VM's, a container's), starting with its recent output. */
  async openConsole(owner: object, sink: TerminalSink, id: string, size: { cols: number; rows: number }) {
    await this.starting.get(id);
    const console = this.consoles.get(id);
    if (!console) throw new HangarError('not-found', 'no console: it is not running in this engine');
    const view: View = { id: randomUUID(), owner, sink, console };
    console.views.add(view);
    console.terminal.resize(size.cols, size.rows);
    this.views.set(view.id, view);
    return { terminal: view.id, kind: 'console' as const, backlog: new Uint8Array(Buffer.concat(console.backlog)) };
  }

  private view(owner: object, id: string): View {
    const view = this.views.get(id);
    if (!view || view.owner !== owner) throw new HangarError('not-found', `no open terminal ${id}`);
    return view;
  }

  /** Resolves once the console has taken `data` (see ConsoleStream.write). */
  async write(owner: object, id: string, data: string): Promise<void> {
    const view = this.view(owner, id);
    await (view.console?.terminal ?? view.shell!).write(data);
  }

  resize(owner: object, id: string, cols: number, rows: number): void {
    const view = this.view(owner, id);
    (view.console?.terminal ?? view.shell!).resize(cols, rows);
  }

  /** Closes a view: a shell ends, a console goes on (its container keeps running). */
  close(owner: object, id: string): void {
    this.drop(this.view(owner, id));
  }

  closeAll(owner: object): void {
    for (const view of this.views.values()) if (view.owner === owner) this.drop(view);
  }

  /** Lets go of every console (the containers keep running, their output still logged). */
  detachAll(): void {
    for (const view of this.views.values()) this.drop(view);
    for (const console of this.consoles.values()) console.terminal.detach();
    this.consoles.clear();
  }

  private drop(view: View): void {
    this.views.delete(view.id);
    view.console?.views.delete(view);
    view.shell?.detach();
  }

  private end(view: View, exitCode: number): void {
    if (!this.views.delete(view.id)) return;
    view.console?.views.delete(view);
    view.sink.exit(view.id, exitCode);
  }
}
