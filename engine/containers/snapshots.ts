// Container snapshots: the writable layer captured at one moment, kept twice — as the overlay's
// raw upper directory (with its whiteout devices and opaque xattrs, for an exact restore) and
// as an OCI layer (whiteouts translated to .wh. entries, for committing as an image). A running
// container is frozen while its layer is captured, so the snapshot is consistent.
// Without overlayfs (copy mode) the "writable layer" is the whole root filesystem, and a
// committed snapshot is a one-layer image.
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ContainerError, NotFoundError, StateError } from './errors.ts';
import { runTool } from './host.ts';
import { writeGzipLayer, type LayerBlob } from './layer.ts';
import { MEDIA, type ImageConfig } from './oci.ts';
import type { ContainerRuntime } from './runtime.ts';
import type { ResolvedImage } from './store.ts';
import { readImageTar, type TarInput } from './tar.ts';

export interface SnapshotInfo {
  id: string;
  created: string;
  /** The OCI layer: digest of the gzip blob, diff_id of its tar, bytes stored. */
  layer: LayerBlob;
}

/** GNU tar keeps the overlay's own metadata: whiteout devices and trusted.overlay.* xattrs. */
const RAW_TAR_FLAGS = ['--xattrs', '--xattrs-include=trusted.overlay.*', '--numeric-owner'];
const OPAQUE_XATTR = 'trusted.overlay.opaque';
const SNAPSHOT_ID = /^[0-9a-f]{12}$/;

export class Snapshots {
  constructor(private readonly runtime: ContainerRuntime) {}

  private async container(ref: string) {
    const c = await this.runtime.locate(ref);
    const writable = c.rootfsMode === 'overlay' ? join(c.dir, 'upper') : join(c.dir, 'bundle', 'rootfs');
    return { ...c, writable, snapshotsDir: join(c.dir, 'snapshots') };
  }

  async take(ref: string): Promise<SnapshotInfo> {
    const c = await this.container(ref);
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
      const info: SnapshotInfo = { id, created: new Date().toISOString(), layer };
      // snapshot.json last: a snapshot without it was never finished and is not listed.
      await fs.writeFile(join(dir, 'snapshot.json'), JSON.stringify(info, null, 2));
      return info;
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async list(ref: string): Promise<SnapshotInfo[]> {
    const c = await this.container(ref);
    const out: SnapshotInfo[] = [];
    for (const id of await fs.readdir(c.snapshotsDir).catch(() => [] as string[])) {
      const text = await fs.readFile(join(c.snapshotsDir, id, 'snapshot.json'), 'utf8').catch(() => undefined);
      if (text) out.push(JSON.parse(text) as SnapshotInfo);
    }
    return out.sort((a, b) => a.created.localeCompare(b.created));
  }

  private async snapshotDir(c: { name: string; snapshotsDir: string }, snapshot: string): Promise<string> {
    const dir = join(c.snapshotsDir, snapshot);
    if (!SNAPSHOT_ID.test(snapshot) || !(await fs.access(join(dir, 'snapshot.json')).then(() => true, () => false))) {
      throw new NotFoundError(`container ${c.name} has no snapshot "${snapshot}" (see hangar ct snapshot ${c.name} list)`);
    }
    return dir;
  }

  /** Rolls the writable layer back to the snapshot; the container must not be running. */
  async restore(ref: string, snapshot: string): Promise<void> {
    const c = await this.container(ref);
    const dir = await this.snapshotDir(c, snapshot);
    if (c.status === 'running' || c.status === 'paused') throw new StateError(`container ${c.name} is ${c.status}: stop it before restoring a snapshot`);
    for (const sub of c.rootfsMode === 'overlay' ? [c.writable, join(c.dir, 'work')] : [c.writable]) {
      await fs.rm(sub, { recursive: true, force: true });
      await fs.mkdir(sub);
    }
    await runTool('tar', [...RAW_TAR_FLAGS, '-C', c.writable, '-xpf', join(dir, 'upper.tar')], { timeoutMs: 600_000 });
  }

  /** Publishes a snapshot as an image: the container's image with the snapshot's layer on top. */
  async commit(ref: string, snapshot: string, name: string): Promise<ResolvedImage> {
    const c = await this.container(ref);
    const dir = await this.snapshotDir(c, snapshot);
    const info = JSON.parse(await fs.readFile(join(dir, 'snapshot.json'), 'utf8')) as SnapshotInfo;
    const store = this.runtime.store;
    const base = await store.resolve(c.imageDigest).catch(() => {
      throw new ContainerError(`the image ${c.image} (${c.imageDigest}) this container was made from is no longer in the store`);
    });
    await store.ingest(createReadStream(join(dir, 'layer.tar.gz')) as AsyncIterable<Buffer>, { digest: info.layer.digest, size: info.layer.size, what: `snapshot ${snapshot}` });
    const keepBase = c.rootfsMode === 'overlay';
    const config: ImageConfig = {
      ...base.config,
      created: new Date().toISOString(),
      rootfs: { type: 'layers', diff_ids: [...(keepBase ? base.config.rootfs.diff_ids : []), info.layer.diffId] },
      history: [...(keepBase ? base.config.history ?? [] : []), { created: info.created, created_by: `hangar ct snapshot ${c.name} commit ${snapshot}` }],
    };
    const layer = { mediaType: MEDIA.layerGzip, digest: info.layer.digest, size: info.layer.size };
    return store.commitImage(name, config, [...(keepBase ? base.manifest.layers : []), layer]);
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
