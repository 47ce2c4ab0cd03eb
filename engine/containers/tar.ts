// Tar as the containers service reads and writes it: the reader is the shared one
// (engine/common/tar.ts), a malformed archive being an InvalidImageError; the writer makes
// layers, snapshots and archives (ustar, with pax headers where its fields are too small).
import { readTar, TAR_BLOCK, tarPadding, type TarEntry, type TarEntryType, type TarRecord } from '../common/tar.ts';
import { InvalidImageError } from './errors.ts';

export type { TarEntry, TarEntryType, TarRecord } from '../common/tar.ts';

/** The entries of an image tar (layer, archive, snapshot). */
export function readImageTar(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<TarRecord> {
  return readTar(source, (message) => new InvalidImageError(message));
}

const FLAG_BY_TYPE: Record<TarEntryType, string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

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
  const block = Buffer.alloc(TAR_BLOCK);
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
      yield Buffer.alloc(tarPadding(data.length));
    }
    yield sealed(block);
    if (size > 0 && body) {
      if (Buffer.isBuffer(body)) yield body;
      else {
        let written = 0;
        for await (const chunk of body) { written += chunk.length; yield chunk; }
        if (written !== size) throw new Error(`tar: ${entry.path}: expected ${size} bytes, got ${written}`);
      }
      yield Buffer.alloc(tarPadding(size));
    }
  }
  yield Buffer.alloc(TAR_BLOCK * 2);
}
