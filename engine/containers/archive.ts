// Image archives in the two forms tools exchange: OCI archives (an OCI layout in a tar, as
// `skopeo copy … oci-archive:` writes) and `docker save` archives (manifest.json, <id>.json
// configs, <id>/layer.tar). Import streams the archive once: every file that can be a blob goes
// straight into the store's blob door (checked against its name when the name is a digest),
// the small JSON documents stay in memory; then the images are assembled and verified.
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { writeAtomic } from '../common/atomic-file.ts';
import { digestHex } from './digest.ts';
import { InvalidImageError } from './errors.ts';
import {
  checkIndex, hostPlatform, INDEX_TYPES, MANIFEST_TYPES, MEDIA, parseJson, REF_NAME, type Descriptor,
} from './oci.ts';
import type { OperationOptions } from './operation.ts';
import { normalizeName } from './reference.ts';
import type { ImageStore, ResolvedImage } from './store.ts';
import { readImageTar, writeTar, type TarInput } from './tar.ts';

export type ArchiveFormat = 'oci' | 'docker';

/** The annotation containerd and Docker put next to ref.name with the full image name. */
const CONTAINERD_NAME = 'io.containerd.image.name';
const MAX_DOCUMENT = 16 << 20;
const isDocument = (path: string) => /(^|\/)(index\.json|oci-layout|manifest\.json|repositories|json|VERSION)$/.test(path) || (path.endsWith('.json') && !path.includes('/'));

/** What the archive stream left behind: documents in memory, every other file as a stored blob. */
interface ArchiveContent {
  documents: Map<string, Buffer>;
  blobs: Map<string, { digest: string; size: number }>;
  symlinks: Map<string, string>;
}

async function readArchive(store: ImageStore, file: string, ingested: Set<string>, options: OperationOptions): Promise<ArchiveContent> {
  const content: ArchiveContent = { documents: new Map(), blobs: new Map(), symlinks: new Map() };
  const total = (await fs.stat(file)).size;
  let done = 0;
  const counted = async function* () {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      done += chunk.length;
      options.onProgress?.({ phase: 'import', item: file, done, total });
      yield chunk;
    }
  };
  for await (const { entry, body } of readImageTar(counted())) {
    options.signal?.throwIfAborted();
    const path = posix.normalize(entry.path).replace(/^\.\//, '');
    if (path === '..' || path.startsWith('/') || path.startsWith('../')) throw new InvalidImageError(`${file}: archive entry "${entry.path}" points outside the archive`);
    if (entry.type === 'symlink') content.symlinks.set(path, posix.normalize(posix.join(posix.dirname(path), entry.linkname)));
    if (entry.type !== 'file') continue;
    const blobName = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(path);
    if (!blobName && isDocument(path)) {
      if (entry.size > MAX_DOCUMENT) throw new InvalidImageError(`${file}: ${path} is larger than ${MAX_DOCUMENT} bytes`);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      content.documents.set(path, Buffer.concat(chunks));
    }
    const dockerConfig = /^[0-9a-f]{64}\.json$/.test(path);
    if (content.documents.has(path) && !dockerConfig) continue;
    const expected = blobName ? `sha256:${blobName[1]}` : dockerConfig ? `sha256:${path.slice(0, 64)}` : undefined;
    const blob = await store.ingest(content.documents.get(path) ?? body, { digest: expected, size: entry.size, what: `${file}: ${path}` }, { signal: options.signal });
    ingested.add(blob.digest);
    content.blobs.set(path, blob);
  }
  return content;
}

