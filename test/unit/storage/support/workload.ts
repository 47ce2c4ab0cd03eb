// Random disk workloads with an in-memory model of what the disk must contain afterwards.
import { createHash } from 'node:crypto';
import type { BlockDevice } from '../../../../engine/storage/index.ts';
import { prng } from '../../../support/random.ts';

/** Bytes that depend on `seed` and position, different for every seed. */
export function pattern(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const next = prng(seed);
  for (let i = 0; i < length; i += 4) {
    const word = (next() * 2 ** 32) >>> 0;
    for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}

export interface Op {
  kind: 'write' | 'zero' | 'discard';
  offset: number;
  length: number;
  seed: number;
}

/**
 * `count` operations on a disk of `size` bytes: mostly writes (overwrites come by chance in a
 * small disk), some zero writes and discards, at byte or sector granularity, up to `maxLength`.
 */
export function randomOps(seed: number, size: number, count: number, { maxLength = 200_000, sectorAligned = false } = {}): Op[] {
  const next = prng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const r = next();
    const kind = r < 0.7 ? 'write' : r < 0.85 ? 'zero' : 'discard';
    let length = 1 + Math.floor(next() ** 2 * maxLength);
    let offset = Math.floor(next() * (size - length));
    if (sectorAligned) {
      offset -= offset % 512;
      length = Math.max(512, length - (length % 512));
    }
    ops.push({ kind, offset, length: Math.min(length, size - offset), seed: seed * 1000 + i });
  }
  return ops;
}

export function applyOp(disk: BlockDevice, op: Op): void {
  if (op.kind === 'write') disk.write(op.offset, pattern(op.seed, op.length));
  else if (op.kind === 'zero') disk.writeZeroes(op.offset, op.length);
  else disk.discard(op.offset, op.length);
}

/** What the op does to the bytes of the disk (a discard reads back as zeros in Hangar's formats). */
export function applyToModel(model: Uint8Array, op: Op): void {
  if (op.kind === 'write') model.set(pattern(op.seed, op.length), op.offset);
  else model.fill(0, op.offset, op.offset + op.length);
}

export function readAll(disk: BlockDevice): Uint8Array {
  const out = new Uint8Array(disk.size);
  disk.read(0, out);
  return out;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Index of the first differing byte, or -1 (assert.deepEqual on megabytes prints too much). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (Buffer.compare(a, b) === 0) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
