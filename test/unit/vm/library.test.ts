// The VM library on disk: create (custom files, an imported disk), list, info, modify, remove;
// unique names under concurrency; the running hold that refuses offline changes; damaged
// vm.json files listed and never rewritten; crash leftovers swept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRaw, openDisk } from '../../../engine/storage/index.ts';
import {
  defaultVmsRoot, RUNNING, VmConflictError, VmFolder, VmNotFoundError, VmStateError,
} from '../../../engine/vm/index.ts';
import { listPresets } from '../../../engine/vm/presets.ts';
import { writeStateFile } from '../../../engine/machine/state-file.ts';
import { pattern } from '../storage/support/workload.ts';
import { scratchLibrary } from './support.ts';
import { HangarError } from '../../../engine/common/errors.ts';
import { BootError } from '../../../engine/machine/errors.ts';

test('the library lives in $HANGAR_HOME/vms, HANGAR_HOME defaulting to the user data folder', () => {
  assert.equal(defaultVmsRoot({ HANGAR_HOME: '/data/h' }), '/data/h/vms');
  assert.equal(defaultVmsRoot({ HOME: '/home/ann' }), '/home/ann/.local/share/hangar/vms');
  assert.equal(defaultVmsRoot({ HOME: '/home/ann', XDG_DATA_HOME: '/xdg' }), '/xdg/hangar/vms');
});

test('the presets: Debian trixie riscv64 and custom kernel/initrd/disk', async () => {
  const presets = await listPresets();
  assert.deepEqual(presets.map((p) => [p.id, p.name, p.boot]), [
    ['custom', 'custom kernel/initrd/disk', 'files'],
    ['debian', 'Debian trixie riscv64 (busybox initramfs)', 'debian-guest'],
  ]);
});

test('create a custom VM: its folder, vm.json, copied boot files, a fresh qcow2 disk and identity', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const info = await library.create({ name: 'web', ...boot, append: 'console=ttyS0 quiet', cpus: 2, memory: 256, diskSize: 64 << 20 });
  assert.equal(info.name, 'web');
  assert.equal(info.state, 'powered-off');
  assert.equal(info.preset, 'custom');
  assert.deepEqual([info.cpus, info.memory], [2, 256]);
  assert.deepEqual(info.boot, { firmware: 'boot/firmware', kernel: 'boot/kernel', initrd: 'boot/initrd', append: 'console=ttyS0 quiet' });
  assert.equal(info.folder, join(library.root, info.id));
  assert.deepEqual(readdirSync(info.folder).sort(), ['boot', 'disks', 'snapshots', 'state', 'vm.json']);
  // The user's files are copied, not linked: rebuilding the kernel in place does not change the VM.
  assert.deepEqual(readFileSync(join(info.folder, 'boot/kernel')), readFileSync(boot.kernel));
  assert.notEqual(statSync(join(info.folder, 'boot/kernel')).ino, statSync(boot.kernel).ino);
  assert.equal(info.disks.length, 1);
  assert.match(info.disks[0]!.file, /^disks\/disk0-[0-9a-f]{8}\.qcow2$/);
  assert.equal(info.disks[0]!.virtualSize, 64 << 20);
  assert.match(info.disks[0]!.serial, /^HGR[0-9A-F]{12}$/);
  assert.match(info.mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
  assert.match(info.machineId, /^[0-9a-f]{32}$/);
  const config = (await VmFolder.load(info.folder)).config;
  assert.equal(config.version, 1);
  assert.deepEqual(config.snapshots, { current: null, list: [] });
  assert.deepEqual(await library.list(), [{ id: info.id, name: 'web', state: 'powered-off', cpus: 2, memory: 256, snapshots: 0 }]);
  assert.equal((await library.info(info.id)).name, 'web', 'found by id as well as by name');
  // Another VM gets another identity.
  const other = await library.create({ name: 'db', ...boot });
  assert.notEqual(other.mac, info.mac);
  assert.notEqual(other.machineId, info.machineId);
  assert.notEqual(other.disks[0]!.serial, info.disks[0]!.serial);
  assert.deepEqual([other.cpus, other.memory, other.disks[0]!.virtualSize], [1, 512, 8 * 1024 ** 3], 'the custom preset\'s defaults');
});