/** Imports every image of an archive; `tag` names the image when the archive holds exactly one. */
export async function importArchive(store: ImageStore, file: string, tag: string | undefined, options: OperationOptions = {}): Promise<ResolvedImage[]> {
  const ingested = new Set<string>();
  try {
    const content = await readArchive(store, file, ingested, options);
    const named = content.documents.has('index.json')
      ? await ociImages(store, file, content)
      : content.documents.has('manifest.json')
        ? await dockerImages(store, file, content, ingested)
        : undefined;
    if (!named) throw new InvalidImageError(`${file}: neither an OCI archive (index.json) nor a docker save archive (manifest.json)`);
    if (tag !== undefined) {
      if (new Set(named.map((n) => n.descriptor.digest)).size !== 1) throw new InvalidImageError(`${file}: a tag names one image, and the archive has ${named.length}`);
      named.splice(0, named.length, { name: tag, descriptor: named[0]!.descriptor });
    }
    if (named.some((n) => !n.name)) throw new InvalidImageError(`${file}: the archive does not name its image; give it a tag (NAME:TAG)`);
    const images: ResolvedImage[] = [];
    for (const { name, descriptor } of named) images.push(await store.setName(name!, descriptor, options));
    return images;
  } finally {
    // What the archive brought and no image uses: everything after a failure, other platforms' blobs after success.
    await store.collectGarbage(ingested);
  }
}

interface NamedManifest { name?: string; descriptor: Descriptor }

async function ociImages(store: ImageStore, file: string, content: ArchiveContent): Promise<NamedManifest[]> {
  const index = checkIndex(parseJson(content.documents.get('index.json')!, `${file}: index.json`), `${file}: index.json`);
  const out: NamedManifest[] = [];
  for (const descriptor of index.manifests) {
    const fullName = descriptor.annotations?.[CONTAINERD_NAME];
    const refName = descriptor.annotations?.[REF_NAME];
    // A bare ref.name ("latest") is a tag for a repository the archive does not name.
    const name = fullName ?? (refName && /[:/]/.test(refName) ? refName : undefined);
    out.push({ name: name && normalizeName(name), descriptor: await pickManifest(store, file, descriptor) });
  }
  return out;
}

/** An index entry may be a manifest list: take the manifest for this host's platform. */
async function pickManifest(store: ImageStore, file: string, descriptor: Descriptor): Promise<Descriptor> {
  if (MANIFEST_TYPES.includes(descriptor.mediaType)) return descriptor;
  if (!INDEX_TYPES.includes(descriptor.mediaType)) throw new InvalidImageError(`${file}: ${descriptor.digest} has unsupported media type ${descriptor.mediaType}`);
  const nested = checkIndex(parseJson(await store.readBlob(descriptor.digest), `${file}: ${descriptor.digest}`), `${file}: ${descriptor.digest}`);
  const platform = hostPlatform();
  const match = nested.manifests.find((d) => d.platform?.os === platform.os && d.platform.architecture === platform.architecture)
    ?? (nested.manifests.length === 1 ? nested.manifests[0] : undefined);
  if (!match) throw new InvalidImageError(`${file}: no manifest for ${platform.os}/${platform.architecture} in ${descriptor.digest}`);
  return pickManifest(store, file, match);
}

interface DockerManifestEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

async function dockerImages(store: ImageStore, file: string, content: ArchiveContent, ingested: Set<string>): Promise<NamedManifest[]> {
  const entries = parseJson(content.documents.get('manifest.json')!, `${file}: manifest.json`) as DockerManifestEntry[];
  if (!Array.isArray(entries)) throw new InvalidImageError(`${file}: manifest.json is not a list of images`);
  const blobOf = (path: unknown, what: string) => {
    let p = typeof path === 'string' ? posix.normalize(path) : '';
    for (let hops = 0; content.symlinks.has(p) && hops < 8; hops++) p = content.symlinks.get(p)!;
    const blob = content.blobs.get(p);
    if (!blob) throw new InvalidImageError(`${file}: ${what} "${String(path)}" is missing from the archive`);
    return blob;
  };
  const out: NamedManifest[] = [];
  for (const [i, entry] of entries.entries()) {
    if (typeof entry !== 'object' || entry === null || !Array.isArray(entry.Layers)) throw new InvalidImageError(`${file}: manifest.json entry ${i} has no Layers`);
    if (entry.Config === undefined) throw new InvalidImageError(`${file}: manifest.json entry ${i} has no Config`);
    const config = blobOf(entry.Config, 'config');
    const layers: Descriptor[] = [];
    for (const layerPath of entry.Layers) {
      const blob = blobOf(layerPath, 'layer');
      const magic = (await store.readBlob(blob.digest)).subarray(0, 2);
      layers.push({ mediaType: magic[0] === 0x1f && magic[1] === 0x8b ? MEDIA.layerGzip : MEDIA.layer, ...blob });
    }
    const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: { mediaType: MEDIA.config, ...config }, layers };
    const descriptor = await store.putJson(manifest, MEDIA.manifest);
    ingested.add(descriptor.digest);
    const tags = entry.RepoTags ?? [];
    if (tags.length === 0) out.push({ descriptor });
    for (const tag of tags) out.push({ name: normalizeName(tag), descriptor });
  }
  return out;
}

