// The cpio "newc" format the Linux kernel unpacks as its initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): for each entry the ASCII magic
// "070701", thirteen 8-digit hexadecimal fields — ino, mode, uid, gid, nlink, mtime, filesize,
// devmajor, devminor, rdevmajor, rdevminor, namesize (with its NUL), check (0) — then the name
// and its NUL padded to a multiple of 4, then the data padded to a multiple of 4. The archive
// ends with an entry named "TRAILER!!!".

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (value: number) => {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`cpio: field value ${value} out of range`);
  return value.toString(16).padStart(8, '0');
};
const pad4 = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);

function record(ino: number, mode: number, nlink: number, name: string, data: Buffer, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  const header = Buffer.from('070701' + [
    ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0,
  ].map(hex8).join(''), 'latin1');
  // The header is 110 bytes: padding after the name aligns header + name to 4.
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/**
 * Writes a newc archive. Entries are written in the order given (a directory must come before
 * what it holds), owned by root, with mtime 0 so that the same input gives the same bytes.
 */
export function writeCpio(entries: Iterable<CpioEntry>): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    const name = entry.path.replace(/^\/+/, '');
    if (!name || name.split('/').includes('..')) throw new RangeError(`cpio: bad path "${entry.path}"`);
    switch (entry.type) {
      case 'dir': parts.push(...record(ino++, S_IFDIR | (entry.mode ?? 0o755), 2, name, Buffer.alloc(0))); break;
      case 'file': parts.push(...record(ino++, S_IFREG | (entry.mode ?? 0o644), 1, name, entry.data)); break;
      case 'symlink': parts.push(...record(ino++, S_IFLNK | 0o777, 1, name, Buffer.from(entry.target))); break;
      case 'char': parts.push(...record(ino++, S_IFCHR | (entry.mode ?? 0o600), 1, name, Buffer.alloc(0), [entry.major, entry.minor])); break;
    }
  }
  parts.push(...record(0, 0, 1, 'TRAILER!!!', Buffer.alloc(0)));
  return Buffer.concat(parts);
}
