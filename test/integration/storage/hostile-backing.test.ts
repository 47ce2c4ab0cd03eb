// Backing file names in images from outside Hangar: a downloaded qcow2 names any host path it
// likes (`/etc/…`, `../../..`, a FIFO). Opened as an outside image — and copied in by
// `vm create --disk` — its chain must stay in the image's own folder and be made of regular
// files; the refusal names the backing name. Chains inside the folder still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createQcow2, DiskError, openDisk } from '../../../engine/storage/index.ts';
import { runChild, STORAGE } from '../../unit/storage/support/child.ts';
import { pattern, readAll } from '../../unit/storage/support/workload.ts';
import { scratchLibrary } from '../../unit/vm/support.ts';
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