/** Writes an image as an OCI archive or a `docker save` archive (atomically: engine/common/atomic-file.ts). */
export async function exportArchive(store: ImageStore, name: string, file: string, format: ArchiveFormat, options: OperationOptions = {}): Promise<void> {
  const image = await store.resolve(name);
  const scratch: string[] = [];
  try {
    const entries = format === 'oci' ? ociEntries(store, image) : dockerEntries(store, image, scratch);
    let done = 0;
    const total = image.manifest.config.size + image.manifest.layers.reduce((s, l) => s + l.size, 0);
    const progress = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        options.signal?.throwIfAborted();
        done += chunk.length;
        options.onProgress?.({ phase: 'export', item: file, done, total });
        yield chunk;
      }
    };
    await writeAtomic(file, async (handle) => {
      for await (const chunk of progress(writeTar(entries))) await handle.write(chunk);
    });
  } finally {
    for (const path of scratch) await fs.rm(path, { force: true });
  }
}

async function fileEntry(archivePath: string, hostPath: string): Promise<TarInput> {
  const { size } = await fs.stat(hostPath);
  return { entry: { path: archivePath, type: 'file', size }, body: createReadStream(hostPath) as AsyncIterable<Buffer> };
}

function json(path: string, value: unknown): TarInput {
  return { entry: { path, type: 'file' }, body: Buffer.from(JSON.stringify(value)) };
}

async function* ociEntries(store: ImageStore, image: ResolvedImage): AsyncGenerator<TarInput> {
  yield json('oci-layout', { imageLayoutVersion: '1.0.0' });
  const annotations = { [REF_NAME]: image.name, [CONTAINERD_NAME]: image.name };
  yield json('index.json', { schemaVersion: 2, mediaType: MEDIA.index, manifests: [{ ...image.descriptor, annotations }] });
  yield { entry: { path: 'blobs', type: 'dir' } };
  yield { entry: { path: 'blobs/sha256', type: 'dir' } };
  for (const d of [image.descriptor, image.manifest.config, ...image.manifest.layers]) {
    yield fileEntry(`blobs/sha256/${digestHex(d.digest)}`, store.blobPath(d.digest));
  }
}

/** docker save wants uncompressed layer.tar files named by their diff_id. */
async function* dockerEntries(store: ImageStore, image: ResolvedImage, scratch: string[]): AsyncGenerator<TarInput> {
  const configName = `${digestHex(image.manifest.config.digest)}.json`;
  const diffIds = image.config.rootfs.diff_ids;
  const layerNames = diffIds.map((d) => `${digestHex(d)}/layer.tar`);
  yield json('manifest.json', [{ Config: configName, RepoTags: [image.name], Layers: layerNames }]);
  const colon = image.name.lastIndexOf(':');
  yield json('repositories', { [image.name.slice(0, colon)]: { [image.name.slice(colon + 1)]: digestHex(diffIds[diffIds.length - 1] ?? '') } });
  yield fileEntry(configName, store.blobPath(image.manifest.config.digest));
  for (const [i, layer] of image.manifest.layers.entries()) {
    let path = store.blobPath(layer.digest);
    if (layer.digest !== diffIds[i]) {
      const plain = store.tempPath('layer');
      scratch.push(plain);
      await pipeline(createReadStream(path), createGunzip(), createWriteStream(plain));
      path = plain;
    }
    yield { entry: { path: digestHex(diffIds[i]!), type: 'dir' } };
    yield { entry: { path: `${digestHex(diffIds[i]!)}/VERSION`, type: 'file' }, body: Buffer.from('1.0') };
    yield fileEntry(layerNames[i]!, path);
  }
}
