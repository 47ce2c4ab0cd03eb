// Issue 4's crash bar, with a real guest: `hangar run` is SIGKILLed at a random moment while the
// Debian guest writes, discards and flushes on a qcow2 disk, 20 times on the same image. After
// each kill `qemu-img check` finds no corruption (leaked clusters are allowed), `hangar disk check
// --repair` leaves it clean, and everything the guest had reported as flushed reads back through
// QEMU (`qemu-img convert`), while nothing is allocated where the guest never wrote.
//
// To keep 20 boots affordable the guest loads only virtio_mmio and virtio_blk (hangar.modules=,
// no ext4: the workload is on the raw block device), prints nothing while booting (quiet), has
// 128 MiB of RAM, and each boot does as many operations as fit before its kill.
// Each operation is one 64 KiB slot (one qcow2 cluster) of the disk:
//   w: dd of random bytes with O_DIRECT and fsync (a virtio FLUSH), then "W slot sha256" is printed;
//   d: blkdiscard of the slot, fsync of the device, then "D slot".
// The host schedules every boot's operations and releases them one at a time (the guest reads a
// line before each): when the kill comes, every operation before the last released one was
// reported, and only that one is in doubt (it may have completed, its report lost with the
// killed process); its slot is unknown until written again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hangarSync, startHangarRun } from '../../support/hangar-process.ts';
import { SHELL_PROMPT } from '../../support/guest-console.ts';
import { prng } from '../../support/random.ts';

const KILLS = 20;
const SLOT = 64 * 1024;
const DISK_SIZE = 2 * 1024 * 1024 * 1024; // four L2 tables' worth: writes spread over it allocate them
const SLOTS = DISK_SIZE / SLOT;
const OPERATIONS_PER_BOOT = 300; // more than a boot gets through before its kill (up to 100 have been seen)
const MAX_KILL_DELAY_MS = 8000;
const BOOT_TIMEOUT_MS = 300_000;
const ZERO = createHash('sha256').update(Buffer.alloc(SLOT)).digest('hex');

type Operation = { kind: 'w' | 'd'; slot: number };
type Report = { kind: 'w' | 'd' | 'f'; slot: number; sha: string };

/** The guest's reports in console output, in order: W slot sha256, D slot, F slot (failed). */
function reports(output: string): Report[] {
  return output.replace(/\r/g, '').split('\n').flatMap((line): Report[] => {
    const write = /^W (\d+) ([0-9a-f]{64}) {2}-$/.exec(line);
    if (write) return [{ kind: 'w', slot: Number(write[1]), sha: write[2]! }];
    const other = /^([DF]) (\d+)$/.exec(line);
    return other ? [{ kind: other[1] === 'D' ? 'd' : 'f', slot: Number(other[2]), sha: ZERO }] : [];
  });
}

/**
 * The guest's shell loop over the operations. They are typed into a file first, a few per line:
 * busybox ash's line editor takes at most 1024 characters a line and drops the rest.
 */
function workload(operations: Operation[]): string {
  const names = operations.map((o) => `${o.kind}${o.slot}`);
  let typed = '';
  for (let i = 0; i < names.length; i += 50) typed += `echo ${names.slice(i, i + 50).join(' ')} >> /tmp/ops\n`;
  return `${typed}for o in $(cat /tmp/ops); do read -r go; s=\${o#?}; case $o in ` +
    `w*) dd if=/dev/urandom of=/tmp/b bs=${SLOT} count=1 2>/dev/null && dd if=/tmp/b of=/dev/vda bs=${SLOT} seek=$s oflag=direct conv=fsync,notrunc 2>/dev/null && echo "W $s $(sha256sum < /tmp/b)" || echo "F $s";; ` +
    `d*) blkdiscard -o $((s*${SLOT})) -l ${SLOT} /dev/vda && sync /dev/vda && echo "D $s" || echo "F $s";; ` +
    'esac; done; echo "ALL DONE"\n';
}

