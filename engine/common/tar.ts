// Streaming tar reader (POSIX ustar + pax, GNU long names): container image layers, `docker
// save` and OCI archives, and the data.tar of Debian packages. Reading never trusts the archive:
// checksums are checked, sizes bounded by what the stream holds, extended headers by 1 MiB, and
// paths are returned raw for the caller to judge.

export const TAR_BLOCK = 512;

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

/** Pulls exact byte counts out of a chunked stream. */
class ChunkReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer> | Iterable<Buffer>, private readonly malformed: (message: string) => Error) {
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
    if (!out || out.length < n) throw this.malformed(`tar: truncated ${what}`);
    return out;
  }

  /** Reads the stream to its end, discarding it (a hash over the stream then covers all of it). */
  async drain(): Promise<void> {
    this.buffered = [];
    this.length = 0;
    while (!(await this.iterator.next()).done) { /* discard */ }
  }

  /** Ends the source early (a file stream closes its descriptor); a no-op once it has ended. */
  async close(): Promise<void> {
    this.buffered = [];
    this.length = 0;
    await this.iterator.return?.();
  }

  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      const chunk = await this.take(Math.min(left, 1 << 16));
      if (!chunk) throw this.malformed(`tar: truncated ${what}`);
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

function numeric(header: Buffer, offset: number, length: number, what: string, malformed: (message: string) => Error): number {
  const raw = header.subarray(offset, offset + length);
  if (raw[0]! & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let value = raw[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + raw[i]!;
    if (!Number.isSafeInteger(value)) throw malformed(`tar: ${what} out of range`);
    return value;
  }
  const text = field(header, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw malformed(`tar: ${what} "${text}" is not an octal number`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  const stored = field(header, 148, 8).trim();
  return /^[0-7]+$/.test(stored) && parseInt(stored, 8) === sum;
}

function parsePax(data: Buffer, malformed: (message: string) => Error): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const length = Number(data.subarray(pos, space).toString());
    if (space < 0 || !Number.isInteger(length) || length <= 0 || pos + length > data.length) {
      throw malformed('tar: malformed pax header');
    }
    const record = data.subarray(space + 1, pos + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 0) throw malformed('tar: malformed pax record');
    records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

/** Bytes of zeros after content of `size` bytes, up to the next block. */
export const tarPadding = (size: number): number => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

/**
 * Reads a tar stream entry by entry. Each body must be read (or is skipped) before the next
 * entry; the stream is read to its end, padding after the end-of-archive blocks included. The
 * source is closed however the reading ends (its end, an error, or a consumer that stops early).
 * A malformed archive is reported with `malformed(message)`, the caller's own error class.
 */
export async function* readTar(source: AsyncIterable<Buffer> | Iterable<Buffer>, malformed: (message: string) => Error): AsyncGenerator<TarRecord> {
  const reader = new ChunkReader(source, malformed);
  try {
    yield* entries(reader, malformed);
  } finally {
    await reader.close();
  }
}

async function* entries(reader: ChunkReader, malformed: (message: string) => Error): AsyncGenerator<TarRecord> {
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const header = await reader.take(TAR_BLOCK);
    if (!header) return; // some writers omit the two zero blocks
    if (header.length < TAR_BLOCK) throw malformed('tar: truncated header');
    if (header.every((b) => b === 0)) return reader.drain();
    if (!checksumOk(header)) throw malformed('tar: header checksum mismatch (not a tar file, or corrupted)');
    const flag = String.fromCharCode(header[156]!);
    const size = numeric(header, 124, 12, 'size', malformed);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > 1 << 20) throw malformed('tar: extended header larger than 1 MiB');
      const data = await reader.exactly(size, 'extended header');
      await reader.exactly(tarPadding(size), 'padding');
      if (flag === 'x') pax = { ...pax, ...parsePax(data, malformed) };
      else if (flag === 'g') globalPax = { ...globalPax, ...parsePax(data, malformed) };
      else if (flag === 'L') longName = field(data, 0, data.length);
      else longLink = field(data, 0, data.length);
      continue;
    }
    const type = TYPE_BY_FLAG[flag];
    if (!type) throw malformed(`tar: unsupported entry type "${flag}"`);
    const records = { ...globalPax, ...pax };
    const prefix = field(header, 345, 155);
    const name = field(header, 0, 100);
    let path = records.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    if (type === 'dir') path = path.replace(/\/+$/, '');
    const xattrs: Record<string, string> = {};
    for (const [key, value] of Object.entries(records)) {
      if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = value;
    }
    /** A pax record's number (uid, gid, size, mtime), else the header's. */
    const number = (key: 'uid' | 'gid' | 'size' | 'mtime', offset: number, length: number) => {
      if (records[key] === undefined) return numeric(header, offset, length, key, malformed);
      const value = key === 'mtime' ? Math.floor(Number(records[key])) : Number(records[key]);
      if (!Number.isSafeInteger(value) || value < 0) throw malformed(`tar: ${path}: bad pax ${key} "${records[key]}"`);
      return value;
    };
    const entry: TarEntry = {
      path,
      type,
      mode: numeric(header, 100, 8, 'mode', malformed) & 0o7777,
      uid: number('uid', 108, 8),
      gid: number('gid', 116, 8),
      size: number('size', 124, 12),
      mtime: number('mtime', 136, 12),
      linkname: records.linkpath ?? longLink ?? field(header, 157, 100),
      devmajor: numeric(header, 329, 8, 'devmajor', malformed),
      devminor: numeric(header, 337, 8, 'devminor', malformed),
      xattrs,
    };
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
    await reader.exactly(tarPadding(bodySize), 'padding');
  }
}
