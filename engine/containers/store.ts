// The image store: an OCI image layout (oci-layout, index.json, blobs/sha256/…) that skopeo and
// umoci read as is (`oci:ROOT/images:NAME:TAG`). Images are named by the ref.name annotation of
// their entry in index.json. Blobs come in through one door (ingest) that checks their digest
// before they take their name; blobs that no image references any more are deleted, so layers
// shared by several images live until the last of them goes.
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { checkDigest, digestHex, DigestCounter } from './digest.ts';
import { ConflictError, DigestMismatchError, InvalidImageError, NotFoundError } from './errors.ts';
import { verifyLayer } from './layer.ts';
import { syncFile, syncFolder, writeFileAtomic } from '../common/atomic-file.ts';
import { withLock } from '../common/lock.ts';
import {
  checkConfig, checkIndex, checkManifest, INDEX_TYPES, MEDIA, parseJson, REF_NAME,
  type Descriptor, type ImageConfig, type ImageIndex, type Manifest,
} from './oci.ts';
import type { OperationOptions } from './operation.ts';
import { normalizeName, parseReference } from './reference.ts';
import type { ImageSummary, ImageDetails } from './types.ts';
export type { ImageSummary, ImageDetails } from './types.ts';

/** An image as stored: its manifest and config, parsed and checked. */
export interface ResolvedImage {
  name: string;
  descriptor: Descriptor;
  manifest: Manifest;
  config: ImageConfig;
}

export class ImageStore {
  /** The OCI layout directory. */
  readonly layout: string;
  private readonly tmp: string;

  /** @param root the containers root; the layout lives in ROOT/images, partial files in ROOT/tmp. */
  constructor(readonly root: string) {
    this.layout = join(root, 'images');
    this.tmp = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await fs.mkdir(join(this.layout, 'blobs', 'sha256'), { recursive: true });
    await fs.mkdir(this.tmp, { recursive: true });
    const marker = join(this.layout, 'oci-layout');
    if (!(await exists(marker))) await fs.writeFile(marker, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (!(await exists(join(this.layout, 'index.json')))) await this.writeIndex({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [] });
  }

  /** A private scratch path inside the store (same file system as the blobs, so rename works). */
  tempPath(label: string): string {
    return join(this.tmp, `${label}-${randomUUID()}`);
  }

  /** Where an interrupted download of a blob waits to be resumed. */
  partialPath(digest: string): string {
    return join(this.tmp, `${digestHex(checkDigest(digest, 'blob'))}.partial`);
  }

  blobPath(digest: string): string {
    return join(this.layout, 'blobs', 'sha256', digestHex(checkDigest(digest, 'blob')));
  }

  hasBlob(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  async readBlob(digest: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.blobPath(digest));
    } catch {
      throw new NotFoundError(`blob ${digest} is not in the store`);
    }
  }

  /**
   * Writes a blob from a stream. With an expected digest (and size), the content must match
   * it or nothing is kept; without one, the computed digest names the blob.
   */
  async ingest(
    source: AsyncIterable<Buffer> | Buffer,
    expected: { digest?: string; size?: number; what: string },
    options: OperationOptions = {},
  ): Promise<{ digest: string; size: number }> {
    const temp = this.tempPath('blob');
    const counter = new DigestCounter();
    const input = Buffer.isBuffer(source) ? [source] : source;
    try {
      const reporter = async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          options.signal?.throwIfAborted();
          yield chunk;
          options.onProgress?.({ phase: 'write', item: expected.what, done: counter.bytes, total: expected.size });
        }
      };
      await pipeline(Readable.from(reporter(counter.pass(Readable.from(input)))), createWriteStream(temp));
      return await this.adopt(temp, counter.digest(), counter.bytes, expected);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  /** Moves a finished temporary file into the blobs after checking its digest (resumed downloads). */
  async ingestFile(path: string, expected: { digest: string; size?: number; what: string }): Promise<{ digest: string; size: number }> {
    const counter = new DigestCounter();
    for await (const chunk of createReadStream(path)) counter.update(chunk as Buffer);
    try {
      return await this.adopt(path, counter.digest(), counter.bytes, expected);
    } finally {
      await fs.rm(path, { force: true });
    }
  }

