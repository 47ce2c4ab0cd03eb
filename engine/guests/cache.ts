// Where fetched and built guest files live, and the digest of what is on disk. Files are
// written through engine/common/atomic-file, so a crash never leaves a complete-looking one.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
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
