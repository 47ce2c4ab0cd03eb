// Where fetched and built guest files live, and the two file operations the cache relies on:
// a digest of what is on disk, and writes that never leave a complete-looking partial file
// (write beside, then rename).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** $HANGAR_CACHE, else $XDG_CACHE_HOME/hangar, else ~/.cache/hangar. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HANGAR_CACHE) return env.HANGAR_CACHE;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'hangar');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The SHA256 of a file, or null when it does not exist. */
export async function sha256FileIfPresent(path: string): Promise<string | null> {
  try {
    return await sha256File(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A name beside `path` for its content while it is being written; never mistaken for it. */
export const partialPath = (path: string) => `${path}.${process.pid}.partial`;

export async function writeFileAtomic(path: string, data: Buffer | string, mode = 0o644): Promise<void> {
  const partial = partialPath(path);
  try {
    await writeFile(partial, data, { mode });
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
