// Test images built by the tests themselves: a busybox OCI image from the host's Debian
// busybox-static (statically linked, so one file and its applet links make a whole userland),
// and hand-made layers and archives for the bad-input tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../../engine/containers/digest.ts';
import { hostPlatform, MEDIA, REF_NAME, type ImageConfig } from '../../../engine/containers/oci.ts';
import { writeTar, type TarInput } from '../../../engine/containers/tar.ts';

export const BUSYBOX = '/bin/busybox';

/** Fails loudly (never skips) when a tool the containers tests need is missing. */
export function requireTools(): void {
  const missing: string[] = [];
  if (!existsSync(BUSYBOX)) missing.push('busybox-static');
  for (const [tool, pkg] of [['runc', 'runc'], ['skopeo', 'skopeo'], ['umoci', 'umoci'], ['docker-registry', 'docker-registry']]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) missing.push(pkg!);
  }
  if (missing.length) throw new Error(`containers tests need Debian packages: apt-get install -y ${missing.join(' ')}`);
  if (process.getuid?.() !== 0) throw new Error('containers integration tests run real runc and must run as root');
}

export async function tarBuffer(entries: TarInput[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of writeTar(entries)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The layer of the busybox image: /bin/busybox, a link per applet, the usual empty directories. */
export async function busyboxLayer(): Promise<Buffer> {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  const entries: TarInput[] = ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var'].map((d) => ({ entry: { path: d, type: 'dir', mode: d === 'tmp' ? 0o1777 : 0o755 } }));
  entries.push({ entry: { path: 'bin/busybox', type: 'file', mode: 0o755 }, body: readFileSync(BUSYBOX) });
  for (const applet of applets) entries.push({ entry: { path: `bin/${applet}`, type: 'symlink', linkname: 'busybox' } });
  entries.push({ entry: { path: 'etc/passwd', type: 'file' }, body: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n') });
  entries.push({ entry: { path: 'etc/group', type: 'file' }, body: Buffer.from('root:x:0:\nnobody:x:65534:\n') });
  return tarBuffer(entries);
}

export interface ImageFiles {
  /** [archive path, content] for every file of an OCI layout. */
  files: [string, Buffer][];
  manifestDigest: string;
}

/** An OCI layout (as files) holding one image made of the given uncompressed layers. */
export function ociLayout(name: string, layers: Buffer[], exec: ImageConfig['config'] = { Cmd: ['sh'] }): ImageFiles {
  const gz = layers.map((l) => gzipSync(l));
  const config: ImageConfig = {
    created: '2026-01-01T00:00:00Z', ...hostPlatform(),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...exec },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Digest(l)) },
  };
  const configData = Buffer.from(JSON.stringify(config));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: sha256Digest(configData), size: configData.length },
    layers: gz.map((g) => ({ mediaType: MEDIA.layerGzip, digest: sha256Digest(g), size: g.length })),
  }));
  const manifestDigest = sha256Digest(manifest);
  const index = { schemaVersion: 2, manifests: [{ mediaType: MEDIA.manifest, digest: manifestDigest, size: manifest.length, annotations: { [REF_NAME]: name } }] };
  const blob = (data: Buffer): [string, Buffer] => [`blobs/sha256/${sha256Digest(data).slice(7)}`, data];
  return {
    manifestDigest,
    files: [
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      ['index.json', Buffer.from(JSON.stringify(index))],
      blob(manifest), blob(configData), ...gz.map(blob),
    ],
  };
}

export async function archiveOf(files: [string, Buffer][]): Promise<Buffer> {
  return tarBuffer(files.map(([path, body]) => ({ entry: { path, type: 'file' }, body })));
}

/** A scratch directory removed by the returned cleanup. */
export function scratchDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `hangar-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes the busybox image as an OCI archive at PATH and returns its manifest digest. */
export async function writeBusyboxArchive(path: string, name = 'busybox:latest'): Promise<string> {
  const layout = ociLayout(name, [await busyboxLayer()]);
  writeFileSync(path, await archiveOf(layout.files));
  return layout.manifestDigest;
}
