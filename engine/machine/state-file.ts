// Saved machine state: what suspend-to-disk and RAM snapshots write, and restore reads. It takes
// and gives plain values — named CPU, device and clock states (JSON: 64-bit values as decimal
// strings, as engine/devices/state.ts does) and guest RAM — and holds nothing of the host, so a
// state restores on another host and OS.
//
// Format version 2 (version 1 differs only in the devices it names: MIGRATIONS), little-endian:
//   header (128 bytes)
//     0  "HNGRSTAT"            magic
//     8  u32 format version    bumped when the layout below or the JSON schema changes
//    12  u32 header length     128
//    16  engine version        UTF-8, NUL-padded to 32 bytes (the Hangar that wrote it)
//    48  u64 JSON section length
//    56  u64 RAM section length
//    64  SHA-256 of the sections followed by header bytes 0..63: any flipped bit is caught
//    96  32 bytes reserved, zero
//   JSON section: { vm, created, cpu, devices, clock, ram: { bytes, pageSize: 4096 } }
//   RAM section:
//     a bitmap, one bit per 4 KiB guest page (bit i of byte i/8, LSB first): set = stored;
//     pages not stored are all zeros
//     blocks: u32 raw length, u32 compressed length, raw deflate (zlib) of the next stored pages
//     in page order, at most 256 pages (1 MiB) a block
// The magic, format version and header length (bytes 0..15) never move, so every later Hangar
// can tell which version it is reading; older versions are decoded and then migrated forward,
// one version at a time, through MIGRATIONS.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import { writeAtomic } from '../common/atomic-file.ts';
import { MAX_RAM_MIB } from '../cpu/layout.ts';
import { StateFileError } from './errors.ts';

export const STATE_FORMAT_VERSION = 2;
const MAGIC = Buffer.from('HNGRSTAT');
const HEADER_BYTES = 128;
const CHECKED_HEADER_BYTES = 64;
const ENGINE_VERSION_BYTES = 32;
export const STATE_PAGE_SIZE = 4096;
const PAGES_PER_BLOCK = 256;
/** Blocks compressed at once (zlib runs them on libuv's thread pool). */
const COMPRESS_AHEAD = 4;

const ENGINE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const deflate = promisify(deflateRaw);

export interface MachineState {
  /** The VM the state belongs to: a state is refused by any other. */
  vm: string | null;
  cpu: Record<string, unknown>;
  devices: Record<string, unknown>;
  clock: Record<string, unknown>;
  ram: Uint8Array;
}

export interface LoadedState extends MachineState {
  /** The format version the file was written in (it was migrated to the current one). */
  formatVersion: number;
  engineVersion: string;
  created: string;
}

/** The sections of a decoded file, before its fields are checked: what migrations work on. */
export interface StateDocument {
  json: Record<string, unknown>;
  ram: Uint8Array;
}

/** MIGRATIONS[n] turns a version-n document into a version-(n + 1) one. */
export type MigrationTable = Readonly<Record<number, (document: StateDocument) => StateDocument>>;

export const MIGRATIONS: MigrationTable = {
  // 1 → 2: the CLINT keeps no state of its own (msip and mtimecmp are the harts' lines, saved
  // with the harts), so its entry under `devices` goes.
  1: (document) => {
    const devices = document.json.devices;
    if (typeof devices !== 'object' || devices === null || Array.isArray(devices)) return document; // refused by the checks
    const { clint: _dropped, ...others } = devices as Record<string, unknown>;
    return { json: { ...document.json, devices: others }, ram: document.ram };
  },
};

export interface StateFileSummary {
  /** Bytes of the whole file. */
  bytes: number;
  storedPages: number;
  totalPages: number;
}

const zeroPage = Buffer.alloc(STATE_PAGE_SIZE);

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