test('network cards: one NAT NIC by default, none or several on request, each with its own MAC in the machine', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const plain = await library.create({ name: 'plain', ...boot });
  assert.deepEqual(plain.nics, ['nat']);
  assert.deepEqual((await VmFolder.load(plain.folder)).machineConfig().nics, [{ kind: 'nat', mac: plain.mac }]);
  const offline = await library.create({ name: 'offline', ...boot, nics: [] });
  assert.deepEqual((await VmFolder.load(offline.folder)).machineConfig().nics, []);
  const two = await library.create({ name: 'two', ...boot, nics: ['nat', 'nat'] });
  const macs = (await VmFolder.load(two.folder)).machineConfig().nics!.map((nic) => nic.mac);
  assert.equal(macs[0], two.mac);
  assert.notEqual(macs[1], macs[0]);
  await assert.rejects(library.create({ name: 'many', ...boot, nics: Array(6).fill('nat') }), /at most 5 beside its disk/);
  await assert.rejects(library.create({ name: 'bridged', ...boot, nics: ['bridge' as 'nat'] }), /network card "bridge"/);
});

test('bad input is refused before anything is written, naming the value', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const refused = async (options: Parameters<typeof library.create>[0], message: RegExp) => {
    // VmArgumentError for the settings, the machine's BootError for boot files: both invalid-argument.
    await assert.rejects(library.create(options), (err: Error) => err instanceof HangarError && err.code === 'invalid-argument' && message.test(err.message));
  };
  await refused({ name: 'bad name', ...boot }, /name "bad name": must be 1 to 64 letters/);
  await refused({ name: 'x', ...boot, cpus: 9 }, /cpus 9: must be a whole number from 1 to 8/);
  await refused({ name: 'x', ...boot, memory: 4 }, /memory 4: must be a whole number of MiB from 16 to 3072/);
  await refused({ name: 'x', ...boot, diskSize: 1000 }, /disk size 1000: must be at least 1 MiB/);
  await refused({ name: 'x', ...boot, kernel: boot.initrd }, /kernel .*initrd\.img: not a RISC-V Linux Image/);
  await refused({ name: 'x', ...boot, kernel: '/nonexistent/Image' }, /kernel \/nonexistent\/Image: no such file/);
  await refused({ name: 'x', preset: 'custom', initrd: boot.initrd }, /the custom preset needs a kernel/);
  await refused({ name: 'x', preset: 'debian', ...boot }, /the debian preset boots the Debian guest's own kernel/);
  await refused({ name: 'x', preset: 'debian', firmware: boot.firmware }, /the debian preset boots Debian's OpenSBI; a firmware of your own goes with a kernel of your own/);
  assert.deepEqual(existsSync(library.root) ? readdirSync(library.root) : [], [], 'no VM, no staging folder, no lock left');
});

test('names are unique, also when several creations race for one', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => library.create({ name: 'same', ...boot })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof VmConflictError && /a VM named "same" already exists/.test(r.reason.message));
  assert.equal((await library.list()).length, 1);
  assert.deepEqual(readdirSync(library.root).filter((e) => e.startsWith('.')), [], 'the losers left no staging folders');
});

test('an existing disk image is copied in as a standalone qcow2', async (t) => {
  const { library, boot, dir } = scratchLibrary(t);
  const raw = join(dir, 'mine.raw');
  createRaw(raw, 4 << 20);
  const data = pattern(3, 100_000);
  const source = openDisk(raw);
  source.write(12345, data);
  source.close();
  const info = await library.create({ name: 'imported', ...boot, disk: raw });
  const disk = openDisk(join(info.folder, info.disks[0]!.file), { readOnly: true });
  const back = new Uint8Array(data.length);
  disk.read(12345, back);
  assert.equal(disk.format, 'qcow2');
  assert.equal(disk.backing, null);
  assert.equal(disk.size, 4 << 20);
  disk.close();
  assert.deepEqual(back, data);
  await assert.rejects(library.create({ name: 'both', ...boot, disk: raw, diskSize: 1 << 20 }), /a disk image to copy and a disk size exclude each other/);
});

