// Snapshots and clones, disk side, through the library: each state of the disk is checked
// against a model of what it must read (writes go straight to the VM's current overlay, as the
// guest's would). Deleting merges without losing a child's data; restores discard the current
// state; clones read right, diverge, and have their own identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkDisk, openDisk } from '../../../engine/storage/index.ts';
import {
  VmConflictError, VmFolder, VmNotFoundError, VmStateError, type SnapshotNode, type VmLibrary,
} from '../../../engine/vm/index.ts';
import { readStateFile, writeStateFile } from '../../../engine/machine/state-file.ts';
import { firstDifference, pattern } from '../storage/support/workload.ts';
import { scratchLibrary } from './support.ts';

const DISK = 8 << 20;

async function folderOf(library: VmLibrary, name: string): Promise<VmFolder> {
  return VmFolder.load((await library.info(name)).folder);
}

/** Writes `length` patterned bytes at `offset` into the VM's current disk, and into `model`. */
async function guestWrite(library: VmLibrary, name: string, model: Uint8Array, offset: number, length: number, seed: number): Promise<void> {
  const vm = await folderOf(library, name);
  const disk = openDisk(vm.file(vm.config.disks[0]!.file));
  const data = pattern(seed, length);
  disk.write(offset, data);
  disk.close();
  model.set(data, offset);
}

/** What the VM's current disk reads. */
async function currentDisk(library: VmLibrary, name: string): Promise<Uint8Array> {
  const vm = await folderOf(library, name);
  const disk = openDisk(vm.file(vm.config.disks[0]!.file), { readOnly: true });
  const out = new Uint8Array(disk.size);
  disk.read(0, out);
  disk.close();
  return out;
}

function assertReads(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(firstDifference(actual, expected), -1, what);
}

function names(nodes: SnapshotNode[]): unknown[] {
  return nodes.map((n) => (n.children.length ? [n.name, names(n.children)] : n.name));
}

async function assertImagesConsistent(library: VmLibrary, name: string): Promise<void> {
  const vm = await folderOf(library, name);
  for (const file of readdirSync(vm.file('disks'))) {
    const report = checkDisk(join(vm.file('disks'), file));
    assert.equal(report.corruptions + report.leaks, 0, `${file}: ${report.messages.join('; ')}`);
  }
}

test('take freezes the current overlay (read-only) and puts a new one on top; restore brings each state back', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, diskSize: DISK });
  const model = new Uint8Array(DISK);
  await guestWrite(library, 'vm', model, 0, 200_000, 1);
  const atS1 = model.slice();
  const before = (await folderOf(library, 'vm')).config.disks[0]!.file;
  const s1 = await library.takeSnapshot('vm', 's1', { description: 'first' });
  assert.deepEqual(s1.disks, [before], 'the overlay that was current is the frozen image');
  assert.equal(statSync((await folderOf(library, 'vm')).file(before)).mode & 0o222, 0, 'frozen images are read-only');
  const vm = await folderOf(library, 'vm');
  assert.notEqual(vm.config.disks[0]!.file, before);
  assert.equal(vm.config.snapshots.current, s1.id);
  assert.deepEqual([s1.parent, s1.state, s1.description, s1.machine.cpus], [null, null, 'first', 1]);

  await guestWrite(library, 'vm', model, 100_000, 300_000, 2);
  const atS2 = model.slice();
  const s2 = await library.takeSnapshot('vm', 's2');
  assert.equal(s2.parent, s1.id);
  await guestWrite(library, 'vm', model, 4 << 20, 50_000, 3);
  assertReads(await currentDisk(library, 'vm'), model, 'the current state reads through the chain');

  await library.restoreSnapshot('vm', 's1');
  assertReads(await currentDisk(library, 'vm'), atS1, 'back at s1: later writes are gone');
  await guestWrite(library, 'vm', atS1.slice(), 6 << 20, 1000, 4); // a branch from s1
  await library.restoreSnapshot('vm', s2.id);
  assertReads(await currentDisk(library, 'vm'), atS2, 'at s2, by id');
  assert.deepEqual(readdirSync((await folderOf(library, 'vm')).file('disks')).length, 3, 's1, s2 and one current overlay: discarded ones were swept');
  await assertImagesConsistent(library, 'vm');

  await assert.rejects(library.takeSnapshot('vm', 's1'), (err: Error) => err instanceof VmConflictError && err.message === 'VM "vm" already has a snapshot named "s1"');
  await assert.rejects(library.restoreSnapshot('vm', 'nope'), (err: Error) => err instanceof VmNotFoundError && err.message === 'VM "vm" has no snapshot "nope"');
  await assert.rejects(library.takeSnapshot('vm', '-x'), /snapshot name "-x": must be/);
});