/** Writes `state` to `path` atomically (temporary file, fsync, rename, folder fsync). */
export async function writeStateFile(path: string, state: MachineState): Promise<StateFileSummary> {
  const { ram } = state;
  if (ram.length % STATE_PAGE_SIZE !== 0) throw new StateFileError(`RAM of ${ram.length} bytes is not a whole number of ${STATE_PAGE_SIZE}-byte pages`);
  for (const key of ['cpu', 'devices', 'clock'] as const) {
    if (typeof state[key] !== 'object' || state[key] === null || Array.isArray(state[key])) throw new StateFileError(`${key}: must be an object of named states`);
  }
  let json: Buffer;
  try {
    json = Buffer.from(JSON.stringify({
      vm: state.vm,
      created: new Date().toISOString(),
      cpu: state.cpu,
      devices: state.devices,
      clock: state.clock,
      ram: { bytes: ram.length, pageSize: STATE_PAGE_SIZE },
    }));
  } catch (err) {
    throw new StateFileError(`the state is not plain data (${(err as Error).message}); 64-bit values go as decimal strings`);
  }
  const totalPages = ram.length / STATE_PAGE_SIZE;
  const bitmap = new Uint8Array(Math.ceil(totalPages / 8));
  const stored: number[] = [];
  // Ranges of one Buffer view, never a view per page: making 100 000 views of a large memory
  // costs seconds, comparing and copying ranges of one costs milliseconds.
  const memory = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength);
  for (let page = 0; page < totalPages; page++) {
    if (memory.compare(zeroPage, 0, STATE_PAGE_SIZE, page * STATE_PAGE_SIZE, (page + 1) * STATE_PAGE_SIZE) === 0) continue;
    bitmap[page >> 3]! |= 1 << (page & 7);
    stored.push(page);
  }
  const compressBlock = (first: number): Promise<Buffer> => {
    const pages = stored.slice(first, first + PAGES_PER_BLOCK);
    const raw = Buffer.alloc(pages.length * STATE_PAGE_SIZE);
    pages.forEach((page, i) => memory.copy(raw, i * STATE_PAGE_SIZE, page * STATE_PAGE_SIZE, (page + 1) * STATE_PAGE_SIZE));
    return deflate(raw, { level: 1 }).then((compressed) => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(raw.length, 0);
      head.writeUInt32LE(compressed.length, 4);
      return Buffer.concat([head, compressed]);
    });
  };

  let bytes = 0;
  await writeAtomic(path, async (file) => {
    const hash = createHash('sha256');
    let position = HEADER_BYTES;
    const append = async (piece: Uint8Array) => {
      await file.write(piece, 0, piece.length, position);
      hash.update(piece);
      position += piece.length;
    };
    await append(json);
    await append(bitmap);
    const pending: Promise<Buffer>[] = [];
    for (let next = 0; next < stored.length || pending.length;) {
      while (next < stored.length && pending.length < COMPRESS_AHEAD) {
        pending.push(compressBlock(next));
        next += PAGES_PER_BLOCK;
      }
      await append(await pending.shift()!);
    }
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(STATE_FORMAT_VERSION, 8);
    header.writeUInt32LE(HEADER_BYTES, 12);
    header.write(ENGINE_VERSION.slice(0, ENGINE_VERSION_BYTES), 16, 'utf8');
    u64(json.length).copy(header, 48);
    u64(position - HEADER_BYTES - json.length).copy(header, 56);
    hash.update(header.subarray(0, CHECKED_HEADER_BYTES));
    hash.digest().copy(header, CHECKED_HEADER_BYTES);
    await file.write(header, 0, HEADER_BYTES, 0);
    bytes = position;
  });
  return { bytes, storedPages: stored.length, totalPages };
}

export interface ReadStateOptions {
  /** Refuse a state that belongs to another VM. */
  vm?: string;
  /** Guest RAM to restore into (exactly the saved size); a new array otherwise. */
  into?: Uint8Array;
  /**
   * `into` is known to hold only zeros (a machine's fresh memory): pages the file does not store
   * are left untouched, so the host never commits memory for them.
   */
  zeroed?: boolean;
}

export async function readStateFile(path: string, options: ReadStateOptions = {}): Promise<LoadedState> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new StateFileError(`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeStateFile(data, path, options);
}

/** The format this Hangar reads into: its version, and how older ones are brought to it. */
export interface StateSchema {
  version: number;
  migrations: MigrationTable;
}

const CURRENT: StateSchema = { version: STATE_FORMAT_VERSION, migrations: MIGRATIONS };

/** Checks and decodes a whole state file (`name` labels messages); `schema` is for tests of migration. */
export function decodeStateFile(data: Uint8Array, name: string, options: ReadStateOptions = {}, schema: StateSchema = CURRENT): LoadedState {
  const bad = (what: string) => new StateFileError(`${name}: ${what}`);
  const file = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (file.length < MAGIC.length || !file.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('is not a Hangar saved-state file (bad magic)');
  if (file.length < HEADER_BYTES) throw bad(`is truncated (${file.length} bytes, shorter than its ${HEADER_BYTES}-byte header)`);
  const version = file.readUInt32LE(8);
  if (version > schema.version) throw bad(`is format version ${version}, newer than this Hangar reads (${schema.version}); use a newer Hangar`);
  if (version < 1) throw bad(`has an unknown format version ${version}`);
  if (file.readUInt32LE(12) !== HEADER_BYTES) throw bad(`header length ${file.readUInt32LE(12)} is not ${HEADER_BYTES}: the header is damaged`);
  const jsonLength = file.readBigUInt64LE(48);
  const ramLength = file.readBigUInt64LE(56);
  const expected = BigInt(HEADER_BYTES) + jsonLength + ramLength;
  if (BigInt(file.length) < expected) throw bad(`is truncated (${file.length} of ${expected} bytes)`);
  if (BigInt(file.length) > expected) throw bad(`has ${BigInt(file.length) - expected} unexpected bytes after its end`);
  const hash = createHash('sha256').update(file.subarray(HEADER_BYTES)).update(file.subarray(0, CHECKED_HEADER_BYTES)).digest();
  if (!hash.equals(file.subarray(CHECKED_HEADER_BYTES, CHECKED_HEADER_BYTES + 32))) throw bad('checksum mismatch: the file is damaged');
  const engineVersion = file.subarray(16, 16 + ENGINE_VERSION_BYTES).toString('utf8').replace(/\0+$/, '');

  const jsonEnd = HEADER_BYTES + Number(jsonLength);
  let json: unknown;
  try {
    json = JSON.parse(file.subarray(HEADER_BYTES, jsonEnd).toString('utf8'));
  } catch (err) {
    throw bad(`JSON section is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('JSON section is not an object');
  let document = decodeV1(json as Record<string, unknown>, file.subarray(jsonEnd), bad, options);
  for (let v = version; v < schema.version; v++) {
    const migrate = schema.migrations[v];
    if (!migrate) throw bad(`no migration from format version ${v} to ${v + 1}`);
    document = migrate(document);
  }
  return { ...checkDocument(document, bad, options.vm), formatVersion: version, engineVersion };
}

