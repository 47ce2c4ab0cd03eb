// Image layers: reading them (gzip or plain tar, diff_id checked), and applying them to a root
// directory the way the OCI image spec describes (whiteouts, opaque directories) without ever
// reading or writing outside that root: every entry, whiteout and opaque marker is resolved
// inside it (confined.ts); owner, mode and times are set on the entry itself, never through a
// symlink; hard links only join files of the root reached without a symlink.
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { constants } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { DigestCounter } from './digest.ts';
import { findPlainInside, resolveInside } from './confined.ts';
import { ContainerError, DigestMismatchError, InvalidImageError, UnsafeLayerError } from './errors.ts';
import { readImageTar, writeTar, type TarEntry, type TarInput, type TarRecord } from './tar.ts';
import type { LayerBlob } from './types.ts';
export type { LayerBlob } from './types.ts';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Splits a tar entry path into components; absolute paths and `..` are refused. */
export function entryComponents(path: string, what: string): string[] {
  if (path.startsWith('/')) throw new UnsafeLayerError(`${what}: entry "${path}" has an absolute path`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeLayerError(`${what}: entry "${path}" has a ".." component`);
  if (path.includes('\0')) throw new UnsafeLayerError(`${what}: entry path contains a NUL byte`);
  return parts;
}

/** What a whiteout `.wh.NAME` removes: NAME, which must name something ("", "." and ".." do not). */
function whiteoutTarget(name: string, what: string, path: string): string {
  const target = name.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') throw new UnsafeLayerError(`${what}: whiteout "${path}" names no file of its directory`);
  return target;
}

/** The decompressed tar stream of a layer blob (gzip recognised by its magic number); the file is closed however reading ends. */
async function* layerBytes(blobPath: string): AsyncGenerator<Buffer> {
  const handle = await fs.open(blobPath, 'r');
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const file = createReadStream(blobPath);
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  try {
    yield* (gzip ? file.pipe(createGunzip()) : file) as AsyncIterable<Buffer>;
  } catch (err) {
    throw new InvalidImageError(`layer ${blobPath.slice(-64)}: ${gzip ? 'corrupt gzip stream' : 'unreadable'} (${(err as Error).message})`);
  } finally {
    // pipe() does not end its source when the gunzip side stops: a refused layer would keep its descriptor.
    file.destroy();
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
  for await (const record of readImageTar(counter.pass(layerBytes(blobPath)))) {
    signal?.throwIfAborted();
    const components = entryComponents(record.entry.path, what);
    if (record.entry.type === 'hardlink') entryComponents(record.entry.linkname, `${what}: hard link ${record.entry.path}`);
    const name = components[components.length - 1];
    if (name?.startsWith(WHITEOUT_PREFIX) && name !== OPAQUE) whiteoutTarget(name, what, record.entry.path);
    await visit(record, components);
  }
  const actual = counter.digest();
  if (actual !== diffId) throw new DigestMismatchError(`${what}: uncompressed content`, diffId, actual);
}

/** Checks a layer without unpacking it: safe paths, and the announced diff_id. */
export async function verifyLayer(blobPath: string, diffId: string, what: string, signal?: AbortSignal): Promise<void> {
  await forEachLayerEntry(blobPath, diffId, what, async () => {}, signal);
}

const isRoot = () => process.getuid?.() === 0;

/** Whether every component of path below root is still a real directory (none replaced by a symlink since). */
async function stillDirectory(root: string, path: string): Promise<boolean> {
  let at = root;
  for (const part of relative(root, path).split(sep)) {
    at = join(at, part);
    if (!(await fs.lstat(at).catch(() => undefined))?.isDirectory()) return false;
  }
  return true;
}

/** Applies layers in order to one directory. */
export class LayerApplier {
  private dirModes: { path: string; entry: TarEntry }[] = [];

  constructor(private readonly root: string) {}

  async apply(blobPath: string, diffId: string, what: string, signal?: AbortSignal): Promise<void> {
    // Host paths (symlink-free, see confined.ts) this layer wrote: an opaque marker keeps them.
    const written = new Set<string>();
    this.dirModes = [];
    await forEachLayerEntry(blobPath, diffId, what, async ({ entry, body }, components) => {
      if (components.length === 0) return; // the root itself ("./")
      try {
        const name = components[components.length - 1]!;
        const parent = await resolveInside(this.root, components.slice(0, -1), what, entry.path);
        if (name === OPAQUE) return await this.clearOpaque(parent, written);
        if (name.startsWith(WHITEOUT_PREFIX)) {
          return await fs.rm(join(parent, whiteoutTarget(name, what, entry.path)), { recursive: true, force: true });
        }
        written.add(join(parent, name));
        await this.create(join(parent, name), entry, body, what);
      } catch (err) {
        if (err instanceof ContainerError) throw err;
        // The host refused something the layer asks for (a name too long, say): a bad layer, not a crash.
        throw new InvalidImageError(`${what}: cannot unpack "${entry.path}": ${(err as Error).message}`);
      }
    }, signal);
    // Directory modes last, deepest first, so a read-only directory does not block its own content.
    // A directory the layer replaced afterwards (by a symlink, or under a parent that became one) is skipped.
    for (const { path, entry } of this.dirModes.reverse()) {
      if (!(await stillDirectory(this.root, path))) continue;
      if (isRoot()) await fs.lchown(path, entry.uid, entry.gid);
      await fs.chmod(path, entry.mode);
      await fs.lutimes(path, entry.mtime, entry.mtime);
    }
  }

  /** An opaque directory hides everything lower layers put in it; this layer's own entries stay. */
  private async clearOpaque(dir: string, written: Set<string>): Promise<void> {
    for (const child of await fs.readdir(dir)) {
      const path = join(dir, child);
      if (!written.has(path)) await fs.rm(path, { recursive: true, force: true });
      else if ((await fs.lstat(path)).isDirectory()) await this.clearOpaque(path, written);
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
        // Owner, mode and times go on the open file itself (fchown, fchmod, futimes).
        const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body) await handle.write(chunk);
          if (isRoot()) await handle.chown(entry.uid, entry.gid); // before chmod: chown clears set-id bits
          await handle.chmod(entry.mode);
          await handle.utimes(entry.mtime, entry.mtime);
        } finally {
          await handle.close();
        }
        return;
      }
      case 'symlink':
        await fs.symlink(entry.linkname, path);
        if (isRoot()) await fs.lchown(path, entry.uid, entry.gid);
        return fs.lutimes(path, entry.mtime, entry.mtime);
      case 'hardlink': {
        // The target is archived under its own path: one that goes through a symlink, or is one, is refused.
        const source = await findPlainInside(this.root, entryComponents(entry.linkname, what), what, entry.linkname);
        if (!source?.stat.isFile()) throw new UnsafeLayerError(`${what}: hard link "${entry.path}" points to "${entry.linkname}", which is not a file in the layer`);
        return fs.link(source.path, path);
      }
      default:
        // Device nodes and fifos are never created (root or not): runc gives every container its own /dev.
        return;
    }
  }
}

/** A gzip layer as written: the blob's digest and size, and the diff_id of its tar. */

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Whether a value read back from disk (snapshot.json, a build-cache entry) is a whole LayerBlob. */
export function isLayerBlob(value: unknown): value is LayerBlob {
  const layer = value as Partial<LayerBlob> | null | undefined;
  return DIGEST.test(String(layer?.digest)) && DIGEST.test(String(layer?.diffId)) && Number.isSafeInteger(layer?.size) && layer!.size! >= 0;
}

/** Writes entries as a gzip-compressed layer file, hashing both forms on the way. */
export async function writeGzipLayer(entries: AsyncIterable<TarInput> | Iterable<TarInput>, path: string): Promise<LayerBlob> {
  const diff = new DigestCounter();
  const blob = new DigestCounter();
  await pipeline(Readable.from(diff.pass(writeTar(entries))), createGzip(), (gz: AsyncIterable<Buffer>) => blob.pass(gz), createWriteStream(path));
  return { digest: blob.digest(), diffId: diff.digest(), size: blob.bytes };
}
