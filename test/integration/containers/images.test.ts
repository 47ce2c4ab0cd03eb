// The image store against the tools of the OCI world: skopeo and umoci read what Hangar writes,
// Hangar imports what `docker save` (here: skopeo's docker-archive writer) produces, and shared
// layers live until the last image using them is removed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../../engine/containers/store.ts';
import { exportArchive, importArchive } from '../../../engine/containers/archive.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from './fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
let store: ImageStore;
let busyboxDigest: string;

before(async () => {
  requireTools();
  scratch = scratchDir('images');
  store = new ImageStore(join(scratch.dir, 'root'));
  await store.init();
  const archive = join(scratch.dir, 'busybox-oci.tar');
  busyboxDigest = await writeBusyboxArchive(archive);
  await importArchive(store, archive, undefined);
});
after(() => scratch.cleanup());

const skopeoInspect = (transport: string) => JSON.parse(execFileSync('skopeo', ['inspect', transport], { encoding: 'utf8' }));

test('the store is an OCI layout skopeo reads', () => {
  const info = skopeoInspect(`oci:${store.layout}:busybox:latest`);
  assert.equal(info.Digest, busyboxDigest);
  assert.equal(info.Os, 'linux');
});

test('an exported OCI archive is accepted by skopeo and unpacked by umoci', async () => {
  const file = join(scratch.dir, 'export-oci.tar');
  const progress: number[] = [];
  await exportArchive(store, 'busybox', file, 'oci', { onProgress: (p) => progress.push(p.done ?? 0) });
  assert.ok(progress.length > 0 && progress[progress.length - 1]! > 1_000_000, 'export reports progress');
  assert.equal(skopeoInspect(`oci-archive:${file}`).Digest, busyboxDigest);
  const layout = join(scratch.dir, 'umoci-layout');
  mkdirSync(layout);
  execFileSync('tar', ['-xf', file, '-C', layout]);
  const bundle = join(scratch.dir, 'umoci-bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:busybox:latest`, bundle], { stdio: 'pipe' });
  assert.ok(existsSync(join(bundle, 'rootfs/bin/busybox')));
  assert.ok(existsSync(join(bundle, 'config.json')));
});

test('a docker save archive (written by skopeo) imports with its tag; a Hangar docker export is read by skopeo', async () => {
  const saved = join(scratch.dir, 'saved.tar');
  execFileSync('skopeo', ['copy', '--quiet', `oci:${store.layout}:busybox:latest`, `docker-archive:${saved}:saved/busybox:1.0`]);
  const [image] = await importArchive(store, saved, undefined);
  assert.equal(image!.name, 'docker.io/saved/busybox:1.0'); // skopeo writes the full name
  const original = await store.inspect('busybox:latest');
  assert.deepEqual(image!.config.rootfs.diff_ids, original.config.rootfs.diff_ids);

  const exported = join(scratch.dir, 'export-docker.tar');
  await exportArchive(store, image!.name, exported, 'docker');
  const info = skopeoInspect(`docker-archive:${exported}`);
  assert.deepEqual(info.RepoTags, []);
  assert.equal(info.Layers.length, 1);
  const [again] = await importArchive(store, exported, 'reimported:x');
  assert.deepEqual(again!.config.rootfs.diff_ids, original.config.rootfs.diff_ids);
});

test('tag, list, and remove with shared layers counted', async () => {
  await store.tag('busybox:latest', 'copy:1');
  const names = (await store.list()).map((i) => i.name);
  assert.ok(names.includes('busybox:latest') && names.includes('copy:1'));
  const layer = (await store.inspect('copy:1')).manifest.layers[0]!.digest;
  await store.remove('busybox:latest');
  assert.ok(await store.hasBlob(layer), 'the layer stays while copy:1 uses it');
  for (const name of (await store.list()).map((i) => i.name)) await store.remove(name);
  assert.equal(await store.hasBlob(layer), false);
  assert.deepEqual(readdirSync(join(store.layout, 'blobs/sha256')), []);
  await assert.rejects(store.inspect('copy:1'), /not in the store/);
});
