// The OCI image spec's documents (descriptor, manifest, index, image config), their media
// types, and validation of those that arrive from outside (archives, registries).
import { checkDigest } from './digest.ts';
import { InvalidImageError } from './errors.ts';
import type { Descriptor, ImageConfig, ImageIndex, Manifest, Platform } from './types.ts';
export type { Platform, Descriptor, Manifest, ImageIndex, ExecConfig, HistoryEntry, ImageConfig } from './types.ts';

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

export const MANIFEST_TYPES: readonly string[] = [MEDIA.manifest, MEDIA.dockerManifest];
export const INDEX_TYPES: readonly string[] = [MEDIA.index, MEDIA.dockerManifestList];
const LAYER_TYPES: readonly string[] = [MEDIA.layer, MEDIA.layerGzip, MEDIA.dockerLayer, MEDIA.dockerLayerGzip];

/** The annotation that names an image in an OCI layout's index.json. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** The platform this host runs containers for, in OCI terms. */
export function hostPlatform(): Platform {
  const architecture = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', riscv64: 'riscv64', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
  return { architecture, os: 'linux' };
}

export function parseJson(data: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(data.toString());
  } catch {
    throw new InvalidImageError(`${what}: not valid JSON`);
  }
}

function checkDescriptor(value: unknown, what: string): Descriptor {
  const d = value as Descriptor;
  if (typeof d !== 'object' || d === null || typeof d.mediaType !== 'string') {
    throw new InvalidImageError(`${what}: not a descriptor (mediaType, digest, size)`);
  }
  checkDigest(d.digest, what);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw new InvalidImageError(`${what}: bad size ${String(d.size)}`);
  return d;
}

export function checkManifest(value: unknown, what: string): Manifest {
  const m = value as Manifest;
  if (typeof m !== 'object' || m === null || m.schemaVersion !== 2) throw new InvalidImageError(`${what}: not a schema 2 image manifest`);
  if (m.config === undefined) throw new InvalidImageError(`${what}: the manifest has no config`);
  checkDescriptor(m.config, `${what}: config`);
  if (!Array.isArray(m.layers)) throw new InvalidImageError(`${what}: the manifest has no layer list`);
  m.layers.forEach((layer, i) => {
    checkDescriptor(layer, `${what}: layer ${i}`);
    if (layer.mediaType === MEDIA.layerZstd) throw new InvalidImageError(`${what}: layer ${i} is zstd-compressed, which is not supported (gzip or plain tar only)`);
    if (!LAYER_TYPES.includes(layer.mediaType)) throw new InvalidImageError(`${what}: layer ${i} has unsupported media type ${layer.mediaType}`);
  });
  return m;
}

export function checkIndex(value: unknown, what: string): ImageIndex {
  const index = value as ImageIndex;
  if (typeof index !== 'object' || index === null || index.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
    throw new InvalidImageError(`${what}: not a schema 2 image index`);
  }
  index.manifests.forEach((d, i) => checkDescriptor(d, `${what}: manifest ${i}`));
  return index;
}

export function checkConfig(value: unknown, manifest: Manifest, what: string): ImageConfig {
  const c = value as ImageConfig;
  if (typeof c !== 'object' || c === null || typeof c.rootfs !== 'object' || c.rootfs === null || !Array.isArray(c.rootfs.diff_ids)) {
    throw new InvalidImageError(`${what}: not an image config (no rootfs.diff_ids)`);
  }
  if (c.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new InvalidImageError(`${what}: ${c.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`);
  }
  c.rootfs.diff_ids.forEach((d, i) => checkDigest(d, `${what}: diff_id ${i}`));
  if (c.os !== undefined && c.os !== 'linux') throw new InvalidImageError(`${what}: the image is for ${c.os}, not linux`);
  return c;
}

export function isGzipLayer(mediaType: string): boolean {
  return mediaType === MEDIA.layerGzip || mediaType === MEDIA.dockerLayerGzip;
}