test('modify changes name and hardware; a rename keeps names unique; bad values are refused', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const { id } = await library.create({ name: 'a', ...boot });
  await library.create({ name: 'b', ...boot });
  const changed = await library.modify('a', { name: 'a2', cpus: 4, memory: 1024, append: 'console=ttyS0 loglevel=7' });
  assert.deepEqual([changed.id, changed.name, changed.cpus, changed.memory, changed.boot.append], [id, 'a2', 4, 1024, 'console=ttyS0 loglevel=7']);
  await assert.rejects(library.modify('a2', { name: 'b' }), VmConflictError);
  await assert.rejects(library.modify('a2', { cpus: 0 }), /cpus 0: must be a whole number from 1 to 8/);
  await assert.rejects(library.modify('nobody', { cpus: 1 }), (err: Error) => err instanceof VmNotFoundError && err.message === 'no VM named "nobody"');
  assert.equal((await library.info(id)).name, 'a2');
});

test('a running VM (its lock held for running) refuses offline changes at once; released, it accepts them', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm1', ...boot });
  const running = await library.holdForRunning('vm1');
  assert.equal(running.folder.state(), 'running');
  assert.equal((await library.list())[0]!.state, 'running');
  const config = running.folder.machineConfig();
  assert.equal(config.kernelPath, join(running.folder.dir, 'boot', 'kernel'));
  // The kernel arguments, and the VM's machine id for the guest.
  assert.deepEqual([config.harts, config.ramBytes, config.bootargs], [1, 512 << 20, `console=ttyS0 hangar.machine_id=${running.folder.config.machineId}`]);
  const started = Date.now();
  for (const attempt of [
    () => library.modify('vm1', { cpus: 2 }),
    () => library.remove('vm1'),
    () => library.takeSnapshot('vm1', 's'),
    () => library.holdForRunning('vm1'),
  ]) {
    await assert.rejects(attempt(), (err: Error) => err instanceof VmStateError && err.message === `VM "vm1" is running (process ${process.pid}); stop it first`);
  }
  assert.ok(Date.now() - started < 2000, 'refused without waiting for the lock');
  await running.release();
  assert.equal((await library.modify('vm1', { cpus: 2 })).cpus, 2);
});

test('a saved state keeps the hardware fixed until it is discarded; saving replaces the previous state file', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'vm1', ...boot, memory: 16 });
  const running = await library.holdForRunning('vm1');
  const state = { vm: running.folder.config.id, cpu: {}, devices: {}, clock: {}, ram: new Uint8Array(16 << 20) };
  await running.folder.saveState((path) => writeStateFile(path, state).then(() => {}));
  const first = running.folder.config.savedState!;
  await running.folder.saveState((path) => writeStateFile(path, state).then(() => {}));
  const second = running.folder.config.savedState!;
  assert.notEqual(first, second);
  assert.deepEqual(readdirSync(running.folder.file('state')), [second.slice('state/'.length)], 'the older state file was swept');
  await running.release();
  assert.equal((await library.info('vm1')).state, 'saved');
  await assert.rejects(library.modify('vm1', { memory: 32 }), (err: Error) => err instanceof VmStateError && /has a saved state/.test(err.message));
  assert.equal((await library.modify('vm1', { name: 'renamed' })).name, 'renamed', 'a rename is fine');
  await library.discardSavedState('renamed');
  assert.equal((await library.info('renamed')).state, 'powered-off');
  assert.equal((await library.modify('renamed', { memory: 32 })).memory, 32);
});

