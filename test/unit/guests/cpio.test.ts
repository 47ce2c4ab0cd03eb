// Our cpio newc writer checked by GNU cpio (Debian's `cpio -itv` and `cpio -id`), and the
// initramfs built with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeCpio } from '../../../engine/guests/cpio.ts';
import { buildInitramfs } from '../../../engine/guests/initramfs.ts';

const listing = (archive: Buffer) => execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' }).trim().split('\n');

test('cpio -itv lists what writeCpio wrote: types, modes, sizes, symlink targets, device numbers', () => {
  const archive = writeCpio([
    { type: 'dir', path: 'bin' },
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'file', path: 'bin/tool', mode: 0o755, data: Buffer.from('12345') },
    { type: 'symlink', path: 'bin/sh', target: 'tool' },
    { type: 'char', path: 'console', major: 5, minor: 1 },
    { type: 'file', path: 'empty', data: Buffer.alloc(0) },
  ]);
  assert.equal(archive.subarray(0, 6).toString(), '070701');
  assert.equal(archive.length % 4, 0);
  const lines = listing(archive).map((line) => line.split(/\s+/));
  // mode, links, owner, group, size (or major, minor), ..., name
  assert.deepEqual(lines.map((f) => [f[0], f[2], f[3], f.at(-1)]), [
    ['drwxr-xr-x', 'root', 'root', 'bin'],
    ['drwxrwxrwt', 'root', 'root', 'tmp'],
    ['-rwxr-xr-x', 'root', 'root', 'bin/tool'],
    ['lrwxrwxrwx', 'root', 'root', 'tool'],
    ['crw-------', 'root', 'root', 'console'],
    ['-rw-r--r--', 'root', 'root', 'empty'],
  ]);
  assert.equal(lines[2]![4], '5');
  assert.deepEqual(lines[3]!.slice(-3), ['bin/sh', '->', 'tool']);
  assert.deepEqual(lines[4]!.slice(4, 6), ['5,', '1']);
});

test('cpio -id extracts the same bytes; names of every length stay aligned', () => {
  const files = Array.from({ length: 8 }, (_, i) => ({ path: `d/${'n'.repeat(i + 1)}`, data: Buffer.alloc(i * 3 + 1, 65 + i) }));
  const archive = writeCpio([{ type: 'dir', path: 'd' }, ...files.map((f) => ({ type: 'file' as const, ...f })), { type: 'symlink', path: 'd/link', target: 'nnn' }]);
  const dir = mkdtempSync(join(tmpdir(), 'hangar-cpio-'));
  execFileSync('cpio', ['-id', '--quiet'], { input: archive, cwd: dir });
  for (const f of files) assert.deepEqual(readFileSync(join(dir, f.path)), f.data);
  assert.equal(readlinkSync(join(dir, 'd/link')), 'nnn');
});

test('writeCpio refuses paths that climb out of the archive', () => {
  assert.throws(() => writeCpio([{ type: 'file', path: 'a/../../etc/passwd', data: Buffer.alloc(1) }]), /bad path/);
  assert.throws(() => writeCpio([{ type: 'dir', path: '/' }]), /bad path/);
});

test('the initramfs: gzip of a cpio with /init, busybox, /dev/console, /etc, modules in order and modules.dep', () => {
  const image = buildInitramfs({
    busybox: Buffer.from('\x7fELF busybox'),
    init: '#!/bin/busybox sh\necho hi\n',
    hostname: 'guest',
    kernelRelease: '6.12.0-test',
    modules: [
      { path: 'kernel/lib/crc16.ko', needs: [], data: Buffer.from('crc16') },
      { path: 'kernel/fs/ext4/ext4.ko', needs: ['kernel/lib/crc16.ko'], data: Buffer.from('ext4') },
    ],
  });
  assert.deepEqual([...image.subarray(0, 2)], [0x1f, 0x8b]);
  const archive = gunzipSync(image);
  const names = listing(archive).map((line) => line.split(/\s+/).at(-1));
  for (const expected of ['init', 'bin/busybox', 'dev/console', 'etc/passwd', 'etc/group', 'etc/hostname', 'proc', 'sys', 'tmp',
    'lib/modules/6.12.0-test/modules.dep', 'lib/modules/6.12.0-test/kernel/lib/crc16.ko', 'lib/modules/6.12.0-test/kernel/fs/ext4/ext4.ko']) {
    assert.ok(names.includes(expected), `${expected} in ${names.join(' ')}`);
  }
  // Every directory comes before anything inside it, as the kernel's unpacker needs.
  for (const [i, name] of names.entries()) {
    const parent = name!.includes('/') ? name!.slice(0, name!.lastIndexOf('/')) : null;
    if (parent) assert.ok(names.indexOf(parent) >= 0 && names.indexOf(parent) < i, `${parent} before ${name}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hangar-initramfs-'));
  // (dev/console left out: only root may make a device node.)
  execFileSync('cpio', ['-id', '--quiet', '-f', 'dev/console'], { input: archive, cwd: dir });
  assert.equal(readFileSync(join(dir, 'init'), 'utf8'), '#!/bin/busybox sh\necho hi\n');
  assert.equal(statSync(join(dir, 'init')).mode & 0o777, 0o755);
  assert.equal(readFileSync(join(dir, 'etc/hostname'), 'utf8'), 'guest\n');
  assert.match(readFileSync(join(dir, 'etc/passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);
  assert.equal(readFileSync(join(dir, 'etc/modules-load-order'), 'utf8'), 'kernel/lib/crc16.ko\nkernel/fs/ext4/ext4.ko\n');
  assert.equal(readFileSync(join(dir, 'lib/modules/6.12.0-test/modules.dep'), 'utf8'), 'kernel/lib/crc16.ko:\nkernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko\n');
});

test('the same inputs give the same initramfs bytes (the cache key promises it)', () => {
  const input = { busybox: Buffer.from('bb'), init: 'x', hostname: 'h', kernelRelease: 'r', modules: [] };
  assert.deepEqual(buildInitramfs(input), buildInitramfs(input));
});
