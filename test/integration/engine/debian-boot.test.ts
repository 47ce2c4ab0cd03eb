// The engine core's bar: Debian's own trixie kernel, OpenSBI and busybox boot to a shell in
// Hangar, and commands in the guest give the right answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startHangarRun } from '../../support/hangar-process.ts';
import { SHELL_PROMPT } from '../../support/guest-console.ts';

const BOOT_TIMEOUT_MS = 180_000;
// busybox ash's prompt, followed by its cursor-position query (ESC [ 6 n).

test('Debian trixie boots to the busybox shell and runs commands correctly', { timeout: 900_000 }, async () => {
  const { child, console: guest, exited } = startHangarRun(['--guest', 'debian', '--memory', '512M']);
  try {
    await guest.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    assert.match(guest.transcript, /Linux version 6\.12\./);

    assert.equal((await guest.run('uname -m')).output, 'riscv64');

    const cpuinfo = (await guest.run('cat /proc/cpuinfo')).output;
    assert.match(cpuinfo, /^isa\s*:\s*rv64imafdc/m);

    // 4 MiB of text generated in the guest: 1..1000, doubled by cat until it passes 4 MiB. (Busybox
    // seq and awk write line by line, a syscall each, which takes minutes under emulation —
    // under qemu-system-riscv64 too.) The host generates the same bytes.
    const generate = 'seq 1 1000 > /tmp/a; while [ $(wc -c < /tmp/a) -lt 4194304 ]; do cat /tmp/a /tmp/a > /tmp/b; mv /tmp/b /tmp/a; done';
    await guest.run(generate, 300_000);
    const guestDigest = (await guest.run('head -c 4194304 /tmp/a > /tmp/f && sha256sum /tmp/f', 120_000)).output;
    let block = '';
    for (let i = 1; i <= 1000; i++) block += `${i}\n`;
    let text = block;
    while (text.length < 4194304) text += text;
    const hostDigest = createHash('sha256').update(text.slice(0, 4194304)).digest('hex');
    assert.equal(guestDigest.split(/\s+/)[0], hostDigest);

    assert.equal((await guest.run(`awk 'BEGIN{printf "%.6f\\n", 1/3 + 2/7}'`)).output, '0.619048');

    const pi = (await guest.run(`echo 'scale=40; 4*a(1)' | bc -l`, 120_000)).output.replace(/\\\n/g, '');
    // bc's arctangent series at scale 40, exactly as GNU bc and busybox bc under QEMU print it
    // (the last two digits carry bc's own truncation error: π = ...8841971...).
    assert.equal(pi, '3.1415926535897932384626433832795028841968');

    guest.type('poweroff -f\n');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});
