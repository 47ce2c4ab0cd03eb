// `hangar run` refuses bad input with one line naming the file or value, and exit status 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hangarSync } from '../../support/hangar-process.ts';
import { createQcow2 } from '../../../engine/storage/index.ts';
import { riscvImage } from '../../support/riscv-image.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-badinput-'));
const file = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };

const firmware = file('fw_dynamic.bin', new Uint8Array(4096).fill(0x13));
const kernel = file('Image', riscvImage());
const initrd = file('initrd.img', new Uint8Array(1024));

function expectRefusal(args: string[], mentions: string) {
  const result = hangarSync(['run', ...args]);
  assert.equal(result.status, 2, `status for ${args.join(' ')}: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${result.stderr}`);
  assert.ok(lines[0]!.includes(mentions), `"${lines[0]}" should name ${mentions}`);
}

test('a missing kernel, firmware or initrd is named', () => {
  expectRefusal(['--kernel', join(dir, 'nope'), '--firmware', firmware], join(dir, 'nope'));
  expectRefusal(['--kernel', kernel, '--firmware', join(dir, 'nofw')], join(dir, 'nofw'));
  expectRefusal(['--kernel', kernel, '--firmware', firmware, '--initrd', join(dir, 'noinitrd')], join(dir, 'noinitrd'));
});

test('a truncated kernel or an empty firmware or initrd is named', () => {
  const truncated = file('Image.truncated', riscvImage().subarray(0, 40));
  expectRefusal(['--kernel', truncated, '--firmware', firmware], truncated);
  const emptyFirmware = file('empty-fw.bin', new Uint8Array(0));
  expectRefusal(['--kernel', kernel, '--firmware', emptyFirmware], emptyFirmware);
  const emptyInitrd = file('empty-initrd', new Uint8Array(0));
  expectRefusal(['--kernel', kernel, '--firmware', firmware, '--initrd', emptyInitrd], emptyInitrd);
});

test('a kernel that is neither a RISC-V Image nor a RISC-V ELF is refused', () => {
  const hostElf = file('host-elf', readFileSync(process.execPath).subarray(0, 65536)); // an x86-64 (or other host) ELF
  expectRefusal(['--kernel', hostElf, '--firmware', firmware], hostElf);
  const noise = file('noise', new Uint8Array(65536).map((_, i) => (i * 2654435761) >>> 24));
  expectRefusal(['--kernel', noise, '--firmware', firmware], noise);
});

test('memory sizes of 0 or above 3 GiB are refused', () => {
  expectRefusal(['--kernel', kernel, '--firmware', firmware, '--memory', '0'], '--memory 0');
  expectRefusal(['--kernel', kernel, '--firmware', firmware, '--memory', '4G'], '--memory 4G');
  expectRefusal(['--kernel', kernel, '--firmware', firmware, '--memory', '3073M'], '--memory 3073M');
});

test('initrd that does not fit in RAM is refused', () => {
  const big = file('big-initrd', new Uint8Array(20 * 1024 * 1024));
  expectRefusal(['--kernel', kernel, '--firmware', firmware, '--initrd', big, '--memory', '16M'], big);
});

test('a disk that cannot be opened is named, and nothing is written to it', () => {
  const good = join(dir, 'good.qcow2');
  createQcow2(good, 64 * 1024 * 1024);
  const withDisk = (spec: string) => ['--kernel', kernel, '--firmware', firmware, '--disk', spec];
  expectRefusal(withDisk(join(dir, 'no-disk.qcow2')), join(dir, 'no-disk.qcow2'));
  // A qcow2 header cut short, and one whose backing file is gone.
  const truncated = file('truncated.qcow2', readFileSync(good).subarray(0, 64));
  expectRefusal(withDisk(truncated), truncated);
  const overlay = join(dir, 'overlay.qcow2');
  const base = join(dir, 'base.qcow2');
  createQcow2(base, 64 * 1024 * 1024);
  createQcow2(overlay, undefined, { backing: 'base.qcow2' });
  rmSync(base);
  expectRefusal(withDisk(overlay), base);
  assert.deepEqual(readFileSync(truncated), readFileSync(good).subarray(0, 64));
  expectRefusal(withDisk(dir), dir);
});

/** `--disk FILE` for `count` new one-sector raw images. */
function diskOptions(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const path = join(dir, `${prefix}-${i}.img`);
    writeFileSync(path, new Uint8Array(512));
    return ['--disk', path];
  }).flat();
}

test('bad --disk settings are refused: unknown flags, long serials, one image twice, too many disks', () => {
  const disk = join(dir, 'disk.qcow2');
  createQcow2(disk, 1024 * 1024);
  const boot = ['--kernel', kernel, '--firmware', firmware];
  expectRefusal([...boot, '--disk', `${disk},writeback`], 'writeback');
  expectRefusal([...boot, '--disk', `${disk},serial=ABCDEFGHIJKLMNOPQRSTU`], 'ABCDEFGHIJKLMNOPQRSTU');
  expectRefusal([...boot, '--disk', `${disk},serial=`], 'serial');
  expectRefusal([...boot, '--disk', ',readonly'], '--disk');
  expectRefusal([...boot, '--disk', disk, '--disk', `${join(dir, '.', 'disk.qcow2')},readonly`], disk);
  expectRefusal([...boot, ...diskOptions('many', 7)], 'at most 6 disks');
});

test('bad --net settings are refused: unknown kinds, internal networks (not built), none with others, too many cards', () => {
  const boot = ['--kernel', kernel, '--firmware', firmware];
  expectRefusal([...boot, '--net', 'bridge'], '--net bridge');
  expectRefusal([...boot, '--net', 'internal:lab'], 'not built yet');
  expectRefusal([...boot, '--net', 'none', '--net', 'nat'], '--net none');
  // Six disks fill the board's virtio slots: the default NAT card does not fit beside them.
  expectRefusal([...boot, ...diskOptions('six', 6)], 'disks and network cards together');
});
