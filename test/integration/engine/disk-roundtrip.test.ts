// Issue 4's guest round trip: a Debian guest formats a fresh 1 GiB qcow2 disk made by `hangar disk
// create` as ext4 with its own mkfs.ext4, writes 64 MiB of random data and its checksum, and
// powers off; a second boot mounts the disk and the checksum matches. Then QEMU's tools agree
// with Hangar: `qemu-img check` is clean, and Debian's host e2fsck finds the raw conversion
// clean and debugfs reads the same bytes the guest wrote. The second boot also shows a disk's
// serial number and a read-only disk refusing writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hangarSync, startHangarRun } from '../../support/hangar-process.ts';
import { SHELL_PROMPT, type GuestConsole } from '../../support/guest-console.ts';

const BOOT_TIMEOUT_MS = 300_000;
// busybox ash's prompt, followed by its cursor-position query (ESC [ 6 n).
const MiB = 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'hangar-disk-roundtrip-'));
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Boots the Debian guest with `disks`, runs `session` at its shell, powers off; returns hangar's exit status. */
async function withGuest(disks: string[], session: (guest: GuestConsole) => Promise<void>): Promise<number | null> {
  const { child, console: guest, exited } = startHangarRun(['--guest', 'debian', '--memory', '256M', ...disks.flatMap((d) => ['--disk', d])]);
  try {
    await guest.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    await ok(guest, 'dmesg -n 1'); // kernel messages (EXT4-fs mounted ...) would mix into command output
    await session(guest);
    await guest.waitFor(SHELL_PROMPT, 60_000);
    guest.type('poweroff -f\n');
    return await exited;
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * Runs a command at the prompt. Waiting for the prompt first matters: GuestConsole.run takes the
 * first newline after typing as the end of its echo, and the previous command's last newline can
 * still be on its way when its end marker has been seen.
 */
async function shell(guest: GuestConsole, command: string, timeoutMs = 60_000): Promise<{ output: string; status: number }> {
  await guest.waitFor(SHELL_PROMPT, timeoutMs);
  return guest.run(command, timeoutMs);
}

/** Runs a command that must succeed; returns its output. */
async function ok(guest: GuestConsole, command: string, timeoutMs = 60_000): Promise<string> {
  const { output, status } = await shell(guest, command, timeoutMs);
  assert.equal(status, 0, `${command} failed:\n${output}`);
  return output;
}

test('ext4 on a fresh qcow2: written in one boot, checksum matching in the next, clean for qemu-img and e2fsck', { timeout: 1_800_000 }, async (t) => {
  const started = Date.now();
  const elapsed = (what: string) => t.diagnostic(`${what} after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const disk = join(dir, 'disk.qcow2');
  assert.equal(hangarSync(['disk', 'create', disk, '1G']).status, 0);
  // A read-only disk: a small raw ext4 image made on the host, holding one file.
  const hostFile = join(dir, 'host-file');
  writeFileSync(hostFile, randomBytes(100_000));
  const readOnly = join(dir, 'readonly.img');
  execFileSync('truncate', ['-s', '16M', readOnly]);
  execFileSync('mkfs.ext4', ['-q', '-F', readOnly]);
  execFileSync('debugfs', ['-w', '-R', `write ${hostFile} host-file`, readOnly], { stdio: 'ignore' });
  const readOnlyBefore = sha256(readFileSync(readOnly));

  let written = '';
  const first = await withGuest([disk], async (guest) => {
    elapsed('first boot');
    await ok(guest, 'mkfs.ext4 -q /dev/vda', 300_000);
    await ok(guest, 'mkdir -p /mnt && mount /dev/vda /mnt');
    await ok(guest, 'dd if=/dev/urandom of=/mnt/data bs=1M count=64', 900_000);
    elapsed('64 MiB written');
    await ok(guest, '(cd /mnt && sha256sum data > data.sha256)', 600_000);
    elapsed('checksum');
    written = await ok(guest, 'cat /mnt/data.sha256');
    await ok(guest, 'sync && umount /mnt', 300_000);
  });
  assert.equal(first, 0);
  assert.match(written, /^[0-9a-f]{64} {2}data$/);

  const second = await withGuest([`${disk},serial=HANGAR-RT-1`, `${readOnly},readonly,serial=HANGAR-RO`], async (guest) => {
    elapsed('second boot');
    assert.equal(await ok(guest, 'cat /sys/block/vda/serial'), 'HANGAR-RT-1');
    assert.equal(await ok(guest, 'cat /sys/block/vdb/serial'), 'HANGAR-RO');
    await ok(guest, 'mkdir -p /mnt && mount /dev/vda /mnt');
    assert.equal(await ok(guest, 'cat /mnt/data.sha256'), written);
    assert.equal(await ok(guest, '(cd /mnt && sha256sum -c data.sha256)', 600_000), 'data: OK');
    assert.equal(await ok(guest, 'wc -c < /mnt/data'), String(64 * MiB));
    await ok(guest, 'umount /mnt');
    // The read-only disk: the kernel knows it, a direct write fails, a mount gives a read-only file system.
    assert.equal(await ok(guest, 'cat /sys/block/vdb/ro'), '1');
    const write = await shell(guest, 'dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct');
    assert.notEqual(write.status, 0, write.output);
    await ok(guest, 'mkdir -p /ro && mount /dev/vdb /ro');
    assert.match(await ok(guest, 'grep " /ro " /proc/mounts'), /\bro\b/);
    assert.notEqual((await shell(guest, 'touch /ro/new-file')).status, 0);
    assert.equal(await ok(guest, 'sha256sum < /ro/host-file'), `${sha256(readFileSync(hostFile))}  -`);
    await ok(guest, 'umount /ro');
  });
  assert.equal(second, 0);
  assert.equal(sha256(readFileSync(readOnly)), readOnlyBefore, 'the read-only image is unchanged');

  elapsed('second power-off');
  // QEMU's and Debian's tools agree.
  const check = spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /No errors were found on the image/);
  const raw = join(dir, 'disk.raw');
  execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
  const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  const dumped = join(dir, 'data.dumped');
  execFileSync('debugfs', ['-R', `dump /data ${dumped}`, raw], { stdio: 'ignore' });
  assert.equal(`${sha256(readFileSync(dumped))}  data`, written);
});
