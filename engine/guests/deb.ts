// Unpacking a .deb ourselves (deb(5)): an ar archive whose data.tar member holds the files,
// compressed with xz (what Debian's archive uses), gzip, zstd (Ubuntu's choice; needs a Node
// whose zlib has it) or not at all. Files are read straight from the stream: nothing is
// written to disk but what the caller keeps.
import { Readable, pipeline, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import xz from 'xz-decompress';
import { listAr, readArMember } from './ar.ts';
import { FormatError } from './errors.ts';
import { readTar, type TarRecord } from '../common/tar.ts';

/** Decompresses an xz stream (the xz-decompress WebAssembly decoder). */
export async function* xzDecompress(source: AsyncIterable<Buffer> | Iterable<Buffer>, what: string): AsyncGenerator<Buffer> {
  const input = Readable.toWeb(Readable.from(source)) as unknown as ReadableStream<Uint8Array>;
  // The decoder runs one stream at a time (a process-wide lock, released when a stream ends or
  // is cancelled): a consumer that stops early must cancel, or every later decode waits forever.
  const reader = (new xz.XzReadableStream(input) as unknown as ReadableStream<Uint8Array>).getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) { ended = true; return; }
      // The decoder's chunks may be views of its own memory: copy before handing them on.
      yield Buffer.from(value);
    }
  } catch (err) {
    ended = true;
    throw new FormatError(`${what}: not valid xz data (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    if (!ended) await reader.cancel().catch(() => { /* already failed */ });
  }
}

export async function xzDecompressBuffer(data: Buffer, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of xzDecompress([data], what)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function through(source: AsyncIterable<Buffer>, transform: Transform): AsyncIterable<Buffer> {
  pipeline(Readable.from(source), transform, () => { /* errors surface through the transform */ });
  return transform;
}

function decompressor(member: string, path: string): ((source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>) {
  const what = `${path}: ${member}`;
  if (member === 'data.tar') return (source) => source;
  if (member === 'data.tar.xz') return (source) => xzDecompress(source, what);
  if (member === 'data.tar.gz') return (source) => through(source, zlib.createGunzip());
  if (member === 'data.tar.zst') {
    const create = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
    if (!create) throw new FormatError(`${what}: zstd-compressed packages need Node 22.15 or later (this is ${process.version})`);
    return (source) => through(source, create());
  }
  throw new FormatError(`${what}: unsupported compression (supported: data.tar, data.tar.xz, data.tar.gz, data.tar.zst)`);
}

/** The entries of a .deb's data.tar, paths without their leading "./". */
export async function* readDebData(path: string): AsyncGenerator<TarRecord> {
  const members = await listAr(path);
  if (members[0]?.name !== 'debian-binary') throw new FormatError(`${path}: not a Debian package (no debian-binary member first)`);
  const data = members.find((m) => m.name.startsWith('data.tar'));
  if (!data) throw new FormatError(`${path}: no data.tar member`);
  const decompress = decompressor(data.name, path);
  const content = (async function* () { yield* decompress(readArMember(path, data)); })();
  // readTar closes its source (the decompressor) however the reading ends.
  for await (const record of readTar(content, (message) => new FormatError(`${path}: ${message}`))) {
    record.entry.path = record.entry.path.replace(/^\.?\/+/, '');
    yield record;
  }
}

export async function readBody(record: TarRecord): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of record.body) chunks.push(chunk);
  return Buffer.concat(chunks);
}
