// Snapshots of a container's writable layer, by name: restore brings a deleted file back (a
// running container runs again from the snapshot); a committed snapshot is an image whose
// containers see the file (and not what the container deleted); rm deletes one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerRuntime } from '../../../engine/containers/runtime.ts';
import { Snapshots } from '../../../engine/containers/snapshots.ts';
import { importArchive } from '../../../engine/containers/archive.ts';
import { requireTools, scratchDir, writeBusyboxArchive } from './fixtures.ts';

let scratch: ReturnType<typeof scratchDir>;
let runtime: ContainerRuntime;
let snapshots: Snapshots;

before(async () => {
  requireTools();
  scratch = scratchDir('snapshots');
  runtime = new ContainerRuntime(join(scratch.dir, 'root'));
  await runtime.init();
  const archive = join(scratch.dir, 'busybox.tar');
  await writeBusyboxArchive(archive);
  await importArchive(runtime.store, archive, undefined);
  snapshots = new Snapshots(runtime);
});
after(async () => {
  for (const c of await runtime.list()) await runtime.remove(c.id, { force: true });
  scratch.cleanup();
});

/** Runs a shell command in the container (which must be running) and returns its output. */
async function sh(container: string, script: string): Promise<string> {
  let out = '';
  const status = await runtime.exec(container, ['sh', '-c', script], { onOutput: (_s, c) => { out += c.toString(); } });
  assert.equal(status, 0, `${script}: ${out}`);
  return out;
}

async function runOnce(image: string, script: string): Promise<string> {
  const c = await runtime.create(image, { command: ['sh', '-c', script] });
  let out = '';
  await runtime.start(c.id, { onOutput: (_s, chunk) => { out += chunk.toString(); } });
  await runtime.wait(c.id);
  await new Promise((r) => setTimeout(r, 20));
  await runtime.remove(c.id);
  return out;
}

test('write, snapshot (while running), delete, restore: the file is back', async () => {
  // PID 1 ends on SIGTERM (a plain sleep as PID 1 ignores it: each stop would wait its 10 s for SIGKILL).
  const c = await runtime.create('busybox', { name: 'snappy', command: ['sh', '-c', 'trap "exit 0" TERM; sleep 60 & wait'] });
  await runtime.start(c.id);
  // /etc removed and made again: an opaque directory in the overlay, .wh..wh..opq in the layer.
  // Two files of the image deleted: two whiteouts, which overlayfs may share as one inode (hard links).
  await sh('snappy', 'mkdir -p /data && echo precious > /data/file && rm -r /etc && mkdir /etc && echo fresh > /etc/only && rm /bin/vi /bin/ed');
  const snap = await snapshots.take('snappy', 'precious');
  assert.equal(snap.name, 'precious');
  assert.equal((await runtime.inspect('snappy')).status, 'running', 'the capture pause is undone');
  assert.match(snap.layer.digest, /^sha256:/);
  assert.deepEqual((await snapshots.list('snappy')).map((s) => [s.id, s.name]), [[snap.id, 'precious']]);
  await assert.rejects(snapshots.take('snappy', 'precious'), /already has a snapshot named "precious"/);
  await sh('snappy', 'rm -r /data && echo other > /etc/group');
  await runtime.stop('snappy', 1000);
  await snapshots.restore('snappy', snap.id);
  assert.equal((await runtime.inspect('snappy')).status, 'exited', 'a stopped container stays stopped');
  await runtime.start('snappy');
  assert.equal(await sh('snappy', 'cat /data/file; ls /etc'), 'precious\nonly\n');
});

test('restoring a running container restarts it from the snapshot, as a VM\'s restore does', async () => {
  const before = (await runtime.inspect('snappy')).startedAt;
  await sh('snappy', 'echo changed > /data/file && touch /after-snapshot');
  const restored = await snapshots.restore('snappy', 'precious');
  assert.equal(restored.status, 'running');
  assert.notEqual(restored.startedAt, before, 'a new run');
  assert.equal(await sh('snappy', 'cat /data/file; test -e /after-snapshot || echo gone'), 'precious\ngone\n');
  await runtime.pause('snappy');
  assert.equal((await snapshots.restore('snappy', 'precious')).status, 'running', 'a paused one too');
  await runtime.stop('snappy', 1000);
});

test('a committed snapshot runs as a new image with the file there (and deletions kept)', async () => {
  const image = await snapshots.commit('snappy', 'precious', 'snappy:committed');
  assert.equal(image.manifest.layers.length, 2);
  assert.equal(await runOnce('snappy:committed', 'cat /data/file; ls /etc; test -e /bin/vi || echo no vi; test -e /bin/ed || echo no ed; ls /bin/sed'), 'precious\nonly\nno vi\nno ed\n/bin/sed\n');
});

test('an unknown snapshot is refused clearly; a removed one is gone', async () => {
  await assert.rejects(snapshots.restore('snappy', 'abcdefabcdef'), /has no snapshot "abcdefabcdef"/);
  await assert.rejects(snapshots.commit('snappy', '../../etc', 'x:y'), /has no snapshot/);
  await assert.rejects(snapshots.take('snappy', '../evil'), /snapshot name "..\/evil"/);
  const [snap] = await snapshots.list('snappy');
  await snapshots.remove('snappy', 'precious');
  assert.deepEqual(await snapshots.list('snappy'), []);
  assert.equal(existsSync(join(runtime.root, 'containers', (await runtime.inspect('snappy')).id, 'snapshots', snap!.id)), false);
  await assert.rejects(snapshots.remove('snappy', 'precious'), /has no snapshot "precious"/);
});

test('without overlayfs (a copied root filesystem) snapshots cover the whole root and commit as one layer', async () => {
  const copying = new ContainerRuntime(runtime.root, { rootfs: 'copy' });
  const copySnapshots = new Snapshots(copying);
  const c = await copying.create('busybox', { name: 'copied', command: ['sleep', '60'] });
  await copying.start(c.id);
  await sh('copied', 'echo kept > /kept && rm /etc/group');
  const snap = await copySnapshots.take('copied', 'whole-root');
  await sh('copied', 'rm /kept');
  await copying.stop('copied', 1000);
  await copySnapshots.restore('copied', snap.id);
  await copying.start('copied');
  assert.equal(await sh('copied', 'cat /kept; test -e /etc/group || echo no group file'), 'kept\nno group file\n');
  await copying.stop('copied', 1000);
  const image = await copySnapshots.commit('copied', snap.id, 'copied:committed');
  assert.equal(image.manifest.layers.length, 1, 'the whole root filesystem is the layer');
  assert.equal(await runOnce('copied:committed', 'cat /kept; ls /bin/busybox'), 'kept\n/bin/busybox\n');
});
