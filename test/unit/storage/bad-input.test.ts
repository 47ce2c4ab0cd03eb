// Damaged and hostile images: each is refused with an error that names the file and what is
// wrong, without a crash and without a byte of the file changing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDisk, createQcow2, createRaw, DiskError, openDisk, type BlockDevice } from '../../../engine/storage/index.ts';
import { runChild, STORAGE } from './support/child.ts';
import { pattern, sha256 } from './support/workload.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-bad-'));
let serial = 0;

/** A 1 MiB image with data in its first 3 clusters: header 0, table 1, block 2, L1 3, L2 4, data 5-7. */
function image(): string {
  const path = join(dir, `${serial++}.qcow2`);
  createQcow2(path, 1 << 20);
  const disk = openDisk(path);
  disk.write(0, pattern(1, 3 * 65536));
  disk.close();
  return path;
}

function patch(path: string, at: number, bytes: number[] | Buffer): void {
  const fd = openSync(path, 'r+');
  const data = Buffer.from(bytes);
  writeSync(fd, data, 0, data.length, at);
  closeSync(fd);
}
const be32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const be64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(n); return b; };

/** Opens (read-write, then read-only) and reads everything; expects `pattern` in the error. */
function refused(path: string, expected: RegExp, use: (disk: BlockDevice) => void = (d) => d.read(0, new Uint8Array(d.size))): void {
  const before = sha256(readFileSync(path));
  for (const readOnly of [false, true]) {
    assert.throws(() => {
      const disk = openDisk(path, { readOnly });
      try { use(disk); } finally { try { disk.close(); } catch { /* the first error is the one under test */ } }
    }, (err: unknown) => {
      assert.ok(err instanceof DiskError, `a DiskError, not ${String(err)}`);
      assert.ok(err.message.includes(path), `names the file: ${err.message}`);
      assert.match(err.message, expected);
      return true;
    });
  }
  assert.equal(sha256(readFileSync(path)), before, 'nothing written');
}

test('truncated images: header, L1 table, L2 table and data cut off', () => {
  let path = image();
  truncateSync(path, 50);
  refused(path, /truncated qcow2 header/);
  path = image();
  truncateSync(path, 4 * 65536); // the L1 table's only entry points at cluster 4, now gone
  refused(path, /L1 entry 0 points at 0x40000, beyond the end of the file/);
  path = image();
  truncateSync(path, 6 * 65536); // L2 table present, the 2nd and 3rd data clusters gone
  refused(path, /L2 entry for guest offset 0x10000 points at 0x60000, beyond the end of the file/);
});

test('L1 and L2 entries pointing beyond the file, misaligned or with reserved bits', () => {
  let path = image();
  patch(path, 0x30000, be64((1n << 63n) | 0x7000_0000n));
  refused(path, /L1 entry 0 points at 0x70000000, beyond the end of the file/);
  path = image();
  patch(path, 0x40000 + 8, be64((1n << 63n) | 0x1234_0000n));
  refused(path, /L2 entry for guest offset 0x10000 points at 0x12340000, beyond the end of the file/);
  path = image();
  patch(path, 0x40000 + 8, be64((1n << 63n) | 0x50200n));
  refused(path, /L2 entry for guest offset 0x10000 points at misaligned offset 0x50200/);
  path = image();
  patch(path, 0x40000 + 8, be64((1n << 63n) | 0x60000n | 0x10n));
  refused(path, /L2 entry for guest offset 0x10000 has reserved bits set/);
  path = image();
  patch(path, 0x10000, be64(0x9000_0000n)); // refcount table entry beyond the file: refused for writing
  const before = sha256(readFileSync(path));
  assert.throws(() => openDisk(path), /refcount table entry 0 .* points beyond the end of the file/);
  assert.equal(sha256(readFileSync(path)), before);
});

test('absurd header values', () => {
  const cases: Array<[number, Buffer, RegExp]> = [
    [20, be32(8), /cluster_bits 8 is out of range/],
    [20, be32(31), /cluster_bits 31 is out of range/],
    [4, be32(4), /qcow2 version 4 is not supported/],
    [24, be64(1n << 62n), /virtual size .* is absurd/],
    [24, be64(1n << 40n), /l1_size 1 is too small for the virtual size/],
    [36, be32(0xffff_ffff), /l1_size 4294967295 is absurd/],
    [40, be64(0x30008n), /L1 table at 0x30008 .* misaligned/],
    [48, be64(0xfff_0000n), /refcount table at 0xfff0000 is misaligned or beyond the end of the file/],
    [56, be32(0x10000), /refcount_table_clusters 65536 is absurd/],
    [96, be32(7), /refcount_order 7 is out of range/],
    [100, be32(50), /header_length 50 is invalid/],
    [32, be32(1), /encrypted qcow2 images are not supported/],
    [60, be32(1 << 20), /nb_snapshots 1048576 is absurd/],
    [72, be64(1n << 4n), /features Hangar does not support: extended L2 entries/], // named from the feature table
    [72, be64(1n << 40n), /features Hangar does not support: bit 40/],
    [8, be64(0x1000n), /backing file name .* does not fit/],
    // Found by the fuzzer beside qemu-img check, which refuses these too:
    [88, be64(2n), /autoclear bit "raw external data" is set without an external data file/],
    [64, be64(1n), /snapshot table at 0x1 is misaligned/], // even with no snapshots
    [112, be32(0xe2792aca), /backing format name of 384 bytes is too long \(at most 15\)/], // the feature table retyped
  ];
  for (const [at, bytes, expected] of cases) {
    const path = image();
    patch(path, at, bytes);
    if (at === 8) patch(path, 16, be32(5000));
    refused(path, expected);
  }
});

