// How the desktop app and `hangar serve` reach the engine. The first engine to start owns the
// library: it runs the VMs and serves the API on loopback (owner.ts). One that starts while
// another owns the library relays its clients' calls to that owner over the WebSocket transport
// (a connection per client, so terminals stay the client's own), and answers only its own
// preferences itself. When the owner goes away, the next call finds the new owner or makes this
// process the owner, as the CLI's `vm start` does.
import type { ApiEvent, Result } from '../api/channels.ts';
import type { ApiService, ApiSession, EventListener, SessionSource } from '../api/service.ts';
import { shutDown } from './daemon.ts';
import { becomeOwner, connectTo, EngineOwnedError, findOwner, type Endpoint, type OwnerConnection, type Ownership } from './owner.ts';

/** Channels a relay answers itself: preferences belong to the app or server that holds them. */
const isLocal = (channel: string) => channel.startsWith('preferences:');

/** Sessions for the app's windows or the server's browser tabs (connect), wherever the VMs run. */
export interface EngineAccess extends SessionSource {
  /** Whether this process runs the library's VMs (else it relays to the owner). */
  readonly owns: boolean;
  /** The process that runs the library's VMs (this one when it owns the library). */
  readonly ownerPid: number;
  /** Saves the VMs this process runs and lets go of the library; relayed clients are cut off. */
  close(): Promise<void>;
}

/** Owns the library at `home` with `service` when no other engine does, else relays to the owner. */
export async function openEngine(home: string, service: ApiService): Promise<EngineAccess> {
  const access = new Access(home, service);
  await access.settle();
  return access;
}

class Access implements EngineAccess {
  private ownership?: Ownership;
  private owner?: Endpoint;
  private settling?: Promise<void>;
  private readonly relays = new Set<Relay>();
  private closed = false;

  constructor(private readonly home: string, readonly service: ApiService) {}

  get owns(): boolean {
    return this.ownership !== undefined;
  }

  get ownerPid(): number {
    return this.ownership?.endpoint.pid ?? this.owner?.pid ?? process.pid;
  }

  /** Finds who owns the library, taking it when nobody does; one search at a time. */
  settle(): Promise<void> {
    this.settling ??= this.search().finally(() => { this.settling = undefined; });
    return this.settling;
  }

  private async search(): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('the engine is closing');
      if (this.ownership) return;
      const endpoint = await findOwner(this.home);
      if (endpoint) {
        this.owner = endpoint;
        this.service.watcher.enabled = false; // the owner watches the library for its clients
        return;
      }
      try {
        this.ownership = await becomeOwner(this.home, this.service);
        this.owner = undefined;
        this.service.watcher.enabled = true;
        return;
      } catch (err) {
        if (!(err instanceof EngineOwnedError)) throw err; // else another engine won the race: ask it
      }
    }
  }

  /** A connection to the owner, or null once this process owns the library. */
  async ownerConnection(onClose: () => void): Promise<OwnerConnection | null> {
    for (let attempt = 0; ; attempt++) {
      await this.settle();
      if (this.ownership || !this.owner) return null;
      try {
        return await connectTo(this.owner, onClose);
      } catch (err) {
        // The owner ended between reading its endpoint and connecting: look again, once.
        if (attempt > 0) throw err;
        this.owner = undefined;
      }
    }
  }

  connect(onEvent: EventListener): ApiSession {
    const relay = new Relay(this, onEvent);
    this.relays.add(relay);
    return {
      call: (channel, args) => relay.call(channel, args),
      close: () => {
        this.relays.delete(relay);
        relay.close();
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const relay of this.relays) relay.close();
    this.relays.clear();
    await this.settling?.catch(() => undefined);
    if (this.ownership) await shutDown(this.service, this.ownership);
    else this.service.close();
  }
}

/**
 * One client's session. Its local session always exists (preferences, and everything while this
 * process owns the library); its connection to an owner is opened on first need and again after
 * the owner went away.
 */
class Relay {
  private readonly local: ApiSession;
  private remote?: Promise<OwnerConnection | null>;
  private unsubscribe?: () => void;
  private closed = false;

  constructor(private readonly access: Access, private readonly onEvent: EventListener) {
    // While relaying, only preferences:changed comes from here; the owner sends the rest.
    this.local = access.service.connect((event: ApiEvent) => {
      if (access.owns || event.type === 'preferences:changed') onEvent(event);
    });
    void this.connection().catch(() => undefined); // events start flowing before the first call
  }

  async call(channel: string, args: unknown): Promise<Result<unknown>> {
    if (isLocal(channel)) return this.local.call(channel, args);
    let connection: OwnerConnection | null;
    try {
      connection = await this.connection();
    } catch (err) {
      return { ok: false, error: { code: 'failed', message: `no engine answers for this library: ${(err as Error).message}` } };
    }
    return connection ? connection.client.call(channel as never, args as never) : this.local.call(channel, args);
  }

  private connection(): Promise<OwnerConnection | null> {
    this.remote ??= this.access.ownerConnection(() => this.dropConnection()).then((connection) => {
      this.unsubscribe = connection?.client.subscribe(this.onEvent);
      return connection;
    }, (err: unknown) => {
      this.remote = undefined;
      throw err;
    });
    return this.remote;
  }

  /** The owner went away: look for the new one (or take the library), so events flow again. */
  private dropConnection(): void {
    this.forget();
    if (!this.closed) void this.connection().catch(() => undefined);
  }

  private forget(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.remote = undefined;
  }

  close(): void {
    this.closed = true;
    const remote = this.remote;
    this.forget();
    void remote?.then((connection) => connection?.close(), () => undefined);
    this.local.close();
  }
}