/** Version 1 sections: the JSON as it is, and the RAM the bitmap and blocks describe. */
function decodeV1(json: Record<string, unknown>, section: Buffer, bad: (what: string) => StateFileError, { into, zeroed }: ReadStateOptions): StateDocument {
  const ram = json.ram as { bytes?: unknown; pageSize?: unknown } | undefined;
  const bytes = ram?.bytes;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0 || bytes % STATE_PAGE_SIZE !== 0 || ram?.pageSize !== STATE_PAGE_SIZE) {
    throw bad(`ram: must give bytes (a whole number of ${STATE_PAGE_SIZE}-byte pages) and pageSize ${STATE_PAGE_SIZE}`);
  }
  if (into && into.length !== bytes) throw bad(`holds ${bytes} bytes of RAM; the machine has ${into.length}`);
  // Checked before RAM is allocated: a hostile count must not make the host reserve memory.
  if (bytes > MAX_RAM_MIB * 1024 * 1024) throw bad(`ram: ${bytes} bytes, more than a machine has (${MAX_RAM_MIB} MiB)`);
  if (section.length < Math.ceil(bytes / STATE_PAGE_SIZE / 8)) throw bad('RAM section is shorter than its page bitmap');
  const target = into ?? new Uint8Array(bytes);
  if (into && !zeroed) target.fill(0);
  const memory = Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  const pages = bytes / STATE_PAGE_SIZE;
  const bitmap = section.subarray(0, Math.ceil(pages / 8));
  let at = bitmap.length;
  let page = 0;
  const nextStored = () => {
    while (page < pages && !(bitmap[page >> 3]! & (1 << (page & 7)))) page++;
    return page < pages ? page++ : -1;
  };
  while (at < section.length) {
    if (at + 8 > section.length) throw bad('RAM section ends inside a block header');
    const rawLength = section.readUInt32LE(at);
    const compressedLength = section.readUInt32LE(at + 4);
    if (rawLength === 0 || rawLength % STATE_PAGE_SIZE !== 0 || rawLength > PAGES_PER_BLOCK * STATE_PAGE_SIZE || at + 8 + compressedLength > section.length) {
      throw bad(`RAM block at section offset ${at} has impossible lengths`);
    }
    let raw: Buffer;
    try {
      raw = inflateRawSync(section.subarray(at + 8, at + 8 + compressedLength), { maxOutputLength: rawLength });
    } catch (err) {
      throw bad(`RAM block at section offset ${at} does not decompress (${(err as Error).message})`);
    }
    if (raw.length !== rawLength) throw bad(`RAM block at section offset ${at} decompresses to ${raw.length} bytes, not ${rawLength}`);
    for (let offset = 0; offset < rawLength; offset += STATE_PAGE_SIZE) {
      const p = nextStored();
      if (p < 0) throw bad('RAM section holds more pages than its bitmap marks');
      raw.copy(memory, p * STATE_PAGE_SIZE, offset, offset + STATE_PAGE_SIZE);
    }
    at += 8 + compressedLength;
  }
  if (nextStored() >= 0) throw bad('RAM section holds fewer pages than its bitmap marks');
  return { json, ram: target };
}

/** The current version's fields, checked after any migration. */
function checkDocument(document: StateDocument, bad: (what: string) => StateFileError, vm: string | undefined): Omit<LoadedState, 'formatVersion' | 'engineVersion'> {
  const { json } = document;
  const object = (key: string) => {
    const value = json[key];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`${key}: must be an object of named states`);
    return value as Record<string, unknown>;
  };
  if (json.vm !== null && typeof json.vm !== 'string') throw bad('vm: must be a VM id or null');
  if (typeof json.created !== 'string') throw bad('created: must be a time');
  if (vm !== undefined && json.vm !== vm) throw bad(`belongs to ${json.vm === null ? 'no VM' : `another VM (${json.vm})`}, not this one (${vm})`);
  return { vm: json.vm, created: json.created, cpu: object('cpu'), devices: object('devices'), clock: object('clock'), ram: document.ram };
}
