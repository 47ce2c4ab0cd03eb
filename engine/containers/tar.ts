// Streaming tar (POSIX ustar + pax, GNU long names on read): image layers, `docker save` and
// OCI archives are all tar. Reading never trusts the archive: checksums are checked, sizes
// bounded by what the stream holds, and paths are returned raw for the caller to judge.
import { InvalidImageError } from './errors.ts';

const BLOCK = 512;

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** The path as archived, pax `path` taking precedence; a directory's trailing slash removed. */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from pax SCHILY.xattr.* records. */
  xattrs: Record<string, string>;
}

export interface TarRecord {
  entry: TarEntry;
  /** The entry's content (files only); skipped automatically when not read. */
  body: AsyncIterable<Buffer>;
}

const TYPE_BY_FLAG: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};
const FLAG_BY_TYPE: Record<TarEntryType, string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

/** Pulls exact byte counts out of a chunked stream. */
class ChunkReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer> | Iterable<Buffer>) {
    this.iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (async function* () { yield* source; })();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.length < n) {
      const next = await this.iterator.next();
      if (next.done) return false;
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      this.buffered.push(chunk);
      this.length += chunk.length;
    }
    return true;
  }

  /** Up to n bytes (fewer only at the end of the stream), or null at the end. */
  async take(n: number): Promise<Buffer | null> {
    await this.fill(n);
    if (this.length === 0) return null;
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const out = all.subarray(0, Math.min(n, all.length));
    const left = all.subarray(out.length);
    this.buffered = left.length ? [left] : [];
    this.length = left.length;
    return out;
  }

  async exactly(n: number, what: string): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    const out = await this.take(n);
    if (!out || out.length < n) throw new InvalidImageError(`tar: truncated ${what}`);
    return out;
  }

  /** Reads the stream to its end, discarding it (a hash over the stream then covers all of it). */
  async drain(): Promise<void> {
    this.buffered = [];
    this.length = 0;
    while (!(await this.iterator.next()).done) { /* discard */ }
  }

  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const chunk = await this.take(Math.min(left, 1 << 16));
      if (!chunk) throw new InvalidImageError(`tar: truncated ${what}`);
      left -= chunk.length;
      yield chunk;
    }
  }
}

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? length : nul).toString('utf8');
}

