// Image layers: reading them (gzip or plain tar, diff_id checked), and applying them to a root
// directory the way the OCI image spec describes (whiteouts, opaque directories) without ever
// writing outside that root. Every path component is resolved inside the root, as openat would:
// a symlink is followed only while its target stays inside (absolute targets are taken relative
// to the root, as the container will see them); one that climbs out is refused.
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { DigestCounter } from './digest.ts';
import { DigestMismatchError, InvalidImageError, UnsafeLayerError } from './errors.ts';
import { readTar, writeTar, type TarEntry, type TarInput, type TarRecord } from './tar.ts';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MAX_SYMLINK_HOPS = 40;

/** Splits a tar entry path into components; absolute paths and `..` are refused. */
export function entryComponents(path: string, what: string): string[] {
  if (path.startsWith('/')) throw new UnsafeLayerError(`${what}: entry "${path}" has an absolute path`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeLayerError(`${what}: entry "${path}" has a ".." component`);
  if (path.includes('\0')) throw new UnsafeLayerError(`${what}: entry path contains a NUL byte`);
  return parts;
}

/** The decompressed tar stream of a layer blob (gzip recognised by its magic number). */
async function* layerBytes(blobPath: string): AsyncGenerator<Buffer> {
  const handle = await fs.open(blobPath, 'r');
  const magic = Buffer.alloc(2);
  await handle.read(magic, 0, 2, 0);
  await handle.close();
  const file = createReadStream(blobPath);
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  try {
    yield* (gzip ? file.pipe(createGunzip()) : file) as AsyncIterable<Buffer>;
  } catch (err) {
    throw new InvalidImageError(`layer ${blobPath.slice(-64)}: ${gzip ? 'corrupt gzip stream' : 'unreadable'} (${(err as Error).message})`);
  }
}

/**
 * Reads every entry of a layer, checking its paths, and finally that the uncompressed stream
 * has the diff_id the image config announces.
 */
export async function forEachLayerEntry(
  blobPath: string,
  diffId: string,
  what: string,
  visit: (record: TarRecord, components: string[]) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const counter = new DigestCounter();
  for await (const record of readTar(counter.pass(layerBytes(blobPath)))) {
    signal?.throwIfAborted();
    const components = entryComponents(record.entry.path, what);
    if (record.entry.type === 'hardlink') entryComponents(record.entry.linkname, `${what}: hard link ${record.entry.path}`);
    await visit(record, components);
  }
  const actual = counter.digest();
  if (actual !== diffId) throw new DigestMismatchError(`${what}: uncompressed content`, diffId, actual);
}

/** Checks a layer without unpacking it: safe paths, and the announced diff_id. */
export async function verifyLayer(blobPath: string, diffId: string, what: string, signal?: AbortSignal): Promise<void> {
  await forEachLayerEntry(blobPath, diffId, what, async () => {}, signal);
}

/**
 * The host path of a directory inside root, following symlinks only inside it and creating
 * missing directories: what openat with RESOLVE_IN_ROOT|RESOLVE_NO_XDEV-style checks would do.
 */
export async function resolveInside(root: string, components: string[], what: string, entryPath: string): Promise<string> {
  const queue = [...components];
  const resolved: string[] = [];
  let hops = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) throw new UnsafeLayerError(`${what}: entry "${entryPath}" leads outside the root through a symlink`);
      resolved.pop();
      continue;
    }
    const hostPath = join(root, ...resolved, part);
    let stat;
    try { stat = await fs.lstat(hostPath); } catch { stat = undefined; }
    if (!stat) {
      await fs.mkdir(hostPath, { mode: 0o755 });
      resolved.push(part);
    } else if (stat.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeLayerError(`${what}: entry "${entryPath}": too many levels of symlinks`);
      const target = await fs.readlink(hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/'));
    } else if (stat.isDirectory()) {
      resolved.push(part);
    } else {
      throw new UnsafeLayerError(`${what}: entry "${entryPath}": "${[...resolved, part].join('/')}" is not a directory`);
    }
  }
  return join(root, ...resolved);
}

const isRoot = () => process.getuid?.() === 0;

/** Applies layers in order to one directory. */
export class LayerApplier {
  private dirModes: { path: string; entry: TarEntry }[] = [];