test('a version 3 header cut off between bytes 72 and 104 is refused, not a RangeError', () => {
  for (const length of [72, 80, 100, 103]) {
    const path = image();
    truncateSync(path, length);
    refused(path, new RegExp(`truncated qcow2 header \\(${length} bytes; a version 3 header_length must be at least 104\\)`));
  }
});

test('check and a dirty read-write open visit a shared L2 table once: the largest L1 table QEMU allows, all pointing at one table', (t) => {
  // 4 Mi L1 entries (32 MiB, QEMU's limit) at the end of the file, every one naming the L2 table
  // at 0x40000: walked entry by entry that is 4 Mi × 8192 L2 entries (some 20 minutes).
  const path = image();
  const entries = (32 << 20) / 8;
  const l1 = Buffer.alloc(entries * 8);
  for (let i = 0; i < entries; i++) l1.writeBigUInt64BE(0x40000n, i * 8);
  const l1Offset = 0x80000;
  patch(path, l1Offset, l1);
  patch(path, 36, be32(entries));
  patch(path, 40, be64(BigInt(l1Offset)));
  // In a child: before the fix this ran for 20 minutes; the time limit turns that into a failure.
  const child = runChild(`
    import { checkDisk, openDisk } from ${STORAGE};
    import { openSync, writeSync } from 'node:fs';
    let started = Date.now();
    const report = checkDisk(${JSON.stringify(path)});
    console.log(JSON.stringify({ ms: Date.now() - started, corruptions: report.corruptions, messages: report.messages.slice(0, 3) }));
    const fd = openSync(${JSON.stringify(path)}, 'r+');
    writeSync(fd, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), 0, 8, 72); // dirty: a read-write open rebuilds refcounts
    started = Date.now();
    try { openDisk(${JSON.stringify(path)}).close(); console.log('opened'); } catch (err) { console.log(JSON.stringify({ ms: Date.now() - started, error: err.name + ': ' + err.message })); }`, 60_000);
  assert.equal(child.killed, false, `check finished (killed after ${child.ms} ms)`);
  const [checked, opened] = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { ms: number; corruptions?: number; messages?: string[]; error?: string });
  t.diagnostic(`check of 4 Mi L1 entries sharing one L2 table: ${checked!.ms} ms; dirty read-write open: ${opened!.ms} ms`);
  assert.ok(checked!.ms < 10_000, `check took ${checked!.ms} ms`);
  assert.ok(checked!.corruptions! >= 4, 'the L2 table and its three data clusters are referenced 4 Mi times with refcount 1');
  assert.match(checked!.messages!.join('\n'), /refcount overflow: cluster 0x40000 has 4194304 references/);
  assert.ok(opened!.ms < 10_000, `dirty open took ${opened!.ms} ms`);
  assert.match(opened!.error!, /^DiskError: .*not repaired: .*refcount overflow/);
});

test('refcounts recorded far past the end of the file: check reads the one block once, a write does not walk them', (t) => {
  // Every entry of the refcount table (8192, covering 2^28 clusters) names the one refcount block,
  // and every refcount in it is 1: check, repair and allocation once walked all 2^28.
  const path = image();
  patch(path, 0x20000, Buffer.alloc(65536, 0).fill(Buffer.from([0, 1])));
  const table = Buffer.alloc(65536);
  for (let i = 0; i < 8192; i++) table.writeBigUInt64BE(0x20000n, i * 8);
  patch(path, 0x10000, table);
  const child = runChild(`
    import { checkDisk, openDisk } from ${STORAGE};
    let started = Date.now();
    const report = checkDisk(${JSON.stringify(path)});
    console.log(JSON.stringify({ ms: Date.now() - started, corruptions: report.corruptions, leaks: report.leaks }));
    started = Date.now();
    const disk = openDisk(${JSON.stringify(path)});
    disk.write(5 * 65536, new Uint8Array(65536).fill(9));
    disk.close();
    console.log(JSON.stringify({ ms: Date.now() - started }));`, 60_000);
  assert.equal(child.killed, false, `finished (killed after ${child.ms} ms)`);
  const [checked, written] = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { ms: number; corruptions?: number; leaks?: number });
  t.diagnostic(`check: ${checked!.ms} ms, open and write: ${written!.ms} ms`);
  assert.ok(checked!.ms < 10_000 && written!.ms < 10_000, child.stdout);
  assert.ok(checked!.corruptions! > 0, 'the block named 8192 times with refcount 1 is a corruption');
  assert.ok(checked!.leaks! >= 32768 - 8, 'the refcounts past the end of the file are leaks');
});

