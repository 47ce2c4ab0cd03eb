// The Unix ar archive, as a .deb uses it (deb(5)): the magic "!<arch>\n", then for each member
// a 60-byte header — name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n" (decimal ASCII,
// space padded) — and the member's bytes, padded to an even offset. A .deb is
// debian-binary, control.tar.*, data.tar.*, in that order. The archive is untrusted: every
// size is checked against the file before a member is handed out.
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { FormatError } from './errors.ts';

const MAGIC = '!<arch>\n';
const HEADER = 60;

export interface ArMember {
  /** The name with its padding and the System V trailing slash removed. */
  name: string;
  /** Where the member's bytes start in the file. */
  offset: number;
  size: number;
}

/** Lists an ar archive's members (names and where their bytes are), checking every header. */
export async function listAr(path: string): Promise<ArMember[]> {
  const file = await open(path, 'r');
  try {
    const fileSize = (await file.stat()).size;
    const magic = Buffer.alloc(MAGIC.length);
    await file.read(magic, 0, magic.length, 0);
    if (magic.toString('latin1') !== MAGIC) throw new FormatError(`${path}: not an ar archive (bad magic)`);
    const members: ArMember[] = [];
    const header = Buffer.alloc(HEADER);
    for (let position = MAGIC.length; position < fileSize; ) {
      const { bytesRead } = await file.read(header, 0, HEADER, position);
      if (bytesRead < HEADER) throw new FormatError(`${path}: truncated ar header at offset ${position}`);
      if (header.toString('latin1', 58, 60) !== '`\n') throw new FormatError(`${path}: corrupt ar header at offset ${position}`);
      const sizeText = header.toString('latin1', 48, 58).trim();
      if (!/^\d+$/.test(sizeText)) throw new FormatError(`${path}: bad member size "${sizeText}" at offset ${position}`);
      const size = Number(sizeText);
      const offset = position + HEADER;
      if (offset + size > fileSize) throw new FormatError(`${path}: truncated ar member at offset ${position} (${size} bytes announced, ${fileSize - offset} present)`);
      members.push({ name: header.toString('latin1', 0, 16).trim().replace(/\/$/, ''), offset, size });
      position = offset + size + (size % 2);
    }
    return members;
  } finally {
    await file.close();
  }
}

/** Streams one member's bytes. */
export async function* readArMember(path: string, member: ArMember): AsyncGenerator<Buffer> {
  if (member.size === 0) return;
  yield* createReadStream(path, { start: member.offset, end: member.offset + member.size - 1 });
}
