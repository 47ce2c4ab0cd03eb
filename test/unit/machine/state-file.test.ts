// The saved-state file: a round trip gives back every named state and every RAM byte with zero
// pages left out; any damage (truncation at any point, a flipped bit anywhere, a foreign or newer
// file, another VM's state) is refused with a clear error; the committed version-1 file loads,
// and older versions are migrated forward one version at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeStateFile, readStateFile, STATE_FORMAT_VERSION, writeStateFile, type MachineState,
} from '../../../engine/machine/state-file.ts';
import { StateFileError } from '../../../engine/machine/errors.ts';
import { pattern } from '../storage/support/workload.ts';
import { FIXTURE_V1, fixtureV1State } from './fixtures/state-v1.ts';
import { scratch } from '../vm/support.ts';

const VM = '0b9d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f';
const PAGE = 4096;

/** 8 MiB of RAM: a few patterned stretches, one page with a single non-zero byte, the rest zeros. */
function sampleState(): MachineState {
  const ram = new Uint8Array(8 << 20);
  ram.set(pattern(1, 300 * PAGE), 10 * PAGE);
  ram.set(pattern(2, 5 * PAGE + 100), 1000 * PAGE);
  ram[2047 * PAGE + 4095] = 1;
  return {
    vm: VM,
    cpu: { harts: [{ pc: '2149580800', x: Array.from({ length: 32 }, (_, i) => String(BigInt(i) << 40n)) }] },
    devices: { plic: { version: 1, priority: [0, 1, 7] }, uart0: { version: 1, lcr: 3 } },
    clock: { version: 1, guestNs: '987654321012' },
    ram,
  };
}

function storedPagesOf(ram: Uint8Array): number {
  let count = 0;
  for (let p = 0; p < ram.length / PAGE; p++) if (ram.subarray(p * PAGE, (p + 1) * PAGE).some((b) => b !== 0)) count++;
  return count;
}

test('a state round-trips: named states as written, every RAM byte, zero pages not stored', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'saved.hst');
  const state = sampleState();
  const summary = await writeStateFile(path, state);
  assert.equal(summary.totalPages, 2048);
  assert.equal(summary.storedPages, storedPagesOf(state.ram));
  assert.equal(summary.storedPages, 300 + 6 + 1);
  assert.equal(summary.bytes, statSync(path).size);
  assert.ok(summary.bytes < 310 * PAGE, `random pages barely compress, zero pages cost nothing: ${summary.bytes} bytes`);
  assert.deepEqual(readdirSync(dir), ['saved.hst'], 'no temporary file is left');

  const loaded = await readStateFile(path, { vm: VM });
  assert.deepEqual(loaded.cpu, state.cpu);
  assert.deepEqual(loaded.devices, state.devices);
  assert.deepEqual(loaded.clock, state.clock);
  assert.equal(loaded.vm, VM);
  assert.equal(loaded.formatVersion, STATE_FORMAT_VERSION);
  assert.equal(loaded.engineVersion, (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  assert.equal(Buffer.compare(loaded.ram, state.ram), 0);

  // Straight into a machine's RAM: pages that were not stored become zeros there.
  const machineRam = new Uint8Array(state.ram.length).fill(0xee);
  const into = await readStateFile(path, { into: machineRam });
  assert.equal(into.ram, machineRam);
  assert.equal(Buffer.compare(machineRam, state.ram), 0);
  await assert.rejects(readStateFile(path, { into: new Uint8Array(4 << 20) }), /holds 8388608 bytes of RAM; the machine has 4194304/);
  // Into memory known to be zeroed, pages not stored are not even touched.
  const marked = new Uint8Array(state.ram.length).fill(0xee);
  await readStateFile(path, { into: marked, zeroed: true });
  assert.equal(marked[0], 0xee, 'page 0 was not stored: left alone');
  assert.equal(Buffer.compare(marked.subarray(10 * PAGE, 310 * PAGE), state.ram.subarray(10 * PAGE, 310 * PAGE)), 0);
});