test(`${KILLS} SIGKILLs of hangar run while the guest writes and flushes: no corruption, flushed data kept`, { timeout: 5_400_000 }, async (t) => {
  const seed = Number(process.env.HANGAR_CRASH_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`schedule seed ${seed} (HANGAR_CRASH_SEED=${seed} replays it)`);
  const next = prng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'hangar-disk-crash-'));
  const disk = join(dir, 'disk.qcow2');
  const raw = join(dir, 'disk.raw');
  assert.equal(hangarSync(['disk', 'create', disk, String(DISK_SIZE)]).status, 0);

  /** What each slot must read as (sha256 of its 64 KiB); a slot not here is unknown. */
  const expected = new Map<number, string>();
  const touched = new Set<number>();
  let confirmedTotal = 0;
  let roundsWithLeaks = 0;
  const started = Date.now();

  for (let round = 1; round <= KILLS; round++) {
    const known = () => [...expected.keys()];
    const operations: Operation[] = Array.from({ length: OPERATIONS_PER_BOOT }, () => {
      const choice = next();
      const old = known();
      if (choice < 0.25 && old.length) return { kind: 'w', slot: old[Math.floor(next() * old.length)]! };
      if (choice < 0.4 && old.length) return { kind: 'd', slot: old[Math.floor(next() * old.length)]! };
      return { kind: 'w', slot: Math.floor(next() * SLOTS) };
    });

    const { child, console: guest, exited } = startHangarRun([
      '--guest', 'debian', '--memory', '128M', '--disk', disk,
      '--append', 'console=ttyS0 quiet hangar.modules=virtio_mmio,virtio_blk',
    ]);
    let output = '';
    let released = 0;
    try {
      await guest.waitFor(SHELL_PROMPT, BOOT_TIMEOUT_MS);
      const from = guest.transcript.length;
      guest.type(workload(operations));
      const firstDeadline = Date.now() + 120_000;
      let killAt = Infinity;
      // Release the next operation whenever the last one released has been reported; kill at a
      // random moment after the first report.
      while (Date.now() < killAt) {
        const seen = reports(guest.transcript.slice(from)).length;
        if (seen === released && released < operations.length) {
          guest.type('\n');
          released++;
        }
        if (seen > 0 && killAt === Infinity) killAt = Date.now() + next() * MAX_KILL_DELAY_MS;
        if (seen === 0 && Date.now() > firstDeadline) throw new Error(`no operation reported:\n${guest.transcript.slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      child.kill('SIGKILL');
      await exited;
      output = guest.transcript.slice(from);
    } finally {
      child.kill('SIGKILL');
    }

    const reported = reports(output);
    assert.deepEqual(reported.filter((r) => r.kind === 'f'), [], `an operation failed in the guest:\n${output}`);
    assert.deepEqual(reported.map((r) => `${r.kind}${r.slot}`), operations.slice(0, reported.length).map((o) => `${o.kind}${o.slot}`), 'reports follow the schedule');
    for (const report of reported) expected.set(report.slot, report.sha);
    if (released > reported.length) expected.delete(operations[reported.length]!.slot); // in doubt
    for (const { slot } of operations.slice(0, released)) touched.add(slot);
    confirmedTotal += reported.length;

    // qemu-img check: 0 clean, 3 leaked clusters only; 2 would be corruption.
    const check = spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' });
    assert.ok(check.status === 0 || check.status === 3, `round ${round}: qemu-img check status ${check.status}\n${check.stdout}${check.stderr}`);
    assert.doesNotMatch(check.stdout + check.stderr, /ERROR|corrupted/); // qemu-img's words for damage
    if (check.status === 3) roundsWithLeaks++;
    const repair = hangarSync(['disk', 'check', '--repair', disk]);
    assert.equal(repair.status, 0, `round ${round}: hangar disk check --repair\n${repair.stdout}${repair.stderr}`);
    const after = spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' });
    assert.equal(after.status, 0, `round ${round}: after repair\n${after.stdout}${after.stderr}`);

    // The data, as QEMU reads it.
    rmSync(raw, { force: true });
    execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
    const fd = openSync(raw, 'r');
    try {
      const buffer = Buffer.alloc(SLOT);
      for (const [slot, sha] of expected) {
        readSync(fd, buffer, 0, SLOT, slot * SLOT);
        assert.equal(createHash('sha256').update(buffer).digest('hex'), sha, `round ${round}: slot ${slot} (${sha === ZERO ? 'discarded' : 'written'} and flushed)`);
      }
    } finally {
      closeSync(fd);
    }
    // Nothing is allocated outside the slots the guest was given.
    const map = JSON.parse(execFileSync('qemu-img', ['map', '--output=json', disk], { encoding: 'utf8' })) as Array<{ start: number; length: number; data: boolean }>;
    for (const extent of map.filter((e) => e.data)) {
      for (let slot = extent.start / SLOT; slot < (extent.start + extent.length) / SLOT; slot++) {
        assert.ok(touched.has(slot), `round ${round}: slot ${slot} is allocated but was never written`);
      }
    }
    t.diagnostic(`kill ${round}: ${reported.length} operations confirmed, ${expected.size} slots checked, qemu-img check status ${check.status}`);
  }
  t.diagnostic(`${KILLS} kills in ${((Date.now() - started) / 1000).toFixed(0)} s; ${confirmedTotal} flushed operations; leaks repaired after ${roundsWithLeaks} kills`);
  assert.ok(confirmedTotal >= KILLS, 'the guest got through operations before its kills');
  rmSync(dir, { recursive: true, force: true });
});
