// Save → restore of a running machine, exactly: the Debian guest, with 1 and with 4 vCPUs, runs
// a shell loop that counts into a file; it is paused, its state saved, the machine killed, and a
// new MachineHost resumes the file. The console answers at once (no boot), the loop goes on with
// the next number (the file holds 1..N without a gap or a repeat), and guest time continues from
// the pause: /proc/uptime did not jump by the time the machine was down. State files that are
// truncated, damaged, another VM's or of another machine's shape end the machine with an error
// that says so. The agent's channel (hvc0) carries bytes both ways, 8-bit clean. The 1-vCPU
// guest also writes its disk across a live disk swap (replaceDisks: a qcow2 overlay on the image
// it had open, as a live snapshot makes) and the restore: the old image keeps what was written
// before the swap, the overlay everything. Console input pasted while it is paused (more than the
// input ring holds) is carried by the state file and read in full by the restored guest.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureDebianGuest } from '../../../engine/guests/debian.ts';
import { createQcow2, createRaw, openDisk } from '../../../engine/storage/index.ts';
import type { MachineConfig } from '../../../engine/machine/machine.ts';
import { MachineHost } from '../../../engine/vcpu/machine-host.ts';
import { GuestConsole } from '../../support/guest-console.ts';

/** busybox ash's prompt, followed by its cursor-position query (ESC [ 6 n). */
const PROMPT = /# (\x1b\[6n)?$/;
const BOOT_TIMEOUT_MS = 600_000;
const RAM_BYTES = 256 * 1024 * 1024;
const VM = 'state-test-vm';
/** The machine stays down at least this long, so that a guest clock that jumped would show it. */
const DOWN_MS = 8000;
/** Guest seconds the test's own console round trips may add beyond the host time it measured. */
const UPTIME_SLACK_S = 1.5;

