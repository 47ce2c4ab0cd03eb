// A lock file for read-modify-write sections shared by several hangar processes (two scripts
// pulling at once must not lose each other's index.json entry). The file holds the owner's pid;
// a lock whose owner is gone is taken over.
import * as fs from 'node:fs/promises';
import { ContainerError } from './errors.ts';

const RETRY_MS = 10;
const TIMEOUT_MS = 30_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function withLock<T>(path: string, section: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    try {
      await fs.writeFile(path, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await fs.readFile(path, 'utf8').catch(() => ''));
      if (owner > 0 && !alive(owner)) {
        await fs.rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ContainerError(`${path} is held by process ${owner || '(unknown)'} for more than ${TIMEOUT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  try {
    return await section();
  } finally {
    await fs.rm(path, { force: true });
  }
}
