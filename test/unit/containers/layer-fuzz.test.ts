// Fuzz of layer unpacking: random and hostile tars (absolute and `..` paths, symlinks then
// entries through them, hard links out, whiteouts and opaque markers everywhere, aimed past the
// root through links) applied by the real LayerApplier, one to three layers on a fresh root. A
// canary tree beside the root (and one further out) must not change in any way — existence,
// type, mode, owner, times, link count, content, link target — and the only error allowed is
// InvalidImageError (UnsafeLayerError is one). Fixed seed, bounded time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Digest } from '../../../engine/containers/digest.ts';
import { InvalidImageError } from '../../../engine/containers/errors.ts';
import { LayerApplier } from '../../../engine/containers/layer.ts';
import type { TarEntryType, TarInput } from '../../../engine/containers/tar.ts';
import { scratchDir, tarBuffer } from '../../integration/containers/fixtures.ts';
import { Random } from '../../support/random.ts';

const SEED = 0x19_1119;
const TIME_LIMIT_MS = 15_000;

let scratch: ReturnType<typeof scratchDir>;
let work: string;
let root: string;
let canary: string;
let sibling: string;
let blobs: string;

before(() => {
  scratch = scratchDir('layer-fuzz');
  canary = join(scratch.dir, 'canary');
  work = join(scratch.dir, 'work');
  sibling = join(work, 'sibling');
  root = join(work, 'root');
  blobs = join(scratch.dir, 'blobs');
  mkdirSync(blobs);
  for (const tree of [canary, sibling]) {
    mkdirSync(join(tree, 'dir/sub'), { recursive: true });
    writeFileSync(join(tree, 'file'), 'canary file');
    writeFileSync(join(tree, 'dir/inner'), 'canary inner');
    writeFileSync(join(tree, 'dir/sub/deep'), 'canary deep');
    symlinkSync('dir', join(tree, 'link'));
    chmodSync(join(tree, 'file'), 0o640);
    chmodSync(join(tree, 'dir'), 0o750);
    for (const path of ['file', 'dir/inner', 'dir/sub/deep', 'dir/sub', 'dir']) utimesSync(join(tree, path), 1_000_000, 1_000_000);
  }
});
after(() => scratch.cleanup());

/**
 * Everything observable about the scratch folder but the root and the layer blobs: what no layer
 * may change. The folders holding the root change as it is made and removed: only their entries count.
 */