test('backing files: missing, loops (direct and through a chain), and relative names found next to the image', () => {
  const sub = mkdtempSync(join(dir, 'chain-'));
  const base = join(sub, 'base.raw');
  writeFileSync(base, pattern(2, 1 << 20));
  createQcow2(join(sub, 'mid.qcow2'), undefined, { backing: 'base.raw' });
  createQcow2(join(sub, 'top.qcow2'), undefined, { backing: 'mid.qcow2' });
  const top = openDisk(join(sub, 'top.qcow2'), { readOnly: true });
  const back = new Uint8Array(1 << 20);
  top.read(0, back);
  top.close();
  assert.deepEqual(back, pattern(2, 1 << 20), 'a three-level chain reads through to the base');

  // mid → top → mid: a loop through the chain. The backing name is patched in place (same length).
  const loopA = join(sub, 'loopA.qcow2');
  createQcow2(loopA, 1 << 20, { backing: 'base.raw' });
  const loopB = join(sub, 'loopB.qcow2');
  createQcow2(loopB, 1 << 20, { backing: 'loopA.qcow2' });
  const nameAt = (path: string) => Number(readFileSync(path).readBigUInt64BE(8));
  patch(loopA, nameAt(loopA), Buffer.from('loopB.qcow2'));
  patch(loopA, 16, be32('loopB.qcow2'.length));
  patch(loopA, 0x70, Buffer.alloc(16)); // drop the "raw" backing format extension: probe instead
  refused(loopA, /backing file .*loopA\.qcow2 loops back into its own chain/);

  const self = join(sub, 'self.qcow2');
  createQcow2(self, 1 << 20, { backing: 'base.raw' });
  patch(self, nameAt(self), Buffer.from('self.qcow2'));
  patch(self, 16, be32('self.qcow2'.length));
  patch(self, 0x70, Buffer.alloc(16));
  refused(self, /backing file .*self\.qcow2 loops back/);

  const link = join(sub, 'link.qcow2');
  symlinkSync(self, link);
  assert.throws(() => openDisk(link), /loops back/, 'a loop through a symbolic link is still a loop');

  const orphan = join(sub, 'orphan.qcow2');
  createQcow2(orphan, 1 << 20, { backing: 'base.raw' });
  patch(orphan, nameAt(orphan), Buffer.from('gone.raw'));
  refused(orphan, /orphan\.qcow2: backing file .*gone\.raw does not exist/);
  assert.throws(() => createQcow2(join(sub, 'new.qcow2'), undefined, { backing: 'nothing.qcow2' }), /nothing\.qcow2: no such file/);
});

test('a cluster referenced twice with refcount 1: check reports it, repair and the freeing write refuse', () => {
  // Two L2 entries sharing one data cluster whose refcount is 1: a corruption that a write which
  // freed one of them would turn into a use-after-free.
  const path = image();
  patch(path, 0x40000 + 8, be64((1n << 63n) | 0x50000n));
  const report = checkDisk(path);
  assert.deepEqual([report.corruptions, report.leaks], [1, 1], 'refcount=1 reference=2; the cluster no longer referenced leaks');
  assert.match(report.messages.join('\n'), /ERROR cluster 0x50000 refcount=1 reference=2/);
  const before = sha256(readFileSync(path));
  assert.throws(() => checkDisk(path, { repair: true }), /not repaired: .*corruption/);
  assert.equal(sha256(readFileSync(path)), before, 'repair refused before writing');
  const disk = openDisk(path);
  disk.discard(0, 65536); // the first reference goes; refcount 1 → 0 is still legal
  assert.throws(() => disk.discard(65536, 65536), /host cluster 0x50000 is in use but its refcount is 1/);
  disk.close();
});

test('raw images: requests outside the disk and writes to read-only disks are refused', () => {
  const path = join(dir, 'plain.raw');
  createRaw(path, 4096);
  const disk = openDisk(path, { readOnly: true });
  assert.equal(disk.format, 'raw');
  assert.throws(() => disk.read(4000, new Uint8Array(200)), /request \[4000, \+200\) is outside the disk \(4096 bytes\)/);
  assert.throws(() => disk.write(0, new Uint8Array(1)), /read-only/);
  assert.throws(() => disk.read(-1, new Uint8Array(1)), /outside the disk/);
  disk.close();
  assert.throws(() => openDisk(join(dir, 'absent.raw')), /absent\.raw: no such file/);
  assert.throws(() => createRaw(path, 1), /EEXIST/);
});