test("another VM's state is refused, naming both VMs", async (t) => {
  const path = join(scratch(t), 'saved.hst');
  await writeStateFile(path, sampleState());
  await assert.rejects(readStateFile(path, { vm: 'aaaaaaaa-0000-4000-8000-000000000000' }),
    (err: Error) => err instanceof StateFileError && err.message.includes(`belongs to another VM (${VM}), not this one (aaaaaaaa-0000-4000-8000-000000000000)`));
});

test('truncation anywhere is refused: in the header, the JSON, the RAM section', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'saved.hst');
  await writeStateFile(path, sampleState());
  const whole = readFileSync(path);
  for (const length of [0, 5, 100, 200, whole.length - 5000, whole.length - 1]) {
    const cut = join(dir, `cut-${length}.hst`);
    writeFileSync(cut, whole.subarray(0, length));
    await assert.rejects(readStateFile(cut), (err: Error) => err instanceof StateFileError && (
      length < 8 ? /is not a Hangar saved-state file \(bad magic\)/ : length < 128 ? /is truncated \(\d+ bytes, shorter than its 128-byte header\)/ : new RegExp(`is truncated \\(${length} of ${whole.length} bytes\\)`)
    ).test(err.message), `cut at ${length}`);
  }
  writeFileSync(join(dir, 'long.hst'), Buffer.concat([whole, Buffer.from('x')]));
  await assert.rejects(readStateFile(join(dir, 'long.hst')), /has 1 unexpected bytes after its end/);
});

test('a flipped bit anywhere outside the checksum is caught by it', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'saved.hst');
  await writeStateFile(path, sampleState());
  const whole = readFileSync(path);
  // Engine version, JSON section, page bitmap, compressed RAM, the last byte, the checksum itself.
  for (const at of [20, 130, 700, 5000, whole.length - 1, 64]) {
    const bad = Buffer.from(whole);
    bad[at]! ^= 0x10;
    await assert.rejects(async () => decodeStateFile(bad, 'saved.hst'), (err: Error) => err instanceof StateFileError && err.message === 'saved.hst: checksum mismatch: the file is damaged', `bit flipped at ${at}`);
  }
});

test('foreign files, newer formats and damaged header lengths are refused by name', () => {
  const fixture = readFileSync(FIXTURE_V1);
  assert.throws(() => decodeStateFile(Buffer.from('{"not":"a state"}'), 'x.hst'), /x\.hst: is not a Hangar saved-state file \(bad magic\)/);
  const newer = Buffer.from(fixture);
  newer.writeUInt32LE(STATE_FORMAT_VERSION + 1, 8);
  assert.throws(() => decodeStateFile(newer, 'x.hst'), new RegExp(`is format version ${STATE_FORMAT_VERSION + 1}, newer than this Hangar reads \\(${STATE_FORMAT_VERSION}\\)`));
  const header = Buffer.from(fixture);
  header.writeUInt32LE(64, 12);
  assert.throws(() => decodeStateFile(header, 'x.hst'), /header length 64 is not 128: the header is damaged/);
});

test('a missing file is a StateFileError naming it', async () => {
  await assert.rejects(readStateFile('/nonexistent/saved.hst'), (err: Error) => err instanceof StateFileError && err.message === '/nonexistent/saved.hst: cannot be read (ENOENT)');
});

test('values that are not plain data are refused before anything is written', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'saved.hst');
  writeFileSync(path, 'previous state');
  await assert.rejects(writeStateFile(path, { ...sampleState(), cpu: { pc: 2n ** 63n } }), /the state is not plain data .*64-bit values go as decimal strings/);
  await assert.rejects(writeStateFile(path, { ...sampleState(), ram: new Uint8Array(100) }), /RAM of 100 bytes is not a whole number of 4096-byte pages/);
  assert.equal(readFileSync(path, 'utf8'), 'previous state');
  assert.deepEqual(readdirSync(dir), ['saved.hst']);
});

test('the committed version-1 file loads with its contents', async () => {
  const loaded = await readStateFile(FIXTURE_V1, { vm: VM });
  const expected = fixtureV1State();
  assert.equal(loaded.formatVersion, 1);
  assert.equal(loaded.engineVersion, '0.1.0');
  assert.deepEqual(loaded.cpu, expected.cpu);
  assert.deepEqual(loaded.devices, expected.devices);
  assert.deepEqual(loaded.clock, expected.clock);
  assert.equal(Buffer.compare(loaded.ram, expected.ram), 0);
  assert.equal(loaded.ram[4095], 255);
  assert.equal(new TextDecoder().decode(loaded.ram.subarray(15 * 4096, 15 * 4096 + 17)), 'hangar v1 fixture');
});