  constructor(private readonly root: string) {}

  async apply(blobPath: string, diffId: string, what: string, signal?: AbortSignal): Promise<void> {
    const written = new Set<string>();
    this.dirModes = [];
    await forEachLayerEntry(blobPath, diffId, what, async ({ entry, body }, components) => {
      if (components.length === 0) return; // the root itself ("./")
      const name = components[components.length - 1]!;
      const parent = await resolveInside(this.root, components.slice(0, -1), what, entry.path);
      if (name === OPAQUE) return this.clearOpaque(parent, components.slice(0, -1).join('/'), written);
      if (name.startsWith(WHITEOUT_PREFIX)) {
        return fs.rm(join(parent, name.slice(WHITEOUT_PREFIX.length)), { recursive: true, force: true });
      }
      written.add(components.join('/'));
      await this.create(join(parent, name), entry, body, what);
    }, signal);
    // Directory modes last, deepest first, so a read-only directory does not block its own content.
    for (const { path, entry } of this.dirModes.reverse()) await this.setAttributes(path, entry);
  }

  /** An opaque directory hides everything lower layers put in it; this layer's own entries stay. */
  private async clearOpaque(dir: string, relative: string, written: Set<string>): Promise<void> {
    for (const child of await fs.readdir(dir)) {
      const rel = relative ? `${relative}/${child}` : child;
      const path = join(dir, child);
      if (!written.has(rel)) await fs.rm(path, { recursive: true, force: true });
      else if ((await fs.lstat(path)).isDirectory()) await this.clearOpaque(path, rel, written);
    }
  }

  private async create(path: string, entry: TarEntry, body: AsyncIterable<Buffer>, what: string): Promise<void> {
    const existing = await fs.lstat(path).catch(() => undefined);
    if (entry.type === 'dir') {
      if (!existing?.isDirectory()) {
        if (existing) await fs.rm(path, { recursive: true, force: true });
        await fs.mkdir(path, { mode: 0o755 });
      }
      this.dirModes.push({ path, entry });
      return;
    }
    if (existing) await fs.rm(path, { recursive: true, force: true });
    switch (entry.type) {
      case 'file': {
        // O_EXCL|O_NOFOLLOW: the path was just cleared; never write through anything at it.
        const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body) await handle.write(chunk);
        } finally {
          await handle.close();
        }
        return this.setAttributes(path, entry);
      }
      case 'symlink':
        await fs.symlink(entry.linkname, path);
        if (isRoot()) await fs.lchown(path, entry.uid, entry.gid);
        return;
      case 'hardlink': {
        const components = entryComponents(entry.linkname, what);
        const dir = await resolveInside(this.root, components.slice(0, -1), what, entry.linkname);
        const source = join(dir, components[components.length - 1] ?? '');
        const stat = await fs.lstat(source).catch(() => undefined);
        if (!stat || stat.isDirectory()) throw new UnsafeLayerError(`${what}: hard link "${entry.path}" points to "${entry.linkname}", which is not a file in the layer`);
        return fs.link(source, path);
      }
      default:
        // Device nodes and fifos are not created: runc gives every container its own /dev.
        return;
    }
  }

  private async setAttributes(path: string, entry: TarEntry): Promise<void> {
    if (isRoot()) await fs.lchown(path, entry.uid, entry.gid);
    await fs.chmod(path, entry.mode);
    await fs.utimes(path, entry.mtime, entry.mtime);
  }
}

/** A gzip layer as written: the blob's digest and size, and the diff_id of its tar. */
export interface LayerBlob { digest: string; diffId: string; size: number }

/** Writes entries as a gzip-compressed layer file, hashing both forms on the way. */
export async function writeGzipLayer(entries: AsyncIterable<TarInput> | Iterable<TarInput>, path: string): Promise<LayerBlob> {
  const diff = new DigestCounter();
  const blob = new DigestCounter();
  await pipeline(Readable.from(diff.pass(writeTar(entries))), createGzip(), (gz: AsyncIterable<Buffer>) => blob.pass(gz), createWriteStream(path));
  return { digest: blob.digest(), diffId: diff.digest(), size: blob.bytes };
}