function numeric(header: Buffer, offset: number, length: number, what: string): number {
  const raw = header.subarray(offset, offset + length);
  if (raw[0]! & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let value = raw[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + raw[i]!;
    if (!Number.isSafeInteger(value)) throw new InvalidImageError(`tar: ${what} out of range`);
    return value;
  }
  const text = field(header, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new InvalidImageError(`tar: ${what} "${text}" is not an octal number`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  const stored = field(header, 148, 8).trim();
  return /^[0-7]+$/.test(stored) && parseInt(stored, 8) === sum;
}

function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const length = Number(data.subarray(pos, space).toString());
    if (space < 0 || !Number.isInteger(length) || length <= 0 || pos + length > data.length) {
      throw new InvalidImageError('tar: malformed pax header');
    }
    const record = data.subarray(space + 1, pos + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 0) throw new InvalidImageError('tar: malformed pax record');
    records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/**
 * Reads a tar stream entry by entry. Each body must be read (or is skipped) before the next
 * entry; the stream is read to its end, padding after the end-of-archive blocks included.
 */
export async function* readTar(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<TarRecord> {
  const reader = new ChunkReader(source);
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const header = await reader.take(BLOCK);
    if (!header) return; // some writers omit the two zero blocks
    if (header.length < BLOCK) throw new InvalidImageError('tar: truncated header');
    if (header.every((b) => b === 0)) return reader.drain();
    if (!checksumOk(header)) throw new InvalidImageError('tar: header checksum mismatch (not a tar file, or corrupted)');
    const flag = String.fromCharCode(header[156]!);
    const size = numeric(header, 124, 12, 'size');
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > 1 << 20) throw new InvalidImageError('tar: extended header larger than 1 MiB');
      const data = await reader.exactly(size, 'extended header');
      await reader.exactly(padding(size), 'padding');
      if (flag === 'x') pax = { ...pax, ...parsePax(data) };
      else if (flag === 'g') globalPax = { ...globalPax, ...parsePax(data) };
      else if (flag === 'L') longName = field(data, 0, data.length);
      else longLink = field(data, 0, data.length);
      continue;
    }
    const type = TYPE_BY_FLAG[flag];
    if (!type) throw new InvalidImageError(`tar: unsupported entry type "${flag}"`);
    const records = { ...globalPax, ...pax };
    const prefix = field(header, 345, 155);
    const name = field(header, 0, 100);
    let path = records.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    if (type === 'dir') path = path.replace(/\/+$/, '');
    const xattrs: Record<string, string> = {};
    for (const [key, value] of Object.entries(records)) {
      if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = value;
    }
    const entry: TarEntry = {
      path,
      type,
      mode: numeric(header, 100, 8, 'mode') & 0o7777,
      uid: records.uid !== undefined ? Number(records.uid) : numeric(header, 108, 8, 'uid'),
      gid: records.gid !== undefined ? Number(records.gid) : numeric(header, 116, 8, 'gid'),
      size: records.size !== undefined ? Number(records.size) : size,
      mtime: records.mtime !== undefined ? Math.floor(Number(records.mtime)) : numeric(header, 136, 12, 'mtime'),
      linkname: records.linkpath ?? longLink ?? field(header, 157, 100),
      devmajor: numeric(header, 329, 8, 'devmajor'),
      devminor: numeric(header, 337, 8, 'devminor'),
      xattrs,
    };
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new InvalidImageError(`tar: ${path}: bad size`);
    pax = {};
    longName = longLink = undefined;
    const bodySize = type === 'file' ? entry.size : 0;
    let consumed = false;
    const body = (async function* () {
      consumed = true;
      yield* reader.stream(bodySize, `content of ${path}`);
    })();
    yield { entry, body };
    if (!consumed) for await (const _ of reader.stream(bodySize, `content of ${path}`)) { /* skip unread content */ }
    await reader.exactly(padding(bodySize), 'padding');
  }
}

/** What writeTar needs for one entry; missing fields default to root-owned, epoch time. */
export interface TarInput {
  entry: Partial<TarEntry> & Pick<TarEntry, 'path' | 'type'>;
  /** File content: a buffer, or a stream of exactly entry.size bytes. */
  body?: Buffer | AsyncIterable<Buffer>;
}

function octal(header: Buffer, offset: number, length: number, value: number): boolean {
  const text = value.toString(8);
  if (text.length > length - 1) return false;
  header.write(text.padStart(length - 1, '0') + '\0', offset, length, 'ascii');
  return true;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + 1;
  while (bodyLength + String(length).length !== length) length = bodyLength + String(length).length;
  return Buffer.from(`${length}${body}`);
}

function header(entry: TarInput['entry'], path: string, flag: string, size: number): { block: Buffer; pax: Buffer[] } {
  const block = Buffer.alloc(BLOCK);
  const pax: Buffer[] = [];
  const name = entry.type === 'dir' ? `${path}/` : path;
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
  else block.write(name, 0, 100, 'utf8');
  octal(block, 100, 8, entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644));
  octal(block, 108, 8, entry.uid ?? 0);
  octal(block, 116, 8, entry.gid ?? 0);
  if (!octal(block, 124, 12, size)) pax.push(paxRecord('size', String(size)));
  octal(block, 136, 12, entry.mtime ?? 0);
  block.write(flag, 156, 1, 'ascii');
  const linkname = entry.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', linkname));
  else block.write(linkname, 157, 100, 'utf8');
  block.write('ustar\x0000', 257, 8, 'ascii');
  octal(block, 329, 8, entry.devmajor ?? 0);
  octal(block, 337, 8, entry.devminor ?? 0);
  for (const [key, value] of Object.entries(entry.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${key}`, value));
  return { block, pax };
}

function sealed(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  octal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

/** Writes a tar stream (pax headers where ustar fields are too small), ending with two zero blocks. */
export async function* writeTar(entries: AsyncIterable<TarInput> | Iterable<TarInput>): AsyncGenerator<Buffer> {
  for await (const { entry, body } of entries) {
    const size = entry.type === 'file' ? (Buffer.isBuffer(body) ? body.length : entry.size ?? 0) : 0;
    const { block, pax } = header(entry, entry.path, FLAG_BY_TYPE[entry.type], size);
    if (pax.length) {
      const data = Buffer.concat(pax);
      const paxHeader = header({ path: 'PaxHeader', type: 'file' }, 'PaxHeader', 'x', data.length).block;
      yield sealed(paxHeader);
      yield data;
      yield Buffer.alloc(padding(data.length));
    }
    yield sealed(block);
    if (size > 0 && body) {
      if (Buffer.isBuffer(body)) yield body;
      else {
        let written = 0;
        for await (const chunk of body) { written += chunk.length; yield chunk; }
        if (written !== size) throw new Error(`tar: ${entry.path}: expected ${size} bytes, got ${written}`);
      }
      yield Buffer.alloc(padding(size));
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}
