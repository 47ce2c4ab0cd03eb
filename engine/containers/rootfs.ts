// Unpacked image root filesystems, one per layer chain (the OCI ChainID of the image's top
// layer), shared read-only by every container of that image: the lower layer of a container's
// overlay, or the source of its copy when overlayfs is not available (not root).
//
// One flattened directory per chain rather than one overlay lower per layer: opaque
// directories would need trusted.* xattrs written by the unpacker, which Node cannot set.
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { digestHex } from './digest.ts';
import { LayerApplier } from './layer.ts';
import type { OperationOptions } from './operation.ts';
import type { ImageStore, ResolvedImage } from './store.ts';

/** ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
export function chainId(diffIds: string[]): string {
  let chain = '';
  for (const diff of diffIds) chain = chain ? `sha256:${createHash('sha256').update(`${chain} ${diff}`).digest('hex')}` : diff;
  return chain || 'empty';
}

export class RootfsCache {
  readonly dir: string;

  constructor(private readonly store: ImageStore, root: string) {
    this.dir = join(root, 'rootfs');
  }

  pathOf(chain: string): string {
    return join(this.dir, chain === 'empty' ? chain : digestHex(chain));
  }

  /** The unpacked root filesystem of an image, unpacking it on first use. */
  async prepare(image: ResolvedImage, options: OperationOptions = {}): Promise<{ chain: string; path: string }> {
    const chain = chainId(image.config.rootfs.diff_ids);
    const path = this.pathOf(chain);
    if (await fs.access(path).then(() => true, () => false)) return { chain, path };
    await fs.mkdir(this.dir, { recursive: true });
    const temp = this.store.tempPath('rootfs');
    await fs.mkdir(temp, { mode: 0o755 });
    try {
      const applier = new LayerApplier(temp);
      for (const [i, layer] of image.manifest.layers.entries()) {
        options.onProgress?.({ phase: 'unpack layer', item: layer.digest, done: i, total: image.manifest.layers.length });
        await applier.apply(this.store.blobPath(layer.digest), image.config.rootfs.diff_ids[i]!, `${image.name}: layer ${i}`, options.signal);
      }
      await fs.rename(temp, path).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err; // another caller unpacked it first
      });
    } finally {
      await fs.rm(temp, { recursive: true, force: true });
    }
    return { chain, path };
  }

  /** Deletes unpacked chains that neither a stored image nor a container uses. */
  async prune(inUse: Iterable<string>): Promise<void> {
    const keep = new Set([...inUse].map((c) => this.pathOf(c)));
    for (const image of await this.store.list()) keep.add(this.pathOf(chainId((await this.store.inspect(image.name)).config.rootfs.diff_ids)));
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      const path = join(this.dir, name);
      if (!keep.has(path)) await fs.rm(path, { recursive: true, force: true });
    }
  }
}
