// Container snapshots: the writable layer captured at one moment, kept twice — as the overlay's
// raw upper directory (with its whiteout devices and opaque xattrs, for an exact restore) and
// as an OCI layer (whiteouts translated to .wh. entries, for committing as an image). A running
// container is frozen while its layer is captured, so the snapshot is consistent. Snapshots have
// ids (their folder) and names (unique per container); snapshot.json is written atomically, last.
// Without overlayfs (copy mode) the "writable layer" is the whole root filesystem, and a
// committed snapshot is a one-layer image.
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.ts';
import { withLock } from '../common/lock.ts';
import { ConflictError, ContainerError, NotFoundError } from './errors.ts';
import { runTool } from './host.ts';
import { isLayerBlob, writeGzipLayer, type LayerBlob } from './layer.ts';
import { MEDIA, type ImageConfig } from './oci.ts';
import type { ContainerInfo, ContainerRuntime } from './runtime.ts';
import type { ResolvedImage } from './store.ts';
import { readImageTar, type TarInput } from './tar.ts';
import type { SnapshotInfo } from './types.ts';
export type { SnapshotInfo } from './types.ts';

/** How a restore starts again a container that was running (the app hands a terminal to its hub). */
export interface RestoreOptions {
  start?: (id: string) => Promise<unknown>;
}

/** GNU tar keeps the overlay's own metadata: whiteout devices and trusted.overlay.* xattrs. */
const RAW_TAR_FLAGS = ['--xattrs', '--xattrs-include=trusted.overlay.*', '--numeric-owner'];
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const SNAPSHOT_ID = /^[0-9a-f]{12}$/;
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;

/** A snapshot.json as read back: undefined when it is not a whole SnapshotInfo (a crash mid-write, a damaged disk). */
function snapshotInfo(text: string, id: string): SnapshotInfo | undefined {
  let value: Partial<SnapshotInfo> | null;
  try {
    value = JSON.parse(text) as Partial<SnapshotInfo> | null;
  } catch {
    return undefined;
  }
  if (value?.id !== id || typeof value.created !== 'string' || !isLayerBlob(value.layer)) return undefined;
  // Snapshots taken before they had names are called by their id.
  return { id, name: typeof value.name === 'string' ? value.name : id, created: value.created, layer: value.layer };
}

export class Snapshots {
  constructor(private readonly runtime: ContainerRuntime) {}

  private async container(ref: string) {
    const c = await this.runtime.locate(ref);
    const writable = c.rootfsMode === 'overlay' ? join(c.dir, 'upper') : join(c.dir, 'bundle', 'rootfs');
    return { ...c, writable, snapshotsDir: join(c.dir, 'snapshots') };
  }

  /** Names and snapshot folders change under this lock, shared with other hangar processes. */
  private locked<T>(c: { dir: string }, purpose: string, section: () => Promise<T>): Promise<T> {
    return withLock(join(c.dir, 'snapshots.lock'), section, { purpose });
  }

  /** Captures the writable layer under a name (default: the first free "snapshot-N"). */
  async take(ref: string, name?: string): Promise<SnapshotInfo> {
    const c = await this.container(ref);
    if (name !== undefined) checkSnapshotName(name);
    return this.locked(c, 'snapshot take', async () => {
      const { snapshots } = await this.read(c);
      const taken = new Set(snapshots.map((s) => s.name));
      if (name !== undefined && taken.has(name)) throw new ConflictError(`container ${c.name} already has a snapshot named "${name}"`);
      let chosen = name;
      for (let n = snapshots.length + 1; chosen === undefined; n++) if (!taken.has(`snapshot-${n}`)) chosen = `snapshot-${n}`;
      const id = randomBytes(6).toString('hex');
      const dir = join(c.snapshotsDir, id);
      await fs.mkdir(dir, { recursive: true });
      const frozen = c.status === 'running';
      try {
        if (frozen) await this.runtime.pause(c.id);
        try {
          await runTool('tar', [...RAW_TAR_FLAGS, '-C', c.writable, '-cpf', join(dir, 'upper.tar'), '.'], { timeoutMs: 600_000 });
        } finally {
          if (frozen) await this.runtime.resume(c.id);
        }
        const layer = await ociLayerFrom(join(dir, 'upper.tar'), join(dir, 'layer.tar.gz'));
        const info: SnapshotInfo = { id, name: chosen, created: new Date().toISOString(), layer };
        // snapshot.json last, whole or not at all: a snapshot without it was never finished and is not listed.
        await writeFileAtomic(join(dir, 'snapshot.json'), JSON.stringify(info, null, 2));
        return info;
      } catch (err) {
        await fs.rm(dir, { recursive: true, force: true });
        throw err;
      }
    });
  }

  /** The snapshot folders and what they hold; `damaged` names those whose snapshot.json is unreadable. */
  private async read(c: { snapshotsDir: string }): Promise<{ snapshots: SnapshotInfo[]; damaged: string[] }> {
    const snapshots: SnapshotInfo[] = [];
    const damaged: string[] = [];
    for (const id of await fs.readdir(c.snapshotsDir).catch(() => [] as string[])) {
      if (!SNAPSHOT_ID.test(id)) continue;
      const text = await fs.readFile(join(c.snapshotsDir, id, 'snapshot.json'), 'utf8').catch(() => undefined);
      if (text === undefined) continue; // unfinished (or being taken)
      const info = snapshotInfo(text, id);
      if (info) snapshots.push(info);
      else damaged.push(id);
    }
    return { snapshots: snapshots.sort((a, b) => a.created.localeCompare(b.created)), damaged };
  }

