// The qcow2 fuzzer's worker (run by qcow2-fuzz.test.ts in a child process, so that a hang is a
// kill and not a stuck test). Input i is seed image i mod n mutated by prng(seed + i): the same
// index always makes the same bytes, so a failure is replayed by its index alone.
//
//   node --import tsx qcow2-fuzz-child.ts DIR SEED FIRST DEADLINE [LAST]     (DEADLINE: epoch ms)
//
// For each input (left in DIR/input.qcow2) it prints `begin I DESCRIPTION`, then `end I OUTCOME CPU_MS RSS_MIB`, where
// OUTCOME is `ok` (every operation went through), `refused` (a DiskError somewhere) or
// `FAIL <what>: <error>` (any other exception: a bug).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDisk, diskInfo, DiskError, openDisk, type BlockDevice } from '../../../../engine/storage/index.ts';
import { Qcow2Disk } from '../../../../engine/storage/qcow2.ts';
import { pattern } from './workload.ts';
import { prng } from '../../../support/random.ts';

/** Reads of one input: every cluster up to this many, evenly spread beyond it. */
const MAX_READS = 4096;
/** L2 cache of the fuzzed images: small, so that eviction (and its write order) is exercised too. */
const CACHE_BYTES = 64 << 10;

const [dir, seedArg, firstArg, deadlineArg, lastArg] = process.argv.slice(2);
const seed = Number(seedArg);
const deadline = Number(deadlineArg);
const last = lastArg === undefined ? Infinity : Number(lastArg);
const seeds = readdirSync(dir!).filter((f) => f.startsWith('seed-')).sort().map((f) => ({ name: f, bytes: readFileSync(join(dir!, f)) }));
/** The input as made (left for a replay), and the copy the operations use and write. */
const input = join(dir!, 'input.qcow2');
const work = join(dir!, 'work.qcow2');

// ---- what a seed image holds, read without the project's parser ------------------------------

interface Layout {
  clusterSize: number;
  headerLength: number;
  extensions: number[]; // offsets of extension headers
  l1: { offset: number; size: number };
  l2Tables: number[];
  dataClusters: number[];
  refcountTable: { offset: number; entries: number };
  refcountBlocks: number[];
  refcountOrder: number;
  snapshots: number[]; // offsets of snapshot table entries
}

const OFFSET_MASK = 0x00ff_ffff_ffff_fe00n;

function layoutOf(b: Buffer): Layout {
  const version = b.readUInt32BE(4);
  const clusterSize = 2 ** b.readUInt32BE(20);
  const headerLength = version === 3 ? b.readUInt32BE(100) : 72;
  const extensions: number[] = [];
  for (let at = headerLength; version === 3 && at + 8 <= clusterSize;) {
    if (b.readUInt32BE(at) === 0) break;
    extensions.push(at);
    at += 8 + Math.ceil(b.readUInt32BE(at + 4) / 8) * 8;
  }
  const l1 = { offset: Number(b.readBigUInt64BE(40)), size: b.readUInt32BE(36) };
  const l2Tables: number[] = [];
  const dataClusters: number[] = [];
  for (let i = 0; i < l1.size; i++) {
    const l2 = Number(b.readBigUInt64BE(l1.offset + i * 8) & OFFSET_MASK);
    if (!l2) continue;
    l2Tables.push(l2);
    for (let j = 0; j < clusterSize / 8; j++) {
      const entry = b.readBigUInt64BE(l2 + j * 8);
      if (!(entry & (1n << 62n)) && entry & OFFSET_MASK) dataClusters.push(Number(entry & OFFSET_MASK));
    }
  }
  const refcountTable = { offset: Number(b.readBigUInt64BE(48)), entries: (b.readUInt32BE(56) * clusterSize) / 8 };
  const refcountBlocks: number[] = [];
  for (let i = 0; i < refcountTable.entries; i++) {
    const block = Number(b.readBigUInt64BE(refcountTable.offset + i * 8));
    if (block) refcountBlocks.push(block);
  }
  const snapshots: number[] = [];
  for (let i = 0, at = Number(b.readBigUInt64BE(64)); i < b.readUInt32BE(60); i++) {
    snapshots.push(at);
    at += Math.ceil((40 + b.readUInt32BE(at + 36) + b.readUInt16BE(at + 12) + b.readUInt16BE(at + 14)) / 8) * 8;
  }
  return { clusterSize, headerLength, extensions, l1, l2Tables, dataClusters, refcountTable, refcountBlocks, refcountOrder: version === 3 ? b.readUInt32BE(96) : 4, snapshots };
}