test('an older file is migrated forward one version at a time, in order; a gap in the table is an error', () => {
  const v1 = readFileSync(FIXTURE_V1);
  const steps: string[] = [];
  // A made-up future: version 2 renamed clock.guestNs, version 3 moved the UART under "serial".
  const schema = {
    version: 3,
    migrations: {
      1: ({ json, ram }: { json: Record<string, any>; ram: Uint8Array }) => {
        steps.push('1→2');
        const { guestNs, ...clock } = json.clock;
        return { json: { ...json, clock: { ...clock, version: 2, ns: guestNs } }, ram };
      },
      2: ({ json, ram }: { json: Record<string, any>; ram: Uint8Array }) => {
        steps.push('2→3');
        const { uart0, ...devices } = json.devices;
        return { json: { ...json, devices: { ...devices, serial: { uart0 } } }, ram };
      },
    },
  };
  const loaded = decodeStateFile(v1, 'state-v1.hst', {}, schema);
  assert.deepEqual(steps, ['1→2', '2→3']);
  assert.equal(loaded.formatVersion, 1, 'the version the file was written in');
  assert.deepEqual(loaded.clock, { version: 2, ns: '123456789' });
  assert.deepEqual(loaded.devices, { rtc: { version: 1, alarm: '0' }, serial: { uart0: { version: 1, ier: 0, lcr: 3 } } });
  assert.equal(Buffer.compare(loaded.ram, fixtureV1State().ram), 0);
  assert.throws(() => decodeStateFile(v1, 'state-v1.hst', {}, { version: 3, migrations: { 1: schema.migrations[1] } }),
    /state-v1\.hst: no migration from format version 2 to 3/);
});

test('version 1 → 2: a saved CLINT entry is dropped (its registers are in the harts\' state)', async (t) => {
  const path = join(scratch(t), 'v1-with-clint.hst');
  const state = sampleState();
  await writeStateFile(path, { ...state, devices: { ...state.devices, clint: { version: 1, msipHarts: [0] } } });
  const v1 = Buffer.from(readFileSync(path));
  v1.writeUInt32LE(1, 8); // as Hangar 0.1.0 wrote it
  createHash('sha256').update(v1.subarray(128)).update(v1.subarray(0, 64)).digest().copy(v1, 64);
  const loaded = decodeStateFile(v1, 'v1-with-clint.hst');
  assert.equal(loaded.formatVersion, 1);
  assert.deepEqual(loaded.devices, state.devices);
  assert.deepEqual(loaded.cpu, state.cpu);
});

test('a file whose checksum was made to match still has its RAM section checked block by block', () => {
  const file = Buffer.from(readFileSync(FIXTURE_V1));
  const resign = (bytes: Buffer) => {
    createHash('sha256').update(bytes.subarray(128)).update(bytes.subarray(0, 64)).digest().copy(bytes, 64);
    return bytes;
  };
  const jsonEnd = 128 + Number(file.readBigUInt64LE(48));
  // The bitmap marks pages 0, 4 and 15 (byte 0 = 0b00010001, byte 1 = 0b10000000).
  assert.deepEqual([...file.subarray(jsonEnd, jsonEnd + 2)], [0x11, 0x80]);
  const fewer = Buffer.from(file);
  fewer[jsonEnd + 1] = 0;
  assert.throws(() => decodeStateFile(resign(fewer), 'x.hst'), /x\.hst: RAM section holds more pages than its bitmap marks/);
  const more = Buffer.from(file);
  more[jsonEnd + 1] = 0xc0;
  assert.throws(() => decodeStateFile(resign(more), 'x.hst'), /x\.hst: RAM section holds fewer pages than its bitmap marks/);
  const lengths = Buffer.from(file);
  lengths.writeUInt32LE(4096 * 3 + 1, jsonEnd + 2);
  assert.throws(() => decodeStateFile(resign(lengths), 'x.hst'), /x\.hst: RAM block at section offset 2 has impossible lengths/);
});
