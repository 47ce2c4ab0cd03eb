// Layer unpacking and image import refuse bad input with clear errors and write nothing outside
// the store; whiteouts and opaque directories follow the OCI image spec.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Digest } from '../../../engine/containers/digest.ts';
import { DigestMismatchError, InvalidImageError, UnsafeLayerError } from '../../../engine/containers/errors.ts';
import { LayerApplier, verifyLayer } from '../../../engine/containers/layer.ts';
import { ImageStore } from '../../../engine/containers/store.ts';
import { importArchive } from '../../../engine/containers/archive.ts';
import { archiveOf, ociLayout, scratchDir, tarBuffer } from '../../integration/containers/fixtures.ts';
import type { TarInput } from '../../../engine/containers/tar.ts';

const file = (path: string, text: string): TarInput => ({ entry: { path, type: 'file' }, body: Buffer.from(text) });
const dir = (path: string): TarInput => ({ entry: { path, type: 'dir' } });
const symlink = (path: string, linkname: string): TarInput => ({ entry: { path, type: 'symlink', linkname } });

let scratch: ReturnType<typeof scratchDir>;
before(() => { scratch = scratchDir('layers'); });
after(() => scratch.cleanup());

/** Applies layers (given as tar entries) to a fresh root and returns it. */
async function applyAll(label: string, layers: TarInput[][]): Promise<string> {
  const root = join(scratch.dir, label);
  mkdirSync(root);
  const applier = new LayerApplier(root);
  for (const [i, entries] of layers.entries()) {
    const tar = await tarBuffer(entries);
    const blob = join(scratch.dir, `${label}-layer${i}.tar`);
    writeFileSync(blob, tar);
    await applier.apply(blob, sha256Digest(tar), `layer ${i}`);
  }
  return root;
}

describe('applying layers', () => {
  test('whiteouts remove lower files; opaque directories hide lower content but keep their own layer', async () => {
    const root = await applyAll('whiteout', [
      [dir('a'), file('a/b', 'b'), file('a/c', 'c'), dir('d'), file('d/e', 'e'), dir('d/sub'), file('d/sub/x', 'x')],
      [file('d/f', 'f'), file('a/.wh.b', ''), file('d/.wh..wh..opq', '')],
    ]);
    assert.deepEqual(readdirSync(join(root, 'a')), ['c']);
    assert.deepEqual(readdirSync(join(root, 'd')), ['f']);
    assert.equal(readFileSync(join(root, 'd/f'), 'utf8'), 'f');
  });

  test('symlinks inside the root are followed, within the root', async () => {
    const root = await applyAll('usrmerge', [
      [dir('usr'), dir('usr/bin'), symlink('bin', 'usr/bin'), symlink('abs', '/usr')],
      [file('bin/tool', 'tool'), file('abs/bin/other', 'other')],
    ]);
    assert.equal(readFileSync(join(root, 'usr/bin/tool'), 'utf8'), 'tool');
    assert.equal(readFileSync(join(root, 'usr/bin/other'), 'utf8'), 'other');
    assert.equal(readlinkSync(join(root, 'bin')), 'usr/bin');
  });

  test('a symlink escaping the root is refused and nothing is written outside', async () => {
    const outside = join(scratch.dir, 'outside');
    mkdirSync(outside);
    await assert.rejects(
      applyAll('escape', [[symlink('escape', '../outside'), file('escape/pwned', 'x')]]),
      (err: Error) => err instanceof UnsafeLayerError && /leads outside the root/.test(err.message),
    );
    assert.deepEqual(readdirSync(outside), []);
  });

  test('hard links join files inside the root; one reaching out through a symlink is refused', async () => {
    const hardlink = (path: string, linkname: string): TarInput => ({ entry: { path, type: 'hardlink', linkname } });
    const root = await applyAll('hardlink', [[file('a', 'shared'), hardlink('b', 'a')]]);
    assert.equal(statSync(join(root, 'a')).ino, statSync(join(root, 'b')).ino);
    const secret = join(scratch.dir, 'secret-dir');
    mkdirSync(secret);
    writeFileSync(join(secret, 'key'), 'secret');
    await assert.rejects(
      applyAll('hardlink-escape', [[symlink('out', '../secret-dir'), hardlink('stolen', 'out/key')]]),
      (err: Error) => err instanceof UnsafeLayerError && /goes through the symlink "out"/.test(err.message),
    );
  });

  test('a file entry replaces a symlink instead of writing through it', async () => {
    const target = join(scratch.dir, 'victim');
    writeFileSync(target, 'original');
    const root = await applyAll('replace', [[symlink('f', target)], [file('f', 'new')]]);
    assert.equal(readFileSync(target, 'utf8'), 'original');
    assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'new');
  });

  for (const [label, what, path] of [['absolute', 'an absolute path', '/etc/evil'], ['dotdot', 'a ".." component', 'a/../../evil']] as const) {
    test(`an entry with ${what} is refused`, async () => {
      await assert.rejects(applyAll(label, [[file(path, 'x')]]), (err: Error) => err instanceof UnsafeLayerError && err.message.includes(path));
    });
  }

  test('a layer whose content is not its diff_id is refused', async () => {
    const root = join(scratch.dir, 'diffid');
    mkdirSync(root);
    const blob = join(scratch.dir, 'diffid.tar');
    writeFileSync(blob, await tarBuffer([file('a', 'a')]));
    await assert.rejects(new LayerApplier(root).apply(blob, sha256Digest('other'), 'layer 0'), DigestMismatchError);
  });
});

