// Lock files shared by hangar processes: read-modify-write sections (two scripts pulling at once
// must not lose each other's index.json entry; two `vm create` must not take one name), and
// long holds (a running VM holds its folder's lock for as long as it runs).
//
// The file holds its owner's pid, the time that process started and its purpose as JSON. It is
// created with its content in one step (written to a temporary file, then hard-linked to the
// lock's name, which fails if the name exists), so a reader never sees a half-written lock. A
// lock whose owner is gone is taken over — gone meaning no process has the pid, or the one that
// has it started at another time (the pid was reused after a crash or a reboot): the stale file
// is renamed away and only removed if it is still the stale one that was judged.
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { temporaryPath } from './atomic-file.ts';
import { isProcessAlive, processStartTime } from './process.ts';
import { HangarError } from './errors.ts';

const RETRY_MS = 10;
const TIMEOUT_MS = 30_000;

export interface LockHolder {
  pid: number;
  /** When the holder started (processStartTime); absent in locks of older hangars. */
  started?: string;
  /** What the holder is doing ("running", "snapshot take", ...), for messages. */
  purpose: string;
}

export interface LockOptions {
  purpose?: string;
  timeoutMs?: number;
  /**
   * Called while a live process holds the lock. Returning an error refuses at once instead of
   * waiting (a VM that is running will not stop because someone waits for its lock).
   */
  refuse?: (holder: LockHolder) => Error | undefined;
}

/** The lock stayed held for longer than the caller was prepared to wait. */
export class LockTimeoutError extends HangarError {
  override name = 'LockTimeoutError';
  constructor(message: string) {
    super('invalid-state', message);
  }
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number') {
      return { pid: value.pid, ...(typeof value.started === 'string' ? { started: value.started } : {}), purpose: String(value.purpose ?? '') };
    }
  } catch {
    // An older hangar wrote the bare pid.
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { pid, purpose: '' } : null;
}

/** The live process holding the lock at `path`, or null when it is free or its owner is gone. */
export function lockHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const holder = parseHolder(text);
  return holder && isHolderAlive(holder) ? holder : null;
}

/** The holder's process still runs: its pid is alive and, where both are known, started when the lock says. */
function isHolderAlive(holder: LockHolder): boolean {
  if (!isProcessAlive(holder.pid)) return false;
  if (holder.started === undefined) return true;
  const started = processStartTime(holder.pid);
  return started === null || started === holder.started;
}

let ownStart: string | null | undefined;

/** This process's lock content. */
function ownContent(purpose: string): string {
  if (ownStart === undefined) ownStart = processStartTime(process.pid);
  return JSON.stringify({ pid: process.pid, ...(ownStart !== null ? { started: ownStart } : {}), purpose });
}

async function tryCreate(path: string, content: string): Promise<boolean> {
  const temporary = temporaryPath(path);
  await fs.writeFile(temporary, content);
  try {
    await fs.link(temporary, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(temporary, { force: true });
  }
}

/** Removes a lock left by a dead process, unless it changed hands since it was read as `stale`. */
async function takeOver(path: string, stale: string): Promise<void> {
  const aside = temporaryPath(path);
  try {
    await fs.rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else removed it
    throw err;
  }
  if ((await fs.readFile(aside, 'utf8').catch(() => stale)) !== stale) {
    // A live owner's lock replaced the stale one between the read and the rename: put it back.
    await fs.link(aside, path).catch(() => {});
  }
  await fs.rm(aside, { force: true });
}

export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const content = ownContent(options.purpose ?? '');
  const timeout = options.timeoutMs ?? TIMEOUT_MS;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await tryCreate(path, content)) break;
    const text = await fs.readFile(path, 'utf8').catch(() => null);
    if (text === null) continue; // released between our attempt and the read
    const holder = parseHolder(text);
    if (!holder || !isHolderAlive(holder)) {
      await takeOver(path, text);
      continue;
    }
    const refusal = options.refuse?.(holder);
    if (refusal) throw refusal;
    if (Date.now() > deadline) {
      throw new LockTimeoutError(`${path} is held by process ${holder.pid}${holder.purpose ? ` (${holder.purpose})` : ''} for more than ${timeout / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await fs.rm(path, { force: true });
    },
  };
}

export async function withLock<T>(path: string, section: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await section();
  } finally {
    await lock.release();
  }
}