const layouts = seeds.map((s) => layoutOf(s.bytes));

// ---- mutations ---------------------------------------------------------------------------------

type Random = () => number;
const pick = <T>(r: Random, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const U32 = [0, 1, 2, 3, 4, 7, 8, 9, 16, 20, 21, 22, 31, 32, 63, 64, 71, 72, 100, 103, 104, 105, 111, 112, 113, 511, 512, 513, 4095, 4096, 65535, 65536, 1 << 20, (1 << 22) - 1, 1 << 22, (1 << 22) + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const U64 = [0n, 1n, 511n, 512n, 513n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 55n, 2n ** 56n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n];

/** Header fields (offset, width in bytes) of qcow2.txt. */
const FIELDS: ReadonlyArray<[string, number, 1 | 4 | 8]> = [
  ['version', 4, 4], ['backing_file_offset', 8, 8], ['backing_file_size', 16, 4], ['cluster_bits', 20, 4], ['size', 24, 8],
  ['crypt_method', 32, 4], ['l1_size', 36, 4], ['l1_table_offset', 40, 8], ['refcount_table_offset', 48, 8],
  ['refcount_table_clusters', 56, 4], ['nb_snapshots', 60, 4], ['snapshots_offset', 64, 8], ['incompatible_features', 72, 8],
  ['compatible_features', 80, 8], ['autoclear_features', 88, 8], ['refcount_order', 96, 4], ['header_length', 100, 4], ['compression_type', 104, 1],
];

function u64Value(r: Random, current: bigint, l: Layout, fileSize: number): bigint {
  const cs = BigInt(l.clusterSize);
  const size = BigInt(fileSize);
  const known = [0n, BigInt(l.l1.offset), BigInt(l.refcountTable.offset), ...l.l2Tables.map(BigInt), ...l.refcountBlocks.map(BigInt), ...l.dataClusters.map(BigInt)];
  switch (Math.floor(r() * 6)) {
    case 0: return pick(r, U64);
    case 1: return pick(r, [current + 1n, current - 1n, current + cs, current - cs, current * 2n, current + 512n]) & (2n ** 64n - 1n);
    case 2: return pick(r, [size, size - 1n, size - cs, size + cs, (size / cs) * cs, size * 2n]) & (2n ** 64n - 1n);
    case 3: return current ^ (1n << BigInt(Math.floor(r() * 64)));
    case 4: return pick(r, known);
    default: return BigInt(Math.floor(r() * 2 ** 32)) << 32n | BigInt(Math.floor(r() * 2 ** 32));
  }
}

function u32Value(r: Random, current: number): number {
  switch (Math.floor(r() * 4)) {
    case 0: case 1: return pick(r, U32);
    case 2: return (pick(r, [current + 1, current - 1, current * 2, current + 8, current - 8]) >>> 0);
    default: return (current ^ (1 << Math.floor(r() * 32))) >>> 0;
  }
}

/** An L1/L2/refcount table entry: what a hostile image would put there. */
function entryValue(r: Random, current: bigint, l: Layout, fileSize: number, kind: 'L1' | 'L2' | 'refcount'): bigint {
  const copied = 1n << 63n;
  const compressed = 1n << 62n;
  const choices: Array<() => bigint> = [
    () => u64Value(r, current, l, fileSize),
    () => current | (1n << BigInt(pick(r, [1, 2, 8, 56, 57, 61, 62]))), // reserved (or the compressed) bit on
    () => (current & OFFSET_MASK) + 512n, // misaligned
    () => copied | BigInt(pick(r, [0, l.l1.offset, l.refcountTable.offset, ...l.l2Tables, ...l.refcountBlocks, ...l.dataClusters])),
  ];
  if (kind === 'L2') {
    choices.push(
      () => pick(r, [0n, 1n, 2n, copied, copied | 1n, 1n << 56n]), // unallocated, zero, reserved
      () => compressed | (BigInt(Math.floor(r() * 2 ** 30)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)), // random compressed descriptor
      () => compressed | BigInt(pick(r, [fileSize - 1, fileSize, 0, l.l1.offset, ...l.dataClusters])), // compressed data at odd places
      () => compressed | copied | (current & OFFSET_MASK),
      () => (current & OFFSET_MASK) | 1n, // a preallocated zero cluster
    );
  }
  return pick(r, choices)();
}

function setU(b: Buffer, at: number, width: 1 | 4 | 8, value: bigint): void {
  if (at < 0 || at + width > b.length) return;
  if (width === 8) b.writeBigUInt64BE(value & (2n ** 64n - 1n), at);
  else if (width === 4) b.writeUInt32BE(Number(value & 0xffff_ffffn), at);
  else b[at] = Number(value & 0xffn);
}

/** One mutation of `b` (in place, or a truncated copy); returns what it did. */
function mutate(r: Random, b: Buffer, l: Layout): { bytes: Buffer; what: string } {
  const choice = r();
  const u64At = (at: number) => (at + 8 <= b.length ? b.readBigUInt64BE(at) : 0n);
  const u32At = (at: number) => (at + 4 <= b.length ? b.readUInt32BE(at) : 0);
  const u16At = (at: number) => (at + 2 <= b.length ? b.readUInt16BE(at) : 0);
  if (choice < 0.25) {
    const [name, at, width] = pick(r, FIELDS);
    const current = width === 8 ? u64At(at) : width === 4 ? BigInt(u32At(at)) : BigInt(b[at] ?? 0);
    const value = width === 8 ? u64Value(r, current, l, b.length) : BigInt(u32Value(r, Number(current)));
    setU(b, at, width, value);
    return { bytes: b, what: `${name}=0x${value.toString(16)}` };
  }
  if (choice < 0.33) {
    const at = Math.floor(r() * Math.min(b.length, r() < 0.7 ? 512 : l.clusterSize));
    const bit = Math.floor(r() * 8);
    if (at < b.length) b[at]! ^= 1 << bit;
    return { bytes: b, what: `flip header byte ${at} bit ${bit}` };
  }
  if (choice < 0.4 && l.extensions.length) {
    const ext = pick(r, l.extensions);
    if (ext + 8 > b.length) return { bytes: b, what: 'extension cut off' };
    if (r() < 0.5) {
      const type = pick(r, [0, 0xe2792aca, 0x6803f857, 0x23852875, 0x0537be77, 0x44415441, Math.floor(r() * 2 ** 32)]);
      b.writeUInt32BE(type, ext);
      return { bytes: b, what: `extension at ${ext} type=0x${type.toString(16)}` };
    }
    const length = pick(r, [0, 1, 7, 8, 24, 47, 48, 49, l.clusterSize - ext - 8, l.clusterSize - ext - 7, 2 ** 31, 2 ** 32 - 1]) >>> 0;
    b.writeUInt32BE(length, ext + 4);
    return { bytes: b, what: `extension at ${ext} length=${length}` };
  }
  if (choice < 0.55) {
    const i = r() < 0.7 && l.l2Tables.length ? Math.floor(r() * Math.min(l.l1.size, 4)) : Math.floor(r() * l.l1.size);
    const at = l.l1.offset + i * 8;
    const value = entryValue(r, u64At(at), l, b.length, 'L1');
    setU(b, at, 8, value);
    return { bytes: b, what: `L1[${i}]=0x${value.toString(16)}` };
  }
  if (choice < 0.75 && l.l2Tables.length) {
    const table = pick(r, l.l2Tables);
    const j = Math.floor(r() * (r() < 0.6 ? 64 : l.clusterSize / 8));
    const at = table + j * 8;
    const value = entryValue(r, u64At(at), l, b.length, 'L2');
    setU(b, at, 8, value);
    return { bytes: b, what: `L2 0x${table.toString(16)}[${j}]=0x${value.toString(16)}` };
  }
  if (choice < 0.82) {
    const near = r();
    const i = Math.floor(r() * Math.min(l.refcountTable.entries, near < 0.6 ? 2 : near < 0.85 ? 64 : Infinity));
    const at = l.refcountTable.offset + i * 8;
    const value = entryValue(r, u64At(at), l, b.length, 'refcount');
    setU(b, at, 8, value);
    return { bytes: b, what: `refcount table[${i}]=0x${value.toString(16)}` };
  }
  if (choice < 0.9 && l.refcountBlocks.length) {
    const block = pick(r, l.refcountBlocks);
    const bits = 2 ** l.refcountOrder;
    const cluster = Math.floor(r() * Math.ceil(b.length / l.clusterSize));
    const byte = block + Math.floor((cluster * bits) / 8);
    const value = pick(r, [0, 1, 2, 0xff, Math.floor(r() * 256)]);
    if (byte < b.length) b[byte] = value;
    return { bytes: b, what: `refcount block 0x${block.toString(16)} byte for cluster ${cluster}=${value}` };
  }
  if (choice < 0.95 && l.snapshots.length) {
    const at = pick(r, l.snapshots);
    const [name, offset, width] = pick(r, [['l1_table_offset', 0, 8], ['l1_size', 8, 4], ['id_str_size', 12, 2], ['name_size', 14, 2], ['extra_data_size', 36, 4]] as const);
    const value = width === 8 ? u64Value(r, u64At(at + offset), l, b.length) : BigInt(u32Value(r, width === 4 ? u32At(at + offset) : u16At(at + offset)));
    if (width === 2) { if (at + offset + 2 <= b.length) b.writeUInt16BE(Number(value & 0xffffn), at + offset); }
    else setU(b, at + offset, width, value);
    return { bytes: b, what: `snapshot at 0x${at.toString(16)} ${name}=0x${value.toString(16)}` };
  }
  const length = pick(r, [Math.floor(r() * b.length), 72, 80, 103, 104, l.clusterSize, l.l1.offset + 4, ...l.l2Tables.map((t) => t + 8)]);
  return { bytes: b.subarray(0, Math.min(length, b.length)), what: `truncated to ${length}` };
}

// ---- the operations, and the guard -------------------------------------------------------------

class Unexpected extends Error {}

const QEMU_EVERY = Number(process.env.FUZZ_QEMU_EVERY ?? 16);

/** Corruptions and check errors `qemu-img check` reports, or -1 when it cannot open the image. */
function qemuCheck(path: string): number {
  const result = spawnSync('qemu-img', ['check', '--output=json', path], { encoding: 'utf8' });
  if (!result.stdout.trim().startsWith('{')) return -1;
  const report = JSON.parse(result.stdout) as Record<string, number>;
  return (report.corruptions ?? 0) + (report['check-errors'] ?? 0);
}

/** Runs `fn`; a DiskError is a refusal (fine), anything else is a bug. */
function attempt(what: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof DiskError) return false;
    throw new Unexpected(`${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
}

function readEveryCluster(disk: BlockDevice): void {
  const cs = disk instanceof Qcow2Disk ? disk.clusterSize : 65536;
  const clusters = Math.ceil(disk.size / cs);
  const step = Math.max(1, Math.floor(clusters / MAX_READS));
  const into = new Uint8Array(cs);
  for (let c = 0; c < clusters; c += step) {
    const length = Math.min(cs, disk.size - c * cs);
    attempt(`read cluster ${c}`, () => disk.read(c * cs, into.subarray(0, length)));
  }
}

function exercise(index: number): boolean {
  let clean = true;
  const use = (what: string, readOnly: boolean, fn: (disk: BlockDevice) => void) => {
    clean = attempt(what, () => {
      const disk = openDisk(work, { readOnly, cacheBytes: CACHE_BYTES, backingRoots: [dir!] });
      try { fn(disk); } finally { attempt(`${what}: close`, () => disk.close()); }
    }) && clean;
  };
  use('read-only open and reads', true, readEveryCluster);
  const opened = clean;
  clean = attempt('info', () => { diskInfo(work); }) && clean;
  let sound = false;
  clean = attempt('check', () => { const report = checkDisk(work); sound = report.format === 'qcow2' && report.corruptions === 0; }) && clean;
  // Differential, for every QEMU_EVERY-th input: a qcow2 image Hangar opens, reads and finds sound,
  // qemu-img check must open and find sound too.
  if (opened && sound && index % QEMU_EVERY === 0) {
    const qemu = qemuCheck(work);
    if (qemu !== 0) throw new Unexpected(`check: Hangar serves the image and finds no corruption, qemu-img check ${qemu < 0 ? 'cannot open the image' : `finds ${qemu}`}`);
  }
  use('read-write open and writes', false, (disk) => {
    const size = disk.size;
    const at = (fraction: number) => Math.floor((size * fraction) / 512) * 512;
    for (const [offset, length] of [[0, 4096], [at(0.5) + 100, 70_000], [at(0.9), 65536]] as const) {
      const n = Math.min(length, size - offset);
      if (n > 0) attempt('write', () => disk.write(offset, pattern(offset, n)));
    }
    if (size >= 1 << 20) {
      attempt('writeZeroes', () => disk.writeZeroes(at(0.25), 1 << 17));
      attempt('discard', () => disk.discard(at(0.75) - 1000, 200_000));
    }
    attempt('flush', () => disk.flush());
    readEveryCluster(disk);
  });
  clean = attempt('check after writes', () => { checkDisk(work, { repair: true }); }) && clean;
  return clean;
}

console.log('ready');
for (let i = Number(firstArg); i <= last && Date.now() < deadline; i++) {
  const r = prng(seed + i);
  const which = i % seeds.length;
  let bytes: Buffer = Buffer.from(seeds[which]!.bytes);
  const what: string[] = [];
  const count = r() < 0.6 ? 1 : 2 + Math.floor(r() * 3);
  for (let k = 0; k < count; k++) {
    const m = mutate(r, bytes, layouts[which]!);
    bytes = m.bytes;
    what.push(m.what);
  }
  console.log(`begin ${i} ${seeds[which]!.name}: ${what.join('; ')}`);
  writeFileSync(input, bytes);
  writeFileSync(work, bytes);
  const started = process.cpuUsage();
  let outcome: string;
  try {
    outcome = exercise(i) ? 'ok' : 'refused';
  } catch (err) {
    outcome = `FAIL ${(err as Error).message.replace(/\n/g, ' ')}`;
  }
  const rss = Math.round(process.resourceUsage().maxRSS / 1024);
  const cpu = process.cpuUsage(started);
  console.log(`end ${i} ${outcome.startsWith('FAIL') ? 'FAIL' : outcome} ${((cpu.user + cpu.system) / 1000).toFixed(1)} ${rss}${outcome.startsWith('FAIL') ? ` ${outcome.slice(5)}` : ''}`);
}