describe('importing bad images', () => {
  async function importFiles(label: string, files: [string, Buffer][]) {
    const store = new ImageStore(join(scratch.dir, `store-${label}`));
    await store.init();
    const archive = join(scratch.dir, `${label}.tar`);
    writeFileSync(archive, await archiveOf(files));
    const result = importArchive(store, archive, undefined);
    return { store, result };
  }

  async function assertStoreEmpty(store: ImageStore) {
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(readdirSync(join(store.layout, 'blobs/sha256')), []);
  }

  test('a corrupted blob (digest mismatch) is refused and leaves nothing behind', async () => {
    const layout = ociLayout('bad:digest', [await tarBuffer([file('hello', 'hello')])]);
    const layer = layout.files[layout.files.length - 1]!;
    layer[1] = Buffer.from(layer[1]);
    layer[1][layer[1].length - 5] ^= 0xff;
    const { store, result } = await importFiles('digest', layout.files);
    await assert.rejects(result, (err: Error) => err instanceof DigestMismatchError && /digest mismatch/.test(err.message));
    await assertStoreEmpty(store);
  });

  for (const [what, path] of [['absolute', '/etc/shadow'], ['dot-dot', '../../etc/shadow']] as const) {
    test(`a layer with an ${what} path is refused at import`, async () => {
      const layout = ociLayout(`bad:${what}`, [await tarBuffer([file(path, 'x')])]);
      const { store, result } = await importFiles(what, layout.files);
      await assert.rejects(result, (err: Error) => err instanceof UnsafeLayerError && err.message.includes(path));
      await assertStoreEmpty(store);
    });
  }

  test('a manifest whose config is missing is refused', async () => {
    const layout = ociLayout('bad:config', [await tarBuffer([file('a', 'a')])]);
    const configPath = layout.files[3]![0];
    const { store, result } = await importFiles('config', layout.files.filter(([p]) => p !== configPath));
    await assert.rejects(result, (err: Error) => err instanceof InvalidImageError && /config blob .* is missing/.test(err.message));
    await assertStoreEmpty(store);
  });

  test('an archive that is neither OCI nor docker save is refused', async () => {
    const { result } = await importFiles('neither', [['README', Buffer.from('hi')]]);
    await assert.rejects(result, /neither an OCI archive/);
  });

  test('garbage instead of a tar is refused', async () => {
    const store = new ImageStore(join(scratch.dir, 'store-garbage'));
    await store.init();
    const archive = join(scratch.dir, 'garbage.tar');
    writeFileSync(archive, Buffer.alloc(4096, 0x41));
    await assert.rejects(importArchive(store, archive, undefined), /checksum mismatch/);
    assert.equal(existsSync(join(store.layout, 'index.json')), true);
  });
});