  /**
   * The container's snapshots, oldest first. One whose snapshot.json is damaged is left out (and
   * left on disk as it is) and reported through onDamaged, so that the others stay usable.
   */
  async list(ref: string, options: { onDamaged?: (message: string) => void } = {}): Promise<SnapshotInfo[]> {
    const c = await this.container(ref);
    const { snapshots, damaged } = await this.read(c);
    for (const id of damaged) options.onDamaged?.(`container ${c.name}: snapshot ${id}: ${join(c.snapshotsDir, id, 'snapshot.json')} is damaged; it was left as it is and not listed`);
    return snapshots;
  }

  /** A snapshot by id or name, and its folder. */
  private async find(c: { name: string; snapshotsDir: string }, ref: string): Promise<{ info: SnapshotInfo; dir: string }> {
    const { snapshots } = await this.read(c);
    const info = snapshots.find((s) => s.id === ref) ?? snapshots.find((s) => s.name === ref);
    if (!info) throw new NotFoundError(`container ${c.name} has no snapshot "${ref}" (see hangar ct snapshot ${c.name} list)`);
    return { info, dir: join(c.snapshotsDir, info.id) };
  }

  /**
   * Rolls the writable layer back to the snapshot. A running (or paused) container is stopped,
   * rolled back, and started again from the snapshot, as a VM's restore does.
   */
  async restore(ref: string, snapshot: string, options: RestoreOptions = {}): Promise<ContainerInfo> {
    const c = await this.container(ref);
    const { dir } = await this.find(c, snapshot);
    const wasRunning = c.status === 'running' || c.status === 'paused';
    if (wasRunning) await this.runtime.stop(c.id);
    for (const sub of c.rootfsMode === 'overlay' ? [c.writable, join(c.dir, 'work')] : [c.writable]) {
      await fs.rm(sub, { recursive: true, force: true });
      await fs.mkdir(sub);
    }
    await runTool('tar', [...RAW_TAR_FLAGS, '-C', c.writable, '-xpf', join(dir, 'upper.tar')], { timeoutMs: 600_000 });
    if (wasRunning) await (options.start ?? ((id: string) => this.runtime.startDetached(id)))(c.id);
    return this.runtime.inspect(c.id);
  }

  /** Deletes a snapshot: its snapshot.json first (it is then no longer listed), then its files. */
  async remove(ref: string, snapshot: string): Promise<void> {
    const c = await this.container(ref);
    await this.locked(c, 'snapshot rm', async () => {
      const { dir } = await this.find(c, snapshot);
      await fs.rm(join(dir, 'snapshot.json'));
      await fs.rm(dir, { recursive: true, force: true });
    });
  }

  /** Publishes a snapshot as an image: the container's image with the snapshot's layer on top. */
  async commit(ref: string, snapshot: string, name: string): Promise<ResolvedImage> {
    const c = await this.container(ref);
    const { info, dir } = await this.find(c, snapshot);
    const store = this.runtime.store;
    const base = await store.resolve(c.imageDigest).catch(() => {
      throw new ContainerError(`the image ${c.image} (${c.imageDigest}) this container was made from is no longer in the store`);
    });
    await store.ingest(createReadStream(join(dir, 'layer.tar.gz')) as AsyncIterable<Buffer>, { digest: info.layer.digest, size: info.layer.size, what: `snapshot ${info.name}` });
    const keepBase = c.rootfsMode === 'overlay';
    const config: ImageConfig = {
      ...base.config,
      created: new Date().toISOString(),
      rootfs: { type: 'layers', diff_ids: [...(keepBase ? base.config.rootfs.diff_ids : []), info.layer.diffId] },
      history: [...(keepBase ? base.config.history ?? [] : []), { created: info.created, created_by: `hangar ct snapshot ${c.name} commit ${info.name}` }],
    };
    const layer = { mediaType: MEDIA.layerGzip, digest: info.layer.digest, size: info.layer.size };
    return store.commitImage(name, config, [...(keepBase ? base.manifest.layers : []), layer]);
  }
}

function checkSnapshotName(name: string): void {
  if (!SNAPSHOT_NAME.test(name) || SNAPSHOT_ID.test(name)) {
    throw new ContainerError(`snapshot name "${name}": use 1 to 80 letters, digits, _ . - starting with a letter or digit (and not 12 hex digits, which is how ids look)`);
  }
}

/** Translates the overlay's upper directory (as a raw tar) into an OCI layer. */
async function ociLayerFrom(rawTar: string, gzPath: string): Promise<LayerBlob> {
  async function* translate(): AsyncGenerator<TarInput> {
    for await (const { entry, body } of readImageTar(createReadStream(rawTar) as AsyncIterable<Buffer>)) {
      const path = entry.path.replace(/^\.\/?/, '');
      if (!path) continue;
      const { [OPAQUE_XATTR]: opaque, ...xattrs } = entry.xattrs;
      for (const key of Object.keys(xattrs)) if (key.startsWith('trusted.overlay.')) delete xattrs[key];
      const slash = path.lastIndexOf('/');
      if (entry.type === 'char' && entry.devmajor === 0 && entry.devminor === 0) {
        yield { entry: { path: `${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`, type: 'file', mtime: entry.mtime }, body: Buffer.alloc(0) };
        continue;
      }
      const linkname = entry.type === 'hardlink' ? entry.linkname.replace(/^\.\//, '') : entry.linkname;
      yield { entry: { ...entry, path, linkname, xattrs }, body };
      if (entry.type === 'dir' && opaque === 'y') yield { entry: { path: `${path}/.wh..wh..opq`, type: 'file', mtime: entry.mtime }, body: Buffer.alloc(0) };
    }
  }
  return writeGzipLayer(translate(), gzPath);
}