test('the tree: nesting, the current state, sizes on disk and what deleting each frees', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, diskSize: DISK });
  const model = new Uint8Array(DISK);
  await guestWrite(library, 'vm', model, 0, 1 << 20, 1);
  await library.takeSnapshot('vm', 'base');
  await guestWrite(library, 'vm', model, 2 << 20, 1 << 20, 2);
  await library.takeSnapshot('vm', 'left');
  await library.restoreSnapshot('vm', 'base');
  await library.takeSnapshot('vm', 'right');
  await guestWrite(library, 'vm', model, 5 << 20, 64 << 10, 3);
  const tree = await library.snapshots('vm');
  assert.deepEqual(names(tree.roots), [['base', ['left', 'right']]]);
  const [base] = tree.roots;
  const [left, right] = base!.children;
  assert.deepEqual([base!.current, left!.current, right!.current], [false, false, true]);
  assert.equal(tree.current.parent, right!.id);
  const vm = await folderOf(library, 'vm');
  const size = (file: string) => statSync(vm.file(file)).blocks * 512;
  for (const node of [base!, left!, right!]) {
    assert.equal(node.sizeOnDisk, size(vm.config.snapshots.list.find((s) => s.id === node.id)!.disks[0]!));
  }
  assert.equal(tree.current.sizeOnDisk, size(vm.config.disks[0]!.file));
  // left is a leaf: deleting it frees all of it. base has two children (left, right): each takes
  // a copy of its 1 MiB (16 clusters of 64 KiB), so deleting it costs more than it frees.
  assert.equal(left!.freedByDelete, left!.sizeOnDisk);
  assert.equal(base!.freedByDelete, base!.sizeOnDisk - 2 * (1 << 20));
  // right has one child, the current state, which takes its (empty) data: it frees all it holds.
  assert.equal(right!.freedByDelete, right!.sizeOnDisk);
});

test('deleting a snapshot in the middle merges it into every child; each child reads as before', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, diskSize: DISK });
  const model = new Uint8Array(DISK);
  await guestWrite(library, 'vm', model, 0, 3 << 20, 1);
  await library.takeSnapshot('vm', 'root');
  await guestWrite(library, 'vm', model, 1 << 20, 2 << 20, 2);
  const mid = await library.takeSnapshot('vm', 'mid');
  const atMid = model.slice();
  await guestWrite(library, 'vm', model, 2 << 20, 100_000, 3);
  await library.takeSnapshot('vm', 'child');
  const atChild = model.slice();
  await guestWrite(library, 'vm', model, 7 << 20, 10_000, 4);
  await library.restoreSnapshot('vm', 'mid');
  await guestWrite(library, 'vm', atMid, 6 << 20, 70_000, 5); // the current state: mid's other child
  const phases = new Set<string>();
  await library.deleteSnapshot('vm', 'mid', { onProgress: (p) => phases.add(p.phase) });
  assert.deepEqual([...phases], ['merge']);

  const vm = await folderOf(library, 'vm');
  assert.deepEqual(vm.config.snapshots.list.map((s) => [s.name, s.parent && vm.config.snapshots.list.find((p) => p.id === s.parent)!.name]), [['root', null], ['child', 'root']]);
  assert.equal(vm.config.snapshots.current, vm.config.snapshots.list[0]!.id, 'the current state now hangs from root');
  assert.equal(existsSync(vm.file(mid.disks[0]!)), false, "mid's frozen image is gone");
  assertReads(await currentDisk(library, 'vm'), atMid, 'the current state kept its data');
  await library.restoreSnapshot('vm', 'child');
  assertReads(await currentDisk(library, 'vm'), atChild, "the child snapshot kept mid's data too");
  assert.equal(statSync(vm.file(vm.config.snapshots.list[1]!.disks[0]!)).mode & 0o222, 0, 'the merged child is read-only again');
  await assertImagesConsistent(library, 'vm');
});