describe('hostile layers (that verifyLayer let through before)', () => {
  /** A root laid out as the store lays one out (ROOT/tmp/rootfs-*), with a file beside it in tmp. */
  function storeLikeRoot(label: string) {
    const tmp = join(scratch.dir, `${label}-store`, 'tmp');
    const root = join(tmp, 'rootfs-1');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(tmp, 'partial-download'), 'keep me');
    return { tmp, root };
  }

  /** verifyLayer (as an import does), then the applier (as ct create does); `verify: false` for the applier alone. */
  async function applyTo(root: string, label: string, entries: TarInput[], { verify = true } = {}): Promise<void> {
    const tar = await tarBuffer(entries);
    const blob = join(scratch.dir, `${label}.tar`);
    writeFileSync(blob, tar);
    if (verify) await verifyLayer(blob, sha256Digest(tar), label);
    await new LayerApplier(root).apply(blob, sha256Digest(tar), label);
  }

  test('a whiteout aimed past the root (".wh..." = "..") is refused and removes nothing outside', async () => {
    const { tmp, root } = storeLikeRoot('whiteout-up');
    for (const verify of [true, false]) {
      await assert.rejects(applyTo(root, 'whiteout-up', [file('.wh...', '')], { verify }), UnsafeLayerError);
      assert.equal(readFileSync(join(tmp, 'partial-download'), 'utf8'), 'keep me');
      assert.ok(existsSync(root));
    }
    await assert.rejects(applyTo(root, 'whiteout-self', [dir('d'), file('d/.wh.', '')], { verify: false }), UnsafeLayerError);
    assert.ok(existsSync(join(root, 'd')), 'a whiteout naming nothing removes nothing');
  });

  test('metadata of a directory entry later replaced by a symlink never reaches the symlink\'s target', async () => {
    const { tmp, root } = storeLikeRoot('metadata-through-link');
    const victim = join(tmp, 'partial-download');
    chmodSync(victim, 0o600);
    mkdirSync(join(tmp, 'd'), { mode: 0o700 });
    const before = statSync(victim);
    await applyTo(root, 'metadata-through-link', [
      { entry: { path: 'a', type: 'dir', mode: 0o777, mtime: 1234 } },
      symlink('a', victim),
      { entry: { path: 'sub', type: 'dir' } },
      { entry: { path: 'sub/d', type: 'dir', mode: 0o777, mtime: 1234 } },
      symlink('sub', tmp),
    ]);
    const after = statSync(victim);
    assert.equal(after.mode & 0o7777, 0o600, 'the host file keeps its mode');
    assert.equal(after.mtimeMs, before.mtimeMs, 'and its mtime');
    assert.equal(statSync(join(tmp, 'd')).mode & 0o7777, 0o700, 'a host directory reached through a replaced parent keeps its mode');
    assert.equal(readlinkSync(join(root, 'a')), victim, 'the symlink itself is in the root');
  });

  test('a hard link to a symlink, or through one, is refused', async () => {
    const { tmp, root } = storeLikeRoot('hardlink-symlink');
    const hardlink = (path: string, linkname: string): TarInput => ({ entry: { path, type: 'hardlink', linkname } });
    await assert.rejects(applyTo(root, 'hardlink-to-symlink', [symlink('s', join(tmp, 'partial-download')), hardlink('h', 's')]), UnsafeLayerError);
    await assert.rejects(applyTo(root, 'hardlink-via-symlink', [dir('real'), file('real/f', 'x'), symlink('via', 'real'), hardlink('h2', 'via/f')]), UnsafeLayerError);
  });
});