function canaryState(): Map<string, string> {
  const state = new Map<string, string>();
  const visit = (path: string, rel: string) => {
    const s = lstatSync(path);
    let what = path === scratch.dir || path === work ? 'the root\'s parents' : `${s.mode.toString(8)} ${s.uid}:${s.gid} ${s.nlink} ${s.mtimeMs} ${s.size}`;
    if (s.isSymbolicLink()) what += ` -> ${readlinkSync(path)}`;
    else if (s.isFile()) what += ` ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    state.set(rel, what);
    if (s.isDirectory()) for (const name of readdirSync(path).sort()) if (join(path, name) !== root && join(path, name) !== blobs) visit(join(path, name), `${rel}/${name}`);
  };
  visit(scratch.dir, '.');
  return state;
}

const NAMES = ['a', 'b', 'c', 'etc', 'usr', 'bin', 'l', 'm', '.', '', '.wh.a', '.wh.b', '.wh.l', '.wh..wh..opq', '.wh..wh.x'] as const;
/** Names that are refused wherever they are: rare, so that the rest of a layer gets applied too. */
const REFUSED_NAMES = ['..', '.wh..', '.wh...', '.wh.', 'x'.repeat(260)] as const;
const TYPES: TarEntryType[] = ['file', 'file', 'dir', 'dir', 'symlink', 'symlink', 'hardlink', 'char', 'block', 'fifo'];

function hostileTargets(): string[] {
  // Every way of naming the canaries from inside the root: climbing out, absolute, the root's own parent.
  return ['..', '../..', '../sibling', '../sibling/file', '../sibling/dir', '../../canary', '../../canary/file', '../../canary/dir',
    '../../../../../../..', '/', '/..', canary, join(canary, 'file'), join(canary, 'dir'), sibling, join(sibling, 'file'), work, 'a', 'a/b', '.', 'l', 'm/..', 'a/../..'];
}

/** A path of one to four names, now and then absolute or with a name always refused. */
function randomPath(r: Random): string {
  const parts = Array.from({ length: 1 + r.int(4) }, () => (r.int(40) === 0 ? r.pick(REFUSED_NAMES) : r.pick(NAMES)));
  return (r.int(30) === 0 ? '/' : r.pick(['', './'])) + parts.join('/');
}

/** One random layer: random entries, and now and then one of the known hostile patterns. */
function randomLayer(r: Random): TarInput[] {
  const targets = hostileTargets();
  const entries: TarInput[] = [];
  const count = 1 + r.int(8);
  for (let i = 0; i < count; i++) {
    const pattern = r.int(10);
    const out = r.pick(targets);
    const name = r.pick(['a', 'l', 'm', 'etc']);
    const meta = { mode: r.int(0o10000), mtime: r.int(2_000_000_000), uid: r.int(3), gid: r.int(3) };
    if (pattern === 0) {
      // A symlink, then a file, a directory or a whiteout through it.
      entries.push({ entry: { path: name, type: 'symlink', linkname: out } });
      entries.push({ entry: { path: `${name}/${r.pick(['file', 'x', 'dir/inner', '.wh.file', '.wh.dir', '.wh..wh..opq', '.wh.inner'])}`, type: r.pick(['file', 'dir', 'symlink']), linkname: out, ...meta }, body: Buffer.from('pwned') });
    } else if (pattern === 1) {
      // A directory whose metadata is set last, replaced meanwhile by a symlink out (itself, or a parent).
      entries.push({ entry: { path: `${name}/d`, type: 'dir', ...meta } });
      entries.push({ entry: { path: name, type: 'dir', ...meta } });
      entries.push({ entry: { path: r.pick([name, `${name}/d`]), type: 'symlink', linkname: out } });
    } else if (pattern === 2) {
      // Hard links out, directly or through a symlink made first.
      if (r.int(2)) entries.push({ entry: { path: 'l', type: 'symlink', linkname: r.pick(targets) } });
      entries.push({ entry: { path: randomPath(r), type: 'hardlink', linkname: r.pick([out, `l/${r.pick(['file', 'inner', 'dir/inner'])}`, 'l']) } });
    } else {
      const type = r.pick(TYPES);
      const body = type === 'file' ? Buffer.alloc(r.int(3) * 700, 0x61 + r.int(26)) : undefined;
      entries.push({ entry: { path: randomPath(r), type, linkname: type === 'symlink' || type === 'hardlink' ? r.pick([...targets, randomPath(r)]) : undefined, ...meta }, body });
    }
  }
  return entries;
}

test('fuzz layer unpack: hostile tars change nothing outside the root, and fail only with InvalidImageError', async () => {
  const r = new Random(SEED);
  const baseline = canaryState();
  const blob = join(blobs, 'layer.tar');
  const started = performance.now();
  let inputs = 0;
  let layers = 0;
  let refused = 0;
  const failures: string[] = [];
  while (performance.now() - started < TIME_LIMIT_MS && failures.length < 5) {
    inputs++;
    mkdirSync(root);
    const applier = new LayerApplier(root);
    const stack = Array.from({ length: 1 + r.int(3) }, () => randomLayer(r));
    try {
      for (const [i, entries] of stack.entries()) {
        const tar = await tarBuffer(entries);
        writeFileSync(blob, tar);
        layers++;
        await applier.apply(blob, sha256Digest(tar), `input ${inputs} layer ${i}`);
      }
    } catch (err) {
      if (err instanceof InvalidImageError) refused++;
      else failures.push(`input ${inputs}: host exception ${(err as Error).stack}\n${JSON.stringify(stack.map((l) => l.map((e) => e.entry)))}`);
    }
    const now = canaryState();
    for (const [path, was] of baseline) if (now.get(path) !== was) failures.push(`input ${inputs}: canary ${path} changed: ${was} -> ${now.get(path) ?? 'gone'}\n${JSON.stringify(stack.map((l) => l.map((e) => e.entry)))}`);
    for (const path of now.keys()) if (!baseline.has(path)) failures.push(`input ${inputs}: ${path} appeared outside the root`);
    rmSync(root, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`fuzz layer unpack: ${inputs} inputs (${layers} layers) in ${seconds.toFixed(1)} s, ${refused} refused, ${failures.length} failures (seed ${SEED})`);
  assert.deepEqual(failures, []);
  assert.ok(inputs > 50, 'enough inputs were tried to mean something');
  assert.ok(refused > 0 && refused < inputs, 'some inputs were refused and some applied');
});