  private async adopt(temp: string, digest: string, size: number, expected: { digest?: string; size?: number; what: string }) {
    if (expected.digest !== undefined && digest !== expected.digest) throw new DigestMismatchError(expected.what, expected.digest, digest);
    if (expected.size !== undefined && size !== expected.size) {
      throw new InvalidImageError(`${expected.what}: size mismatch (expected ${expected.size} bytes, got ${size})`);
    }
    const target = this.blobPath(digest);
    if (!(await exists(target))) {
      await syncFile(temp); // a blob is named by its digest: never let a power cut leave it short
      await fs.rename(temp, target);
      await syncFolder(dirname(target));
    }
    return { digest, size };
  }

  async putJson(value: unknown, mediaType: string): Promise<Descriptor> {
    const data = Buffer.from(JSON.stringify(value));
    const { digest, size } = await this.ingest(data, { what: mediaType });
    return { mediaType, digest, size };
  }

  async readIndex(): Promise<ImageIndex> {
    return checkIndex(parseJson(await fs.readFile(join(this.layout, 'index.json')), 'index.json'), 'index.json');
  }

  /** Changes the image list under a lock shared by every hangar process using this store. */
  private async updateIndex(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await withLock(join(this.root, 'index.lock'), async () => {
      const index = await this.readIndex();
      await this.writeIndex({ ...index, manifests: change(index.manifests) });
    });
  }

  private async writeIndex(index: ImageIndex): Promise<void> {
    await writeFileAtomic(join(this.layout, 'index.json'), JSON.stringify(index, null, 2));
  }

  /** Reads and checks an image's manifest and config from stored blobs. */
  async load(name: string, descriptor: Descriptor): Promise<ResolvedImage> {
    const manifestData = await this.readBlob(descriptor.digest).catch(() => {
      throw new InvalidImageError(`${name}: manifest ${descriptor.digest} is missing from the store`);
    });
    const manifest = checkManifest(parseJson(manifestData, `${name}: manifest`), `${name}: manifest`);
    if (!(await this.hasBlob(manifest.config.digest))) throw new InvalidImageError(`${name}: the config blob ${manifest.config.digest} is missing`);
    const config = checkConfig(parseJson(await this.readBlob(manifest.config.digest), `${name}: config`), manifest, `${name}: config`);
    return { name, descriptor, manifest, config };
  }

  /** Finds an image by NAME[:TAG], or NAME@DIGEST, or a manifest digest (or a unique prefix of its hex). */
  async resolve(text: string): Promise<ResolvedImage> {
    const index = await this.readIndex();
    const byName = (name: string) => index.manifests.find((d) => d.annotations?.[REF_NAME] === name);
    let found: Descriptor | undefined;
    let name = text;
    const hex = text.replace(/^sha256:/, '');
    if (/^[0-9a-f]{12,64}$/.test(hex)) {
      const matches = index.manifests.filter((d) => digestHex(d.digest).startsWith(hex));
      if (new Set(matches.map((d) => d.digest)).size > 1) throw new ConflictError(`${text}: ambiguous, names more than one image`);
      found = matches[0];
    }
    if (!found) {
      name = normalizeName(text);
      found = byName(name);
      const ref = parseReference(text);
      if (!found && ref.digest) found = index.manifests.find((d) => d.digest === ref.digest);
    }
    if (!found) throw new NotFoundError(`image ${text} is not in the store (see hangar image ls)`);
    return this.load(found.annotations?.[REF_NAME] ?? name, found);
  }