test('deleting the root snapshot leaves its child standalone; deleting a leaf merges nothing', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, diskSize: DISK });
  const model = new Uint8Array(DISK);
  await guestWrite(library, 'vm', model, 0, 1 << 20, 1);
  await library.takeSnapshot('vm', 'root');
  const atRoot = model.slice();
  await guestWrite(library, 'vm', model, 512 << 10, 1 << 20, 2);
  await library.takeSnapshot('vm', 'leaf');
  const atLeaf = model.slice();
  await library.restoreSnapshot('vm', 'root');
  await library.deleteSnapshot('vm', 'root');
  const vm = await folderOf(library, 'vm');
  const leafImage = openDisk(vm.file(vm.config.snapshots.list[0]!.disks[0]!), { readOnly: true });
  assert.equal(leafImage.backing, null, 'the root image was merged into its only child');
  leafImage.close();
  assertReads(await currentDisk(library, 'vm'), atRoot, 'the current state (on root) survived');
  await library.restoreSnapshot('vm', 'leaf');
  assertReads(await currentDisk(library, 'vm'), atLeaf, 'leaf reads as it did');
  await library.takeSnapshot('vm', 'after');
  await library.restoreSnapshot('vm', 'leaf');
  const before = await currentDisk(library, 'vm');
  await library.deleteSnapshot('vm', 'after');
  assertReads(await currentDisk(library, 'vm'), before, 'deleting a leaf changes nothing else');
  assert.deepEqual((await folderOf(library, 'vm')).config.snapshots.list.map((s) => s.name), ['leaf']);
  await assertImagesConsistent(library, 'vm');
});

test('RAM: a saved VM\'s snapshot includes its state (unless --no-ram); restoring it makes the VM saved again', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, memory: 16 });
  const vm = await folderOf(library, 'vm');
  const ram = new Uint8Array(16 << 20);
  ram.set(pattern(9, 10_000), 4096);
  const state = { vm: vm.config.id, cpu: { pc: '2149580800' }, devices: {}, clock: { guestNs: '5' }, ram };
  await vm.saveState(async (path) => { await writeStateFile(path, state); });
  const withRam = await library.takeSnapshot('vm', 'with ram');
  const withoutRam = await library.takeSnapshot('vm', 'disks only', { noRam: true });
  assert.match(withRam.state!, /^snapshots\/[0-9a-f-]{36}\.hst$/);
  assert.equal(withoutRam.state, null);
  await library.discardSavedState('vm');
  assert.equal((await library.info('vm')).state, 'powered-off');
  await library.restoreSnapshot('vm', 'with ram');
  const info = await library.info('vm');
  assert.equal(info.state, 'saved');
  const restored = await folderOf(library, 'vm');
  const loaded = await readStateFile(restored.file(restored.config.savedState!), { vm: info.id });
  assert.deepEqual(loaded.cpu, state.cpu);
  assert.equal(Buffer.compare(loaded.ram, ram), 0);
  await library.restoreSnapshot('vm', 'disks only');
  assert.equal((await library.info('vm')).state, 'powered-off', 'a disks-only snapshot restores powered off');
  const tree = await library.snapshots('vm');
  assert.deepEqual(tree.roots.flatMap(function flat(n): [string, boolean][] { return [[n.name, n.ram], ...n.children.flatMap(flat)]; }), [['with ram', true], ['disks only', false]]);
});

test('a running machine takes a snapshot through its own state writer; restoring the hardware comes back with it', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm', ...boot, cpus: 2, memory: 16 });
  const running = await library.holdForRunning('vm');
  let writtenTo = '';
  const snap = await import('../../../engine/vm/snapshots.ts').then(({ takeSnapshot }) => takeSnapshot(running.folder, 'live', {
    writeState: async (path) => {
      writtenTo = path;
      await writeStateFile(path, { vm: running.folder.config.id, cpu: {}, devices: {}, clock: {}, ram: new Uint8Array(16 << 20) });
    },
  }));
  assert.equal(writtenTo, running.folder.file(snap.state!));
  await running.release();
  await library.modify('vm', { cpus: 1, memory: 32 });
  await library.restoreSnapshot('vm', 'live', { saveCurrentAs: 'before restore' });
  const info = await library.info('vm');
  assert.deepEqual([info.cpus, info.memory, info.state], [2, 16, 'saved'], 'the snapshot\'s hardware and state');
  const tree = await library.snapshots('vm');
  assert.deepEqual(names(tree.roots), [['live', ['before restore']]]);
  await library.restoreSnapshot('vm', 'before restore');
  assert.deepEqual([(await library.info('vm')).cpus, (await library.info('vm')).memory], [1, 32]);
});

