// One engine owns a library (a HANGAR_HOME) at a time: it runs the library's VMs, and every other
// process — the CLI, a second app window — is its client over the API's WebSocket transport.
//
//   HANGAR_HOME/engine.lock   the owner's pid (engine/common/lock.ts: a dead owner's is taken over)
//   HANGAR_HOME/engine.json   0600: { pid, port, token } — the loopback port and the launch's token;
//                             only the user can read it, so only the user's processes connect
//
// The lock is taken first and the endpoint published once the server listens; a client that
// finds the lock held waits for the endpoint naming that pid (the owner is starting).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { acquireLock, lockHolder, type HeldLock } from '../common/lock.ts';
import { isProcessAlive } from '../common/process.ts';
import { ApiClient } from '../api/client.ts';
import type { ApiService } from '../api/service.ts';
import { connectWebSocket, type WebSocketTransport } from '../api/websocket-client.ts';
import { serve, type RunningServer } from '../api/websocket-server.ts';
import { WebSocket as NodeWebSocket } from 'ws';
import { HangarError } from '../common/errors.ts';

export interface Endpoint {
  pid: number;
  port: number;
  token: string;
}

const LOCK = 'engine.lock';
const ENDPOINT = 'engine.json';
/** How long a client waits for a starting owner to publish its endpoint. */
const ENDPOINT_WAIT_MS = 30_000;
const HANGAR = fileURLToPath(new URL('../cli/hangar.mjs', import.meta.url));

/** Another live process owns the library. */
export class EngineOwnedError extends HangarError {
  override name = 'EngineOwnedError';
  constructor(readonly pid: number) {
    super('conflict', `the library is owned by the engine in process ${pid}`, { details: { pid } });
  }
}

export interface Ownership {
  readonly endpoint: Endpoint;
  readonly server: RunningServer;
  /** Stops serving and lets go of the library (the caller has dealt with its VMs). */
  close(): Promise<void>;
}

/**
 * Makes this process the library's owner: takes engine.lock (EngineOwnedError when a live process
 * holds it), serves `service` on loopback and publishes the endpoint.
 */
export async function becomeOwner(home: string, service: ApiService): Promise<Ownership> {
  mkdirSync(home, { recursive: true });
  const lock: HeldLock = await acquireLock(join(home, LOCK), { purpose: 'engine', refuse: (holder) => new EngineOwnedError(holder.pid) });
  let server: RunningServer | undefined;
  try {
    server = await serve({ service, token: randomBytes(24).toString('base64url') });
    const endpoint: Endpoint = { pid: process.pid, port: server.port, token: server.token };
    await writeFileAtomic(join(home, ENDPOINT), `${JSON.stringify(endpoint)}\n`, { mode: 0o600 });
    const running = server;
    return {
      endpoint,
      server: running,
      close: async () => {
        await rm(join(home, ENDPOINT), { force: true });
        await running.close();
        await lock.release();
      },
    };
  } catch (err) {
    await server?.close();
    await lock.release();
    throw err;
  }
}

function readEndpoint(home: string): Endpoint | null {
  try {
    const value = JSON.parse(readFileSync(join(home, ENDPOINT), 'utf8')) as Partial<Endpoint>;
    if (Number.isInteger(value.pid) && Number.isInteger(value.port) && typeof value.token === 'string') return value as Endpoint;
  } catch {
    // Not there (yet), or being replaced.
  }
  return null;
}

/** The owner's endpoint, null when no live process owns the library. */
export async function findOwner(home: string, waitMs = ENDPOINT_WAIT_MS): Promise<Endpoint | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const holder = lockHolder(join(home, LOCK));
    if (!holder) return null;
    const endpoint = readEndpoint(home);
    if (endpoint?.pid === holder.pid) return endpoint;
    if (Date.now() > deadline) throw new Error(`the engine in process ${holder.pid} owns the library but serves no API (${join(home, ENDPOINT)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface OwnerConnection {
  client: ApiClient;
  endpoint: Endpoint;
  close(): void;
}

export async function connectTo(endpoint: Endpoint, onClose: (reason: string) => void = () => {}): Promise<OwnerConnection> {
  const url = `ws://127.0.0.1:${endpoint.port}/api?token=${encodeURIComponent(endpoint.token)}`;
  // Node 22 has the standard WebSocket; in Node 20 the `ws` package's has the same shape.
  const Socket = globalThis.WebSocket ?? (NodeWebSocket as unknown as typeof WebSocket);
  const transport: WebSocketTransport = await connectWebSocket(url, onClose, Socket);
  return { client: new ApiClient(transport), endpoint, close: () => transport.close() };
}

/** A client of the library's owner, or null when there is none. */
export async function connectOwner(home: string, onClose?: (reason: string) => void): Promise<OwnerConnection | null> {
  const endpoint = await findOwner(home);
  return endpoint && connectTo(endpoint, onClose);
}

/**
 * Starts `hangar daemon` detached (its output appended to HANGAR_HOME/daemon.log) and waits
 * until it owns the library; an owner that won a race meanwhile is as good.
 */
export async function startDaemon(home: string): Promise<Endpoint> {
  mkdirSync(home, { recursive: true });
  const logPath = join(home, 'daemon.log');
  const log = openSync(logPath, 'a');
  let exited = false;
  try {
    const child = spawn(process.execPath, [HANGAR, 'daemon'], { detached: true, stdio: ['ignore', log, log], env: { ...process.env, HANGAR_HOME: home } });
    child.on('exit', () => { exited = true; });
    child.unref();
    const deadline = Date.now() + ENDPOINT_WAIT_MS;
    while (Date.now() < deadline) {
      const endpoint = await findOwner(home);
      if (endpoint) return endpoint;
      if (exited || (child.pid !== undefined && !isProcessAlive(child.pid))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    closeSync(log);
  }
  const tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join('\n');
  throw new Error(`the engine daemon did not start (see ${logPath})${tail ? `:\n${tail}` : ''}`);
}
