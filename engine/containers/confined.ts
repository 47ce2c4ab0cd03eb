// Paths inside a folder whose content an image controls (an unpacked root filesystem, a
// container's root). Every component is looked at with lstat, as openat(2) with RESOLVE_IN_ROOT
// would: a symlink is followed only while its target stays inside (absolute targets are taken
// relative to the root, as the container will see them); one that climbs out is refused. What
// the walk returns has no symlink in it, so a caller may use it with the ordinary calls as long
// as nothing else changes the folder meanwhile (the unpacker is its only writer).
import * as fs from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import { InvalidImageError, UnsafeLayerError } from './errors.ts';

const MAX_SYMLINK_HOPS = 40;

interface Walk {
  /** Missing directories are made (mode 0755); otherwise a missing component ends the walk. */
  create: boolean;
  /** Symlinks followed inside the root, or refused wherever they are. */
  symlinks: 'follow' | 'refuse';
  /** Every component must be a directory; otherwise the last may be anything but a symlink. */
  directory: boolean;
  what: string;
  path: string;
}

async function walk(root: string, components: string[], how: Walk): Promise<{ path: string; stat: Stats | undefined }> {
  const queue = [...components];
  const resolved: string[] = [];
  let stat: Stats | undefined;
  let hops = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) throw new UnsafeLayerError(`${how.what}: "${how.path}" leads outside the root through a symlink`);
      resolved.pop();
      stat = await fs.lstat(join(root, ...resolved));
      continue;
    }
    const hostPath = join(root, ...resolved, part);
    stat = await fs.lstat(hostPath).catch(() => undefined);
    if (!stat) {
      if (!how.create) return { path: hostPath, stat: undefined };
      await fs.mkdir(hostPath, { mode: 0o755 });
      stat = await fs.lstat(hostPath);
      resolved.push(part);
    } else if (stat.isSymbolicLink()) {
      if (how.symlinks === 'refuse') throw new UnsafeLayerError(`${how.what}: "${how.path}" goes through the symlink "${[...resolved, part].join('/')}"`);
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeLayerError(`${how.what}: "${how.path}": too many levels of symlinks`);
      const target = await fs.readlink(hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/'));
    } else if (stat.isDirectory() || (!how.directory && queue.length === 0)) {
      resolved.push(part);
    } else {
      throw new UnsafeLayerError(`${how.what}: "${how.path}": "${[...resolved, part].join('/')}" is not a directory`);
    }
  }
  return { path: join(root, ...resolved), stat };
}

/** The host path of a directory inside root, made if missing, following symlinks only inside it. */
export async function resolveInside(root: string, components: string[], what: string, path: string): Promise<string> {
  return (await walk(root, components, { create: true, symlinks: 'follow', directory: true, what, path })).path;
}

/**
 * The host path of an existing file inside root reached without any symlink (a hard link's
 * target is archived under its own path), or undefined when there is nothing there.
 */
export async function findPlainInside(root: string, components: string[], what: string, path: string): Promise<{ path: string; stat: Stats } | undefined> {
  const found = await walk(root, components, { create: false, symlinks: 'refuse', directory: false, what, path });
  return found.stat ? { path: found.path, stat: found.stat } : undefined;
}

/**
 * The content of a regular file of an image (its /etc/passwd, say), as the container would see
 * it: symlinks followed inside the root, a FIFO, device or directory refused (never opened for
 * reading, where a FIFO would block), at most maxBytes. undefined when the file does not exist.
 */
export async function readFileInside(root: string, path: string, maxBytes: number, what: string): Promise<Buffer | undefined> {
  const components = path.split('/');
  const found = await walk(root, components, { create: false, symlinks: 'follow', directory: false, what, path });
  if (!found.stat) return undefined;
  const notRegular = () => new InvalidImageError(`${what}: /${path} is not a regular file`);
  if (!found.stat.isFile()) throw notRegular();
  // O_NOFOLLOW|O_NONBLOCK: the walk saw a regular file there; should that change, never block or follow.
  const handle = await fs.open(found.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw notRegular();
    if (stat.size > maxBytes) throw new InvalidImageError(`${what}: /${path} is larger than ${maxBytes} bytes`);
    const data = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(data, 0, data.length, 0);
    return data.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