test('full and linked clones read the source\'s state, diverge from it, and get a fresh identity', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const source = await library.create({ name: 'src', ...boot, diskSize: DISK, cpus: 2 });
  const model = new Uint8Array(DISK);
  await guestWrite(library, 'src', model, 0, 1 << 20, 1);
  await library.takeSnapshot('src', 'golden');
  const atGolden = model.slice();
  await guestWrite(library, 'src', model, 3 << 20, 1 << 20, 2);

  const atFullClone = model.slice();
  const full = await library.clone('src', 'full');
  const linked = await library.clone('src', 'linked', { linked: true, snapshot: 'golden' });
  const fromSnapshot = await library.clone('src', 'full-golden', { snapshot: 'golden' });
  for (const clone of [full, linked, fromSnapshot]) {
    assert.notEqual(clone.mac, source.mac);
    assert.notEqual(clone.machineId, source.machineId);
    assert.notEqual(clone.disks[0]!.serial, source.disks[0]!.serial);
    assert.notEqual(clone.id, source.id);
    assert.deepEqual([clone.cpus, clone.snapshots, clone.state], [2, 0, 'powered-off']);
  }
  assertReads(await currentDisk(library, 'full'), atFullClone, 'a full clone has the current state');
  assertReads(await currentDisk(library, 'linked'), atGolden, 'a linked clone has the snapshot');
  assertReads(await currentDisk(library, 'full-golden'), atGolden, 'a full clone of a snapshot');
  assert.deepEqual(linked.linkedClone, { vm: source.id, vmName: 'src', snapshot: linked.linkedClone!.snapshot, snapshotName: 'golden' });
  assert.equal(full.linkedClone, null);
  const fullImage = openDisk(join(full.folder, full.disks[0]!.file), { readOnly: true });
  assert.equal(fullImage.backing, null, 'flattened');
  fullImage.close();

  // Writes in one never appear in the other.
  const linkedModel = atGolden.slice();
  await guestWrite(library, 'linked', linkedModel, 0, 4096, 7);
  await guestWrite(library, 'src', model, 5 << 20, 4096, 8);
  assertReads(await currentDisk(library, 'linked'), linkedModel, 'the clone has its own writes only');
  assertReads(await currentDisk(library, 'src'), model, 'the source has its own writes only');

  // The source cannot drop what the linked clone sits on; the full clone outlives its source's snapshot.
  assert.deepEqual((await library.info('src')).linkedClones, ['linked']);
  await assert.rejects(library.deleteSnapshot('src', 'golden'), (err: Error) => err instanceof VmStateError && err.message === 'snapshot "golden" of VM "src" holds the disks of linked clone(s) "linked": delete those first');
  await assert.rejects(library.remove('src'), (err: Error) => err instanceof VmStateError && /VM "src" holds the disks of linked clone\(s\) "linked"/.test(err.message));
  const golden = (await library.snapshots('src')).roots[0]!;
  assert.deepEqual([golden.freedByDelete, golden.linkedClones], [null, ['linked']]);
  await library.remove('linked');
  await library.remove('src');
  assertReads(await currentDisk(library, 'full'), atFullClone, 'a full clone survives deletion of its source');
  assertReads(await currentDisk(library, 'full-golden'), atGolden, 'as does a full clone of a snapshot');
  assert.deepEqual((await library.list()).map((v) => v.name), ['full', 'full-golden']);
});

test('a linked clone without --snapshot takes one of the source first; the clone of a saved VM starts powered off', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'src', ...boot, memory: 16 });
  const vm = await folderOf(library, 'src');
  await vm.saveState(async (path) => { await writeStateFile(path, { vm: vm.config.id, cpu: {}, devices: {}, clock: {}, ram: new Uint8Array(16 << 20) }); });
  const clone = await library.clone('src', 'fast', { linked: true });
  assert.equal(clone.linkedClone!.snapshotName, 'linked clone fast');
  assert.equal(clone.state, 'powered-off');
  const snapshot = (await folderOf(library, 'src')).config.snapshots.list[0]!;
  assert.deepEqual([snapshot.name, snapshot.state], ['linked clone fast', null], 'a disks-only snapshot');
  await assert.rejects(library.clone('src', 'fast'), VmConflictError);
  await assert.rejects(library.clone('nobody', 'x'), VmNotFoundError);
  assert.deepEqual(readdirSync(library.root).filter((e) => e.startsWith('.')), [], 'failed clones leave no staging folder');
  const cloneFolder = await folderOf(library, 'fast');
  const backing = openDisk(cloneFolder.file(cloneFolder.config.disks[0]!.file), { readOnly: true });
  assert.equal(backing.backing!.path, join(clone.folder, 'disks', '..', '..', (await library.info('src')).id, snapshot.disks[0]!));
  backing.close();
  assert.ok(readFileSync(join(clone.folder, 'vm.json'), 'utf8').includes('"linkedClone"'));
});
