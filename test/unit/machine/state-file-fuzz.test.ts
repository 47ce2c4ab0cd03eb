// Fuzzing the saved-state reader (engine/machine/state-file.ts) with files a hostile or broken
// disk could hand it: a small valid file from the real writer, then bit flips, truncations,
// header length fields at their boundaries, JSON sections edited field by field and RAM block
// headers rewritten — the last three with the SHA-256 recomputed, so that the parser itself is
// exercised past the checksum. The reader must answer each with a value or a StateFileError
// (code corrupt): never another exception, never a hang, never memory a length field asks for.
// Fixed seed, a time limit; the inputs tried are printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HangarError } from '../../../engine/common/errors.ts';
import { StateFileError } from '../../../engine/machine/errors.ts';
import { decodeStateFile, writeStateFile } from '../../../engine/machine/state-file.ts';
import { prng } from '../../support/random.ts';
import { scratch } from '../vm/support.ts';

const SEED = 0x5eed_57a7;
const TIME_LIMIT_MS = 10_000;
const RAM_BYTES = 2 * 1024 * 1024; // 512 pages: a page bitmap and two compressed blocks
const HEADER = 128;
const VM = 'fuzz-vm';
/** More than this much new ArrayBuffer memory during the run means a length field was believed. */
const MEMORY_BOUND = 256 * 1024 * 1024;

/** The header's checksum as the format defines it: SHA-256 of the sections, then header bytes 0..63. */
function resealed(file: Buffer): Buffer {
  const hash = createHash('sha256').update(file.subarray(HEADER)).update(file.subarray(0, 64)).digest();
  hash.copy(file, 64);
  return file;
}

/** The file with its JSON section replaced by `json` (length field updated), resealed. */
function withJson(file: Buffer, json: string): Buffer {
  const jsonLength = Number(file.readBigUInt64LE(48));
  const text = Buffer.from(json);
  const out = Buffer.concat([file.subarray(0, HEADER), text, file.subarray(HEADER + jsonLength)]);
  out.writeBigUInt64LE(BigInt(text.length), 48);
  return resealed(out);
}

const BOUNDARIES = [0n, 1n, 7n, 8n, 127n, 128n, 4095n, 4096n, 0xffff_ffffn, 1n << 32n, 1n << 40n, (1n << 53n) - 1n, 1n << 63n, (1n << 64n) - 1n];
const JSON_VALUES: unknown[] = [null, 0, -1, 1.5, 4096, 2 ** 40, 2 ** 53, -(2 ** 31), 'x', '', [], {}, [1, 2], { version: 1 }, true];

