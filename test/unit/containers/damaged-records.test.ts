// Records that a crash or a damaged disk can leave half-written: a snapshot.json or a build-cache
// entry. Both are written atomically now; one damaged anyway is skipped and reported (the
// listing goes on, the build makes the step again), never a thrown SyntaxError. No runc here:
// the container is only created (a copied root filesystem) and the build has no RUN.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importArchive } from '../../../engine/containers/archive.ts';
import { Builder } from '../../../engine/containers/build.ts';
import { ContainerRuntime } from '../../../engine/containers/runtime.ts';
import { Snapshots } from '../../../engine/containers/snapshots.ts';
import type { Progress } from '../../../engine/containers/operation.ts';
import { scratchDir, writeBusyboxArchive } from '../../integration/containers/fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
let runtime: ContainerRuntime;

before(async () => {
  scratch = scratchDir('damaged');
  runtime = new ContainerRuntime(join(scratch.dir, 'root'), { rootfs: 'copy' });
  await runtime.init();
  const archive = join(scratch.dir, 'busybox.tar');
  await writeBusyboxArchive(archive);
  await importArchive(runtime.store, archive, undefined);
});
after(() => scratch.cleanup());

test('a damaged snapshot.json is left out of the listing and reported; the other snapshots stay usable', async () => {
  const c = await runtime.create('busybox', { name: 'snaps', command: ['true'] });
  const snapshots = new Snapshots(runtime);
  const good = await snapshots.take('snaps', 'good');
  const dir = join(runtime.root, 'containers', c.id, 'snapshots');
  assert.deepEqual(readdirSync(join(dir, good.id)).sort(), ['layer.tar.gz', 'snapshot.json', 'upper.tar'], 'no temporary file is left beside snapshot.json');
  const text = readFileSync(join(dir, good.id, 'snapshot.json'), 'utf8');
  for (const [id, damaged] of [['0123456789ab', text.slice(0, text.length / 2)], ['ba9876543210', '{"id":"ba9876543210"}'], ['00000000000f', '']]) {
    mkdirSync(join(dir, id!));
    writeFileSync(join(dir, id!, 'snapshot.json'), damaged!);
  }
  const reports: string[] = [];
  const list = await snapshots.list('snaps', { onDamaged: (message) => reports.push(message) });
  assert.deepEqual(list.map((s) => s.name), ['good']);
  assert.equal(reports.length, 3);
  assert.match(reports.find((r) => r.includes('0123456789ab'))!, /container snaps: snapshot 0123456789ab: .*snapshot\.json is damaged; it was left as it is and not listed/);
  assert.ok(readFileSync(join(dir, '0123456789ab', 'snapshot.json'), 'utf8').length > 0, 'the damaged file is kept for whoever looks into it');
  // Names stay unique, and a damaged snapshot cannot be restored or committed by its id.
  await assert.rejects(snapshots.take('snaps', 'good'), /already has a snapshot named "good"/);
  await assert.rejects(snapshots.restore('snaps', '0123456789ab'), /has no snapshot "0123456789ab"/);
  assert.equal((await snapshots.take('snaps')).name, 'snapshot-2', 'an unnamed snapshot gets the first free snapshot-N');
  await snapshots.remove('snaps', 'good');
  assert.deepEqual((await snapshots.list('snaps')).map((s) => s.name), ['snapshot-2']);
});

test('a damaged build-cache entry is a miss: the step is made again, the entry replaced, the damage reported', async () => {
  const context = join(scratch.dir, 'context');
  mkdirSync(context);
  writeFileSync(join(context, 'hello'), 'hello');
  writeFileSync(join(context, 'Containerfile'), 'FROM scratch\nCOPY hello /hello\n');
  const builder = new Builder(runtime);
  const first = await builder.build({ tag: 'cached:1', context });
  assert.deepEqual(first.steps.map((s) => s.cached), [false, false]);
  const cacheDir = join(runtime.root, 'build-cache');
  const [entry] = readdirSync(cacheDir).filter((n) => n.endsWith('.json'));
  assert.deepEqual(readdirSync(cacheDir), [entry], 'no temporary file is left in the cache');
  const whole = readFileSync(join(cacheDir, entry!), 'utf8');
  assert.equal((await builder.build({ tag: 'cached:2', context })).steps[1]!.cached, true);
  writeFileSync(join(cacheDir, entry!), whole.slice(0, 20));
  const progress: Progress[] = [];
  const again = await builder.build({ tag: 'cached:3', context, onProgress: (p) => progress.push(p) });
  assert.equal(again.steps[1]!.cached, false);
  assert.ok(progress.some((p) => p.phase === 'build cache' && /is damaged: the step is made again/.test(p.item ?? '')));
  assert.equal(readFileSync(join(cacheDir, entry!), 'utf8'), whole, 'the entry is written anew');
  assert.deepEqual(again.image.manifest.layers, first.image.manifest.layers);
});
