// Backing file names in images from outside Hangar: a downloaded qcow2 names any host path it
// likes (`/etc/…`, `../../..`, a FIFO). Opened as an outside image — and copied in by
// `vm create --disk`, `hangar run --disk` and `hangar disk convert` — its chain must stay in
// the image's own folder (or a backing-root the user names) and be made of regular files; the
// refusal names the backing name. Chains inside the folder still work. The VM library opens its
// own disks confined to the library, linked clones included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createQcow2, DiskError, openDisk } from '../../../engine/storage/index.ts';
import { runChild, STORAGE } from '../../unit/storage/support/child.ts';
import { pattern, readAll } from '../../unit/storage/support/workload.ts';
import { bootFiles, scratchLibrary } from '../../unit/vm/support.ts';
import { hangarSync } from '../../support/hangar-process.ts';
import { closeDisks, openDisks } from '../../../engine/machine/disks.ts';
import { VmFolder } from '../../../engine/vm/index.ts';
import { qemuImg } from './support/qemu.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-hostile-backing-'));
const HOST_FILE = '/etc/hostname';

/** A qcow2 image QEMU makes over `backing` (a name stored as given), without opening it (-u). */
function overlayNaming(path: string, backing: string, format = 'raw'): string {
  qemuImg('create', '-f', 'qcow2', '-u', '-b', backing, '-F', format, path, '1M');
  return path;
}

const outside = (path: string) => openDisk(path, { readOnly: true, backingRoots: [dirname(path)] });

function refusedNaming(name: string, open: () => unknown): void {
  assert.throws(open, (err: unknown) => {
    assert.ok(err instanceof DiskError, `a DiskError, not ${String(err)}`);
    assert.ok(err.message.includes(`"${name}"`), `names the refused backing name: ${err.message}`);
    return true;
  });
}

test('a qcow2 backed by /etc/hostname (qemu-img create -b /etc/hostname -F raw) is refused as an outside image', () => {
  const evil = overlayNaming(join(dir, 'evil.qcow2'), HOST_FILE);
  refusedNaming(HOST_FILE, () => outside(evil));
  // The library's own images are trusted: the same file opened so shows what the guard prevents.
  const trusted = openDisk(evil, { readOnly: true });
  assert.equal(trusted.backing?.path, HOST_FILE, 'without the guard the host file is part of the disk');
  trusted.close();
});

test('vm create --disk refuses an image backed by a host file, and leaves no VM behind', async (t) => {
  const { library, boot } = scratchLibrary(t);
  const evil = overlayNaming(join(dir, 'download.qcow2'), HOST_FILE);
  await assert.rejects(library.create({ name: 'evil', ...boot, disk: evil }), (err: unknown) => {
    assert.ok(err instanceof DiskError, String(err));
    assert.match(err.message, /backing file name "\/etc\/hostname" leads to \/etc\/hostname, outside /);
    return true;
  });
  assert.deepEqual(await library.list(), []);
  assert.deepEqual(readdirSync(library.root).filter((e) => e !== 'library.lock' && !e.startsWith('.lock')), [], 'no VM folder, no staging folder');
});

test('"../" out of the image\'s folder is refused, also through a symbolic link inside it', async (t) => {
  const sub = join(dir, 'downloads');
  mkdirSync(sub);
  writeFileSync(join(dir, 'secret.raw'), pattern(1, 1 << 20));
  const up = overlayNaming(join(sub, 'up.qcow2'), '../secret.raw');
  refusedNaming('../secret.raw', () => outside(up));
  const deep = overlayNaming(join(sub, 'deep.qcow2'), '../../../../../../../../etc/hostname');
  refusedNaming('../../../../../../../../etc/hostname', () => outside(deep));
  symlinkSync(join(dir, 'secret.raw'), join(sub, 'innocent.raw'));
  const linked = overlayNaming(join(sub, 'linked.qcow2'), 'innocent.raw');
  refusedNaming('innocent.raw', () => outside(linked));
  const { library, boot } = scratchLibrary(t);
  await assert.rejects(library.create({ name: 'up', ...boot, disk: up }), /backing file name "\.\.\/secret\.raw"/);
});

test('a FIFO as backing file is refused at once, never waited on', () => {
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const image = overlayNaming(join(dir, 'fifo.qcow2'), 'pipe');
  // In a child process: a blocking open() would hang it, and the timeout shows that as a failure.
  const child = runChild(`
    import { openDisk } from ${STORAGE};
    for (const options of [{ readOnly: true }, { readOnly: false }, { readOnly: true, backingRoots: [${JSON.stringify(dir)}] }]) {
      try { openDisk(${JSON.stringify(image)}, options).close(); console.log('opened'); } catch (err) { console.log(err.name + ': ' + err.message); }
    }
    try { openDisk(${JSON.stringify(fifo)}, { readOnly: true }); console.log('opened'); } catch (err) { console.log(err.name + ': ' + err.message); }`, 20_000);
  assert.equal(child.killed, false, `the open did not hang (killed after ${child.ms} ms)`);
  const lines = child.stdout.trim().split('\n');
  assert.equal(lines.length, 4, child.stdout + child.stderr);
  for (const line of lines.slice(0, 3)) assert.match(line, /^DiskError: .*fifo\.qcow2: backing file name "pipe" leads to .*pipe, which is not a regular file$/);
  assert.match(lines[3]!, /^DiskError: .*pipe: is not a regular file or block device$/, 'a FIFO as the image itself too');
});