test('memory that cannot hold the initrd is refused by the board\'s own check', async (t) => {
  const { library, boot, dir } = scratchLibrary(t);
  const big = join(dir, 'big-initrd');
  writeFileSync(big, new Uint8Array(20 << 20).fill(1));
  await assert.rejects(library.create({ name: 'x', ...boot, initrd: big, memory: 16 }), (err: Error) => err instanceof BootError && /initrd/.test(err.message));
});

test('remove deletes the folder; a missing VM is named', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const { folder } = await library.create({ name: 'gone', ...boot });
  await library.remove('gone');
  assert.equal(existsSync(folder), false);
  assert.deepEqual(await library.list(), []);
  await assert.rejects(library.remove('gone'), VmNotFoundError);
});

test('a damaged vm.json is listed as invalid with the reason, refused by operations, and never rewritten; it can be removed', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const { folder, id } = await library.create({ name: 'broken', ...boot });
  const file = join(folder, 'vm.json');
  const good = readFileSync(file, 'utf8');
  const damaged = good.replace('"cpus": 1', '"cpus": 99');
  writeFileSync(file, damaged);
  const [entry] = await library.list();
  assert.equal(entry!.state, 'invalid');
  assert.equal(entry!.name, 'broken');
  assert.equal(entry!.problem, `${file}: cpus: must be a whole number from 1 to 8`);
  await assert.rejects(library.info('broken'), /vm\.json: cpus: must be a whole number from 1 to 8/);
  await assert.rejects(library.modify('broken', { cpus: 2 }), /vm\.json: cpus: must be a whole number from 1 to 8/);
  await assert.rejects(library.takeSnapshot('broken', 's'), /vm\.json: cpus/);
  await assert.rejects(library.create({ name: 'broken', ...boot }), VmConflictError, 'its name stays taken');
  const truncated = good.slice(0, 100);
  writeFileSync(file, truncated);
  const [unreadable] = await library.list();
  assert.deepEqual([unreadable!.id, unreadable!.name, unreadable!.state], [id, '?', 'invalid'], 'no name to show: the id finds it');
  assert.match(unreadable!.problem!, /vm\.json: is not valid JSON .* damaged or truncated, it was left as it is/);
  assert.equal(readFileSync(file, 'utf8'), truncated, 'never rewritten');
  await library.remove(id);
  assert.deepEqual(await library.list(), []);
});

test('leftovers of a crash are swept: unreferenced files at the next operation, dead staging folders at the next creation', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const { folder } = await library.create({ name: 'vm1', ...boot });
  const config = readFileSync(join(folder, 'vm.json'), 'utf8');
  // A crash after new files were written and before vm.json named them:
  writeFileSync(join(folder, 'disks', 'disk0-deadbeef.qcow2'), 'orphan overlay');
  writeFileSync(join(folder, 'state', 'deadbeef.hst'), 'orphan state');
  writeFileSync(join(folder, '.vm.json.999999999-0.tmp'), '{"half');
  // A creation whose process died, and one still in progress (this process).
  mkdirSync(join(library.root, '.new-aaaaaaaa-0000-4000-8000-000000000000-999999999'));
  const live = join(library.root, `.new-bbbbbbbb-0000-4000-8000-000000000000-${process.pid}`);
  mkdirSync(live);
  writeFileSync(join(live, 'name'), 'reserved');
  await library.modify('vm1', { cpus: 2 });
  assert.deepEqual(readdirSync(join(folder, 'disks')).filter((f) => f.includes('deadbeef')), []);
  assert.deepEqual(readdirSync(join(folder, 'state')), []);
  assert.equal(existsSync(join(folder, '.vm.json.999999999-0.tmp')), false);
  assert.equal(readFileSync(join(folder, 'vm.json'), 'utf8'), config.replace('"cpus": 1', '"cpus": 2'));
  await assert.rejects(library.create({ name: 'reserved', ...boot }), /a VM named "reserved" already exists/);
  assert.deepEqual(readdirSync(library.root).filter((e) => e.startsWith('.new-')), [live.slice(library.root.length + 1)]);
  assert.equal((await library.list()).length, 1, 'staging folders are not VMs');
  assert.equal(RUNNING, 'running');
});