const dir = mkdtempSync(join(tmpdir(), 'hangar-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function machineConfig(harts: number, disk: string | null): Promise<MachineConfig> {
  const guest = await ensureDebianGuest({});
  // Only the virtio modules the test uses (ext4 takes seconds to load); no kernel messages in the answers.
  return {
    harts, ramBytes: RAM_BYTES, firmwarePath: guest.firmware, kernelPath: guest.kernel, initrdPath: guest.initrd,
    bootargs: `${guest.bootargs} quiet hangar.modules=virtio_mmio${disk ? ',virtio_blk' : ''}`,
    disks: disk ? [{ path: disk, readOnly: false, serial: 'state0' }] : [],
  };
}

const SECTOR = 512;
const DISK_BYTES = 4 * 1024 * 1024;

/** Writes `text` into sector `sector` of the guest's vda, past its page cache, flushed. */
async function writeSector(guest: GuestConsole, sector: number, text: string): Promise<void> {
  const { status, output } = await guest.run(`echo ${text} > /tmp/s && dd if=/tmp/s of=/dev/vda bs=${SECTOR} seek=${sector} count=1 conv=sync,fsync,notrunc oflag=direct 2>&1`);
  assert.equal(status, 0, output);
}

/** The text at the start of each of the first `sectors` sectors of an image, read on the host. */
function sectorsOf(path: string, sectors: number): string[] {
  const disk = openDisk(path, { readOnly: true });
  try {
    return Array.from({ length: sectors }, (_, sector) => {
      const bytes = new Uint8Array(SECTOR);
      disk.read(sector * SECTOR, bytes);
      return Buffer.from(bytes).toString('latin1').replace(/\n?\0*$/, '');
    });
  } finally {
    disk.close();
  }
}

function consoleOf(machine: MachineHost): GuestConsole {
  return new GuestConsole({
    onData: (listener) => machine.on('console', listener),
    write: (text) => machine.sendConsole(Buffer.from(text)),
  });
}

const uptime = async (guest: GuestConsole) => Number((await guest.run(`cut -d' ' -f1 /proc/uptime`)).output);

/** The counter file's numbers; asserts they are 1..N, each once, in order. */
async function counted(guest: GuestConsole): Promise<number> {
  const lines = (await guest.run('cat /tmp/count', 120_000)).output.split('\n');
  lines.forEach((line, i) => assert.equal(line, String(i + 1), `line ${i + 1} of /tmp/count`));
  return lines.length;
}

/** A 1-vCPU machine's state file with a disk (the first test's), for the refusal test. */
let savedWithDisk: { path: string; config: MachineConfig } | null = null;

/** An earlier test's state file, or one made here when none ran (each test stands on its own). */
async function stateWithDisk(): Promise<{ path: string; config: MachineConfig }> {
  if (savedWithDisk) return savedWithDisk;
  const image = join(dir, 'refusal-disk.raw');
  createRaw(image, DISK_BYTES);
  const config = await machineConfig(1, image);
  const machine = new MachineHost(config);
  const path = join(dir, 'refusal.hst');
  try {
    await consoleOf(machine).waitFor(PROMPT, BOOT_TIMEOUT_MS);
    await machine.pause();
    await machine.saveState(path, VM);
  } finally {
    await machine.kill();
  }
  savedWithDisk = { path, config };
  return savedWithDisk;
}

/** More than the console's 64 KiB input ring: pasted while the machine is paused, the rest waits in the host. */
const PASTE_BYTES = 192 * 1024;

test('console input pasted into a paused machine, more than its input ring holds, is carried by the state file and read whole after the restore', { timeout: 1_800_000 }, async () => {
  const config = await machineConfig(1, null);
  const path = join(dir, 'paste.hst');
  // Printable, so that the tty passes it as it is; random, so that a lost or moved byte shows.
  const paste = Buffer.from(randomBytes(PASTE_BYTES).map((b) => 0x21 + (b % 94)));
  const first = new MachineHost(config);
  try {
    const guest = consoleOf(first);
    await guest.waitFor(PROMPT, BOOT_TIMEOUT_MS);
    // A raw reader of the console (the typed line echoes RE""ADY, so only the echo command prints READY).
    guest.type(`stty raw -echo; echo RE""ADY; head -c ${PASTE_BYTES} > /tmp/pasted; stty sane; echo PAS""TED\n`);
    await guest.waitFor('READY', 60_000);
    await sleep(500);
    await first.pause();
    let handedOver = false;
    const pasted = first.sendConsole(paste).then(() => { handedOver = true; });
    await sleep(200);
    assert.equal(handedOver, false, 'the paste waits for room in the ring while the machine is paused');
    await first.saveState(path, VM);
    await pasted; // the save took what waited into the machine's state
  } finally {
    await first.kill();
  }
  const second = new MachineHost({ ...config, restoreFrom: { path, vm: VM } });
  try {
    const guest = consoleOf(second);
    await second.started;
    const started = performance.now();
    await guest.waitFor('PASTED', 600_000);
    process.stderr.write(`state-restore: the restored guest read the ${PASTE_BYTES >> 10} KiB paste in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    const { output } = await guest.run('sha256sum /tmp/pasted');
    assert.equal(output.split(' ')[0], createHash('sha256').update(paste).digest('hex'), 'what the guest read is the paste');
  } finally {
    await second.kill();
  }
});

for (const harts of [1, 4]) {
  test(`a ${harts}-vCPU guest saved while it counts resumes in a new machine: the count goes on, guest time does not jump`, { timeout: 1_800_000 }, async () => {
    const image = harts === 1 ? join(dir, 'disk.raw') : null;
    const overlay = join(dir, 'disk-overlay.qcow2');
    if (image) createRaw(image, DISK_BYTES);
    const config = await machineConfig(harts, image);
    const first = new MachineHost(config);
    const path = join(dir, `${harts}.hst`);
    let before: { count: number; uptime: number };
    let hostBefore: number;
    let pausedAt: number;
    try {
      const guest = consoleOf(first);
      await guest.waitFor(PROMPT, BOOT_TIMEOUT_MS);
      await first.started;
      await guest.run(`( (i=0; while :; do i=$((i+1)); echo $i >> /tmp/count; sleep 0.1; done) & )`);
      if (image) {
        await writeSector(guest, 0, 'before-the-swap');
        await assert.rejects(first.replaceDisks([{ path: image, readOnly: false }]), /replaceDisks needs a paused machine/);
        await first.pause();
        const small = join(dir, 'small.raw');
        createRaw(small, DISK_BYTES / 2);
        await assert.rejects(first.replaceDisks([{ path: small, readOnly: false }]), /small\.raw does not match the size or writability of .*disk\.raw/);
        createQcow2(overlay, undefined, { backing: image });
        await first.replaceDisks([{ path: overlay, readOnly: false, serial: 'state0' }]);
        await first.resume();
        await writeSector(guest, 1, 'after-the-swap');
      }
      await sleep(2000);
      const [count, up] = (await guest.run(`tail -n 1 /tmp/count; cut -d' ' -f1 /proc/uptime`)).output.split('\n');
      hostBefore = performance.now();
      before = { count: Number(count), uptime: Number(up) };
      assert.ok(before.count >= 3, `the loop counted ${before.count} in 2 s`);
      await assert.rejects(first.saveState(path, VM), /saveState needs a paused machine/);
      await first.pause();
      pausedAt = performance.now();
      const summary = await first.saveState(path, VM);
      assert.equal(summary.totalPages, RAM_BYTES / 4096);
      assert.ok(summary.storedPages > 0 && summary.storedPages < summary.totalPages, `${summary.storedPages} pages stored`);
      process.stderr.write(`state-restore ${harts} vCPU: ${summary.bytes} bytes, ${summary.storedPages} of ${summary.totalPages} pages, saved in ${(performance.now() - pausedAt).toFixed(0)} ms\n`);
    } finally {
      await first.kill();
    }
    await sleep(Math.max(0, DOWN_MS - (performance.now() - pausedAt)));

    const asked = performance.now();
    const disks = image ? [{ path: overlay, readOnly: false, serial: 'state0' }] : [];
    const second = new MachineHost({ ...config, disks, restoreFrom: { path, vm: VM } });
    try {
      const guest = consoleOf(second);
      await second.started;
      const runningAt = performance.now();
      const downMs = runningAt - pausedAt;
      const up = await uptime(guest);
      const hostAfter = performance.now();
      process.stderr.write(`state-restore ${harts} vCPU: running ${(runningAt - asked).toFixed(0)} ms after the restore was asked, answering ${(hostAfter - asked).toFixed(0)} ms after; down ${(downMs / 1000).toFixed(1)} s\n`);
      assert.ok(!/OpenSBI|Linux version/.test(guest.transcript), 'resumed, not booted');
      // Guest time ran while the machine ran (before the pause, after the restore), not while it was down.
      const ranS = ((pausedAt - hostBefore) + (hostAfter - runningAt)) / 1000;
      assert.ok(up >= before.uptime, `uptime ${up} after the restore, ${before.uptime} before`);
      assert.ok(up - before.uptime <= ranS + UPTIME_SLACK_S, `uptime moved ${(up - before.uptime).toFixed(2)} s; the machine ran ${ranS.toFixed(2)} s and was down ${(downMs / 1000).toFixed(1)} s`);
      assert.ok(downMs / 1000 > ranS + UPTIME_SLACK_S, 'down long enough for a jump to show');

      await sleep(2000);
      const after = await counted(guest);
      const guestElapsed = (await uptime(guest)) - before.uptime;
      assert.ok(after >= before.count + 3, `counted on from ${before.count} to ${after}`);
      assert.ok(after - before.count <= guestElapsed / 0.1 + 1, `${after - before.count} more in ${guestElapsed.toFixed(2)} guest seconds`);

      if (image) {
        savedWithDisk = { path, config };
        await checkAgentChannel(second, guest);
        await writeSector(guest, 2, 'after-the-restore');
        // (Commands short enough not to wrap at the terminal's width: the shell redraws them.)
        assert.equal((await guest.run(`dd if=/dev/vda of=/tmp/r bs=${SECTOR} count=3 iflag=direct`)).status, 0);
        assert.equal((await guest.run(`tr -d '\\0' < /tmp/r`)).output, 'before-the-swap\nafter-the-swap\nafter-the-restore');
      } else {
        await checkAgentHold(second, guest);
      }
    } finally {
      await second.kill();
    }
    if (image) {
      assert.deepEqual(sectorsOf(image, 3), ['before-the-swap', '', ''], 'the swapped-out image');
      assert.deepEqual(sectorsOf(overlay, 3), ['before-the-swap', 'after-the-swap', 'after-the-restore'], 'the overlay');
    }
  });
}

/**
 * hvc0 both ways: the guest's writes are 'agent' events, sendAgent's bytes are read in the guest.
 * The guest's own agent (engine/guests/hangar-agent.sh, which /init keeps running on hvc0) is
 * stopped meanwhile, so that the test's reader is the only one. The tty's settings last while it
 * is open: each side of the test sets raw mode on the open it uses.
 */
async function checkAgentChannel(machine: MachineHost, guest: GuestConsole): Promise<void> {
  const continueAgent = await stopGuestAgent(guest);
  const received: Buffer[] = [];
  machine.on('agent', (bytes) => received.push(Buffer.from(bytes)));
  await guest.run('(stty raw -echo -opost; echo hello >&0) <> /dev/hvc0');
  for (let tries = 0; Buffer.concat(received).toString('latin1') !== 'hello\n'; tries++) {
    assert.ok(tries < 100, `agent output: ${JSON.stringify(Buffer.concat(received).toString('latin1'))}`);
    await sleep(50);
  }
  // Control characters a cooked tty would act on (^C, ESC, \r), a NUL and 0xff arrive as they are.
  const sent = Buffer.from([...Buffer.from('from host'), 0x00, 0xff, 0x03, 0x0d, 0x1b]);
  await guest.run(`( (stty raw -echo; touch /tmp/raw; head -c ${sent.length} > /tmp/agent-in) < /dev/hvc0 & ); while [ ! -e /tmp/raw ]; do sleep 0.1; done`);
  machine.sendAgent(sent);
  const hex = [...sent].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  for (let tries = 0; ; tries++) {
    const read = (await guest.run('od -An -tx1 -v /tmp/agent-in')).output.trim().replace(/\s+/g, ' ');
    if (read === hex) break;
    assert.ok(tries < 50, `the guest read ${read}, expected ${hex}`);
    await sleep(200);
  }
  await continueAgent();
}

/** Stops the guest's agent (SIGSTOP: /init's loop waits on and so does not restart it); returns what continues it. */
async function stopGuestAgent(guest: GuestConsole): Promise<() => Promise<void>> {
  // Commands short enough not to wrap at the terminal's width (GuestConsole reads their output).
  await guest.run('ps -o pid,args > /tmp/ps');
  const agents = (await guest.run(`awk '/agent \\/dev\\/hvc0$/{print $1}' /tmp/ps`)).output.split('\n').filter(Boolean);
  assert.equal(agents.length, 1, `one agent on hvc0 in:\n${(await guest.run('cat /tmp/ps')).output}`);
  for (const pid of agents) assert.equal((await guest.run(`kill -STOP ${pid}`)).status, 0);
  return async () => {
    for (const pid of agents) await guest.run(`kill -CONT ${pid}`);
  };
}

/**
 * Nobody in the guest reads hvc0 (its agent stopped): its driver's receive buffers fill (128 of
 * 4 KiB), then what the guest cannot take is held (the device's held bytes and the 1 MiB ring),
 * and past that sendAgent refuses the bytes instead of dropping them.
 */
async function checkAgentHold(machine: MachineHost, guest: GuestConsole): Promise<void> {
  await stopGuestAgent(guest);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let accepted = 0;
  assert.throws(() => {
    while (accepted < 16 * 1024 * 1024) {
      machine.sendAgent(chunk);
      accepted += chunk.length;
    }
  }, /bytes sent to its agent; 65536 more do not fit/);
  assert.ok(accepted >= 1024 * 1024 - chunk.length && accepted <= 3 * 1024 * 1024, `${accepted} bytes accepted`);
  process.stderr.write(`state-restore: the agent channel held ${accepted} bytes nobody read, then refused more\n`);
}

/** Restores `path` into a machine of `config`; it must end with an error matching `message`. */
async function refused(config: MachineConfig, restoreFrom: { path: string; vm: string | null }, message: RegExp): Promise<void> {
  const machine = new MachineHost({ ...config, restoreFrom });
  await assert.rejects(machine.started, message);
  const exit = await machine.exited;
  assert.equal(exit.reason, 'error');
  assert.match(exit.message ?? '', message);
}

test('a truncated, a damaged, another VM\'s, or a misfitting state file ends the machine with an error naming the problem', { timeout: 600_000 }, async () => {
  const { path, config } = await stateWithDisk();
  const file = readFileSync(path);

  const truncated = join(dir, 'truncated.hst');
  writeFileSync(truncated, file.subarray(0, Math.floor(file.length / 2)));
  await refused(config, { path: truncated, vm: VM }, /truncated\.hst: is truncated/);

  const damaged = join(dir, 'damaged.hst');
  const flipped = Buffer.from(file);
  flipped[Math.floor(flipped.length * 0.7)]! ^= 0x10;
  writeFileSync(damaged, flipped);
  await refused(config, { path: damaged, vm: VM }, /damaged\.hst: checksum mismatch: the file is damaged/);

  const other = join(dir, 'other.hst');
  copyFileSync(path, other);
  await refused(config, { path: other, vm: 'another-vm' }, /belongs to another VM \(state-test-vm\), not this one \(another-vm\)/);
  await refused({ ...config, harts: 2 }, { path, vm: VM }, /the saved state has 1 harts, this machine 2/);
  await refused({ ...config, ramBytes: RAM_BYTES / 2 }, { path, vm: VM }, /holds 268435456 bytes of RAM; the machine has 134217728/);
  await refused({ ...config, disks: [] }, { path, vm: VM }, /devices\.virtio2: virtio-mmio: saved state is of device 2, this slot holds 0/);
  assert.deepEqual(readFileSync(path), file, 'the state file is left as it was');
});