  async list(): Promise<ImageSummary[]> {
    const index = await this.readIndex();
    const out: ImageSummary[] = [];
    for (const d of index.manifests) {
      const name = d.annotations?.[REF_NAME];
      if (!name || INDEX_TYPES.includes(d.mediaType)) continue;
      out.push(summarize(await this.load(name, d)));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async inspect(text: string): Promise<ImageDetails> {
    const image = await this.resolve(text);
    return { ...summarize(image), manifest: image.manifest, config: image.config };
  }

  /**
   * Names a stored manifest (replacing what the name pointed to before). Every blob must be
   * present and every layer safe and true to its diff_id: this is the last check before an
   * image becomes visible.
   */
  async setName(name: string, descriptor: Descriptor, options: OperationOptions = {}): Promise<ResolvedImage> {
    const normalized = normalizeName(name);
    const image = await this.load(normalized, descriptor);
    for (const [i, layer] of image.manifest.layers.entries()) {
      const what = `${normalized}: layer ${i} (${layer.digest})`;
      if (!(await this.hasBlob(layer.digest))) throw new InvalidImageError(`${what} is missing`);
      options.onProgress?.({ phase: 'verify layer', item: layer.digest, done: i, total: image.manifest.layers.length });
      await verifyLayer(this.blobPath(layer.digest), image.config.rootfs.diff_ids[i]!, what, options.signal);
    }
    await this.updateIndex((manifests) => [
      ...manifests.filter((d) => d.annotations?.[REF_NAME] !== normalized),
      { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, annotations: { [REF_NAME]: normalized } },
    ]);
    return { ...image, name: normalized };
  }

  /** Stores a manifest for config and layers already in the store, and names it. */
  async commitImage(name: string, config: ImageConfig, layers: Descriptor[], options: OperationOptions = {}): Promise<ResolvedImage> {
    const configDescriptor = await this.putJson(config, MEDIA.config);
    const manifest: Manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: configDescriptor, layers };
    return this.setName(name, await this.putJson(manifest, MEDIA.manifest), options);
  }

  async tag(source: string, target: string): Promise<ResolvedImage> {
    const image = await this.resolve(source);
    return this.setName(target, image.descriptor);
  }

  async remove(text: string): Promise<void> {
    const image = await this.resolve(text);
    await this.updateIndex((manifests) => manifests.filter((d) => d.annotations?.[REF_NAME] !== image.name));
    await this.collectGarbage();
  }

  /** Digests every named image references (manifests, configs, layers, nested indexes). */
  async referencedBlobs(): Promise<Set<string>> {
    const live = new Set<string>();
    const visit = async (d: Descriptor): Promise<void> => {
      if (live.has(d.digest)) return;
      live.add(d.digest);
      const data = await this.readBlob(d.digest).catch(() => undefined);
      if (!data) return;
      if (INDEX_TYPES.includes(d.mediaType)) {
        for (const child of checkIndex(parseJson(data, d.digest), d.digest).manifests) await visit(child);
      } else if (d.mediaType === MEDIA.manifest || d.mediaType === MEDIA.dockerManifest) {
        const manifest = checkManifest(parseJson(data, d.digest), d.digest);
        live.add(manifest.config.digest);
        for (const layer of manifest.layers) live.add(layer.digest);
      }
    };
    for (const d of (await this.readIndex()).manifests) await visit(d);
    return live;
  }

  /**
   * Deletes blobs no image references: the reference count of a shared layer is the images
   * naming it. With candidates (the blobs one import or pull brought in), only those are
   * considered, so blobs another operation is bringing in at the same time are left alone.
   */
  async collectGarbage(candidates?: Iterable<string>): Promise<string[]> {
    const live = await this.referencedBlobs();
    const removed: string[] = [];
    const dir = join(this.layout, 'blobs', 'sha256');
    const considered = candidates ? [...new Set(candidates)].map(digestHex) : await fs.readdir(dir);
    for (const hex of considered) {
      const digest = `sha256:${hex}`;
      if (live.has(digest)) continue;
      await fs.rm(join(dir, hex), { force: true });
      removed.push(digest);
    }
    return removed;
  }
}

function summarize(image: ResolvedImage): ImageSummary {
  const size = image.manifest.config.size + image.manifest.layers.reduce((sum, l) => sum + l.size, 0);
  return { name: image.name, digest: image.descriptor.digest, size, created: image.config.created, architecture: image.config.architecture };
}

async function exists(path: string): Promise<boolean> {
  return fs.access(path).then(() => true, () => false);
}