test('a chain inside the folder (relative and absolute names) opens as an outside image and vm create --disk flattens it', async (t) => {
  const sub = join(dir, 'chain');
  mkdirSync(sub);
  const data = pattern(7, 1 << 20);
  writeFileSync(join(sub, 'base.raw'), data);
  createQcow2(join(sub, 'mid.qcow2'), undefined, { backing: 'base.raw' });
  createQcow2(join(sub, 'top.qcow2'), undefined, { backing: join(sub, 'mid.qcow2') }); // absolute, inside
  const write = openDisk(join(sub, 'top.qcow2'));
  write.write(65536, pattern(8, 4096));
  write.close();
  const expected = Uint8Array.from(data);
  expected.set(pattern(8, 4096), 65536);
  const disk = outside(join(sub, 'top.qcow2'));
  assert.deepEqual(readAll(disk), expected);
  disk.close();

  const { library, boot } = scratchLibrary(t);
  const info = await library.create({ name: 'flat', ...boot, disk: join(sub, 'top.qcow2') });
  const copy = openDisk(join(info.folder, info.disks[0]!.file), { readOnly: true });
  assert.equal(copy.backing, null, 'flattened');
  assert.deepEqual(readAll(copy), expected);
  copy.close();
  assert.ok(readFileSync(join(sub, 'base.raw')).equals(data), 'the source chain is untouched');
});

test('hangar run --disk refuses an image backed by /etc/hostname at once, naming it; the machine never starts', () => {
  const evil = overlayNaming(join(dir, 'run-evil.qcow2'), HOST_FILE);
  // Boot files that would start a machine (a nop-sled firmware spins forever): only the disk check stops it.
  const boot = bootFiles(mkdtempSync(join(dir, 'boot-')));
  const started = Date.now();
  const result = hangarSync(['run', '--kernel', boot.kernel, '--firmware', boot.firmware, '--disk', evil], { timeoutMs: 20_000 });
  const ms = Date.now() - started;
  assert.equal(result.status, 2, `refused as bad input (status ${result.status} after ${ms} ms): ${result.stderr}`);
  assert.match(result.stderr, /run-evil\.qcow2: backing file name "\/etc\/hostname" leads to \/etc\/hostname, outside /);
  assert.equal(result.stdout, '', 'no console output: the machine never started');
  assert.ok(ms < 10_000, `refused quickly (${ms} ms)`);
});

test('hangar run --disk FILE,backing-root=DIR allows a chain in DIR, and only there', () => {
  const bases = join(dir, 'bases');
  const vms = join(dir, 'vms-elsewhere');
  mkdirSync(bases);
  mkdirSync(vms);
  writeFileSync(join(bases, 'base.raw'), pattern(3, 1 << 20));
  const image = join(vms, 'vm.qcow2');
  createQcow2(image, undefined, { backing: join(bases, 'base.raw') });
  // Without a kernel, run stops after the disk check: the error then says which check failed.
  const refused = hangarSync(['run', '--disk', image]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /backing file name ".*base\.raw" leads to .*, outside /);
  const allowed = hangarSync(['run', '--disk', `${image},backing-root=${bases}`]);
  assert.equal(allowed.status, 2);
  assert.match(allowed.stderr, /--kernel FILE or --guest debian is required/, 'the disk passed its check');
  const unknown = hangarSync(['run', '--disk', `${image},backing-root=`]);
  assert.match(unknown.stderr, /unknown setting "backing-root="/, 'an empty backing-root is refused, not taken as the current folder');
});

test('hangar disk convert copies no host file: refused unless --backing-root names the folder', () => {
  const evil = overlayNaming(join(dir, 'convert-evil.qcow2'), HOST_FILE);
  const dst = join(dir, 'converted.raw');
  const refused = hangarSync(['disk', 'convert', '-O', 'raw', evil, dst]);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /backing file name "\/etc\/hostname"/);
  assert.equal(existsSync(dst), false, 'nothing written');
  const allowed = hangarSync(['disk', 'convert', '-O', 'raw', '--backing-root', '/etc', evil, dst]);
  assert.equal(allowed.status, 0, allowed.stderr);
  assert.equal(readFileSync(dst).length, 1 << 20, 'the named folder is allowed on purpose');
});

test('the library opens its disks confined to the library: a linked clone works, a tampered image is refused', async (t) => {
  const { library, boot } = scratchLibrary(t);
  await library.create({ name: 'src', ...boot, diskSize: 1 << 20 });
  const clone = await library.clone('src', 'linked', { linked: true });
  const folder = await VmFolder.load(clone.folder);
  const configs = folder.diskConfigs();
  assert.deepEqual(configs[0]!.backingRoots, [library.root]);
  closeDisks(openDisks(configs)); // backed by the source VM's snapshot image, beside it in the library
  // An image in the library that names a host file (tampered, or a bug) is refused all the same.
  const tampered = join(clone.folder, 'disks', 'tampered.qcow2');
  overlayNaming(tampered, HOST_FILE);
  assert.throws(() => openDisks([{ ...configs[0]!, path: tampered }]), /backing file name "\/etc\/hostname" leads to \/etc\/hostname, outside /);
});
