// The one way Hangar writes a file that matters (vm.json, saved states, snapshot trees): the
// content goes to a temporary file in the same folder, is fsynced, renamed over the target, and
// then the folder is fsynced so that the rename itself survives a power cut. A reader sees the
// old file or the new one, never a mix; a crash leaves at most a temporary file, whose name
// (`.NAME.PID-N.tmp`) says which process wrote it, so that removeStaleTemporaries can sweep it.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isProcessAlive } from './process.ts';

export interface AtomicWriteOptions {
  /** Permission bits of the new file (default 0o644). */
  mode?: number;
}

let serial = 0;

/** A fresh temporary name beside `path`, owned by this process. */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${serial++}.tmp`);
}

const TEMPORARY = /^\..+\.(\d+)-\d+\.tmp$/;

/** Whether a file name is one temporaryPath makes (a write in progress, or a crashed one). */
export const isTemporaryName = (name: string): boolean => TEMPORARY.test(name);

/** fsync of a folder, so that names created, renamed or removed in it are durable. */
export async function syncFolder(folder: string): Promise<void> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(folder, 'r');
  } catch (err) {
    if (folderSyncUnsupported(err)) return;
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    if (!folderSyncUnsupported(err)) throw err;
  } finally {
    await handle.close();
  }
}

export function syncFolderSync(folder: string): void {
  let fd: number;
  try {
    fd = fs.openSync(folder, 'r');
  } catch (err) {
    if (folderSyncUnsupported(err)) return;
    throw err;
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    if (!folderSyncUnsupported(err)) throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync of a file written by other means (a stream) before it is renamed into place. */
export async function syncFile(path: string): Promise<void> {
  const handle = await fsp.open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Windows cannot open or fsync a folder; there the rename is as durable as the OS makes it. */
function folderSyncUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return process.platform === 'win32' && (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES' || code === 'EINVAL');
}

/**
 * Writes a file through `write`, which gets an open handle on the temporary file (for content too
 * large to hold in memory at once: it may write in pieces, at any position), then fsync, rename,
 * fsync of the folder. If `write` throws, the temporary file is removed and the target untouched.
 */
export async function writeAtomic(path: string, write: (file: fsp.FileHandle) => Promise<void>, options: AtomicWriteOptions = {}): Promise<void> {
  const temporary = temporaryPath(path);
  const file = await fsp.open(temporary, 'wx', options.mode ?? 0o644);
  try {
    try {
      await write(file);
      await file.sync();
    } finally {
      await file.close();
    }
    await fsp.rename(temporary, path);
  } catch (err) {
    await fsp.rm(temporary, { force: true });
    throw err;
  }
  await syncFolder(dirname(path));
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await writeAtomic(path, async (file) => { await file.writeFile(data); }, options);
}

export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const temporary = temporaryPath(path);
  const fd = fs.openSync(temporary, 'wx', options.mode ?? 0o644);
  try {
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    throw err;
  }
  syncFolderSync(dirname(path));
}

/** Removes the temporary files in `folder` left by processes that are gone (a crash mid-write). */
export async function removeStaleTemporaries(folder: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fsp.readdir(folder).catch(() => [] as string[])) {
    const owner = TEMPORARY.exec(name);
    if (!owner || isProcessAlive(Number(owner[1]))) continue;
    await fsp.rm(join(folder, name), { force: true });
    removed.push(name);
  }
  return removed;
}