test('fuzz state-file: only StateFileError (corrupt), no hang, bounded memory', { timeout: 120_000 }, async (t) => {
  const path = join(scratch(t), 'saved.hst');
  const ram = new Uint8Array(RAM_BYTES);
  for (let page = 0; page < RAM_BYTES / 4096; page += 1 + (page % 3)) ram.fill((page * 37) & 0xff, page * 4096, page * 4096 + 100 + page);
  await writeStateFile(path, {
    vm: VM,
    cpu: { harts: [{ version: 1, pc: '2147483648', x: ['0', '1'] }] },
    devices: { uart0: { version: 1, lcr: 3 }, virtio1: { version: 1, queues: [] } },
    clock: { version: 1, ticks: '123456789' },
    ram,
  });
  const original = readFileSync(path);
  const jsonLength = Number(original.readBigUInt64LE(48));
  const json = JSON.parse(original.subarray(HEADER, HEADER + jsonLength).toString()) as Record<string, unknown>;
  const into = new Uint8Array(RAM_BYTES);

  // Guard: the unmutated file reads back exactly, and the resealing helper is the format's own.
  const clean = decodeStateFile(original, 'saved.hst', { vm: VM, into });
  assert.deepEqual(Buffer.from(clean.ram), Buffer.from(ram));
  assert.deepEqual(resealed(Buffer.from(original)), original);

  const next = prng(SEED);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const mutations: Array<[string, () => Buffer]> = [
    ['bit flip', () => {
      const file = Buffer.from(original);
      for (let i = 1 + int(4); i > 0; i--) file[int(file.length)]! ^= 1 << int(8);
      return file;
    }],
    ['truncation', () => original.subarray(0, int(original.length))],
    ['header length field', () => {
      const file = Buffer.from(original);
      const field = pick([8, 12, 48, 56]);
      if (field < 48) file.writeUInt32LE(Number(pick(BOUNDARIES) & 0xffff_ffffn), field);
      else file.writeBigUInt64LE(pick([...BOUNDARIES, BigInt(jsonLength), BigInt(original.length - HEADER)]) + BigInt(int(3) - 1) & ((1n << 64n) - 1n), field);
      return resealed(file);
    }],
    ['JSON field', () => {
      const edited = structuredClone(json) as Record<string, unknown>;
      const target = pick(['vm', 'created', 'cpu', 'devices', 'clock', 'ram', 'ram.bytes', 'ram.pageSize', 'extra']);
      const value = pick(JSON_VALUES);
      if (target.startsWith('ram.')) (edited.ram as Record<string, unknown>)[target.slice(4)] = value;
      else if (next() < 0.2) delete edited[target];
      else edited[target] = value;
      return withJson(original, JSON.stringify(edited));
    }],
    ['JSON text', () => {
      const text = Buffer.from(JSON.stringify(json));
      for (let i = 1 + int(3); i > 0; i--) text[int(text.length)] = pick([0x22, 0x7b, 0x7d, 0x5b, 0x2c, 0x30, 0x00, 0xff, 0x5c]);
      return withJson(original, next() < 0.3 ? text.subarray(0, int(text.length)).toString('latin1') : text.toString('latin1'));
    }],
    ['RAM section', () => {
      const file = Buffer.from(original);
      const section = HEADER + jsonLength;
      const bitmapBytes = RAM_BYTES / 4096 / 8;
      const at = next() < 0.5 ? section + int(bitmapBytes) : section + bitmapBytes + int(file.length - section - bitmapBytes);
      if (next() < 0.5) file[at] = int(256);
      else if (at + 4 <= file.length) file.writeUInt32LE(Number(pick(BOUNDARIES) & 0xffff_ffffn), at);
      return resealed(file);
    }],
  ];

  const before = process.memoryUsage().arrayBuffers;
  const tried = new Map<string, number>();
  const refusals = new Set<string>();
  const failures: string[] = [];
  let inputs = 0;
  let accepted = 0;
  let slowest = 0;
  const started = performance.now();
  while (performance.now() - started < TIME_LIMIT_MS) {
    const [kind, mutate] = mutations[inputs % mutations.length]!;
    const input = mutate();
    inputs++;
    tried.set(kind, (tried.get(kind) ?? 0) + 1);
    const began = performance.now();
    try {
      const loaded = decodeStateFile(input, 'saved.hst', { vm: VM, into: next() < 0.5 ? into : undefined, zeroed: false });
      if (loaded.ram.length !== RAM_BYTES) failures.push(`${kind}: accepted with ${loaded.ram.length} bytes of RAM`);
      accepted++;
    } catch (err) {
      if (err instanceof StateFileError && err.code === 'corrupt' && err instanceof HangarError) {
        refusals.add(err.message.replace(/\d+/g, 'N'));
      } else if (failures.length < 10) {
        failures.push(`${kind} (${input.length} bytes, sha ${createHash('sha256').update(input).digest('hex').slice(0, 12)}): ${String(err)}`);
      }
    }
    slowest = Math.max(slowest, performance.now() - began);
  }
  const seconds = (performance.now() - started) / 1000;
  const grown = process.memoryUsage().arrayBuffers - before;
  console.log(`fuzz state-file: ${inputs} inputs in ${seconds.toFixed(1)} s, ${failures.length} failures (seed ${SEED.toString(16)}; ${[...tried].map(([k, n]) => `${k} ${n}`).join(', ')}; ${accepted} accepted, ${refusals.size} distinct refusals, slowest ${slowest.toFixed(0)} ms)`);
  assert.deepEqual(failures, []);
  // Canary: the resealed mutations reached the parser (not only the checksum) and were refused there.
  assert.ok(refusals.size >= 12, `only ${refusals.size} kinds of refusal:\n${[...refusals].join('\n')}`);
  assert.ok([...refusals].some((m) => m.includes('checksum mismatch')) && [...refusals].some((m) => m.includes('RAM block')) && [...refusals].some((m) => m.startsWith('saved.hst: ram:')));
  assert.ok(inputs >= 500, `${inputs} inputs in ${TIME_LIMIT_MS} ms`);
  assert.ok(slowest < 2000, `one input took ${slowest.toFixed(0)} ms`);
  assert.ok(grown < MEMORY_BOUND, `${(grown / 2 ** 20).toFixed(0)} MiB of ArrayBuffers more after the run`);
});

test('length fields that claim 2^40 bytes are refused without allocating them', () => {
  const file = Buffer.alloc(HEADER + 64);
  Buffer.from('HNGRSTAT').copy(file);
  file.writeUInt32LE(1, 8);
  file.writeUInt32LE(HEADER, 12);
  file.writeBigUInt64LE(1n << 40n, 48);
  assert.throws(() => decodeStateFile(resealed(file), 'huge.hst'), (err: unknown) => err instanceof StateFileError && /is truncated \(192 of \d+ bytes\)/.test(err.message));
  const json = JSON.stringify({ vm: null, created: 'now', cpu: {}, devices: {}, clock: {}, ram: { bytes: 2 ** 40, pageSize: 4096 } });
  const claim = Buffer.concat([file.subarray(0, HEADER), Buffer.from(json)]);
  claim.writeBigUInt64LE(BigInt(json.length), 48);
  claim.writeBigUInt64LE(0n, 56);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => decodeStateFile(resealed(claim), 'huge.hst'), (err: unknown) => err instanceof StateFileError && /ram: 1099511627776 bytes, more than a machine has/.test(err.message));
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
});
