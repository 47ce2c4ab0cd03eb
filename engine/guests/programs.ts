// Dynamically linked programs from Debian packages, for the initramfs, with only what they need
// to run: each program the recipe names, the dynamic loader it names (PT_INTERP) and the shared
// libraries it and they need (DT_NEEDED, recursively), each found where the loader looks for it
// (the recipe's libraryPath: ld.so's system search path, as `ld.so --help` lists it). Symbolic
// links are kept as links (mkfs.ext4 → mke2fs, libc.so.6's soname links). Debian's packages are
// merged-/usr: a program or loader named under /lib, /bin or /sbin (PT_INTERP is
// /lib/ld-linux-….so.1) is shipped under /usr, and gets a link to it as a merged-/usr system has.
import { posix } from 'node:path';
import type { CpioEntry } from './cpio.ts';
import { readBody, readDebData } from './deb.ts';
import { dynamicInfo, isElf } from './elf.ts';
import { GuestError } from './errors.ts';

export type PackageFile =
  | { type: 'file'; mode: number; data: Buffer }
  | { type: 'symlink'; target: string }
  | { type: 'hardlink'; target: string };

/** Every regular file and link of the packages' data, by path (relative, no leading "./"). */
export async function readPackageFiles(debs: string[], signal?: AbortSignal): Promise<Map<string, PackageFile>> {
  const files = new Map<string, PackageFile>();
  for (const deb of debs) {
    for await (const record of readDebData(deb)) {
      signal?.throwIfAborted();
      const { path, type, mode, linkname } = record.entry;
      if (type === 'file') files.set(path, { type, mode: mode & 0o7777, data: await readBody(record) });
      else if (type === 'symlink') files.set(path, { type, target: linkname });
      else if (type === 'hardlink') files.set(path, { type, target: linkname.replace(/^\.?\/+/, '') });
    }
  }
  return files;
}

export interface ProgramsRecipe {
  /** Paths of the programs as the packages ship them (usr/sbin/mke2fs); links are followed. */
  install: string[];
  /** Where the loader looks for libraries, in its order (relative to /). */
  libraryPath: string[];
  /** The ELF machine the programs must be built for (EM_RISCV). */
  machine: number;
}

/** Links are followed at most this many times, as the kernel's limit on nested links. */
const MAX_LINKS = 40;
const MERGED_USR = /^(bin|sbin|lib)\//;

/** The initramfs entries for `recipe.install` and everything they need, from `files`. */
export function programEntries(files: Map<string, PackageFile>, recipe: ProgramsRecipe): CpioEntry[] {
  const entries = new Map<string, CpioEntry>();
  const scanned = new Set<string>();
  const pending: Array<{ path: string; data: Buffer }> = [];

  /** Adds `path` (following and adding links) and returns the regular file it leads to. */
  const install = (start: string, neededBy: string): { path: string; data: Buffer } => {
    let path = posix.normalize(start);
    for (let links = 0; links <= MAX_LINKS; links++) {
      const file = files.get(path);
      if (!file) {
        const underUsr = `usr/${path}`;
        if (!MERGED_USR.test(path) || !files.has(underUsr)) throw new GuestError(`${neededBy} needs /${path}, which none of the packages has`);
        entries.set(path, { type: 'symlink', path, target: posix.relative(posix.dirname(path), underUsr) });
        path = underUsr;
        continue;
      }
      if (file.type === 'symlink') {
        entries.set(path, { type: 'symlink', path, target: file.target });
        path = file.target.startsWith('/') ? posix.normalize(file.target.slice(1)) : posix.join(posix.dirname(path), file.target);
        continue;
      }
      const target = file.type === 'hardlink' ? files.get(file.target) : file;
      if (target?.type !== 'file') throw new GuestError(`${neededBy}: /${path} is a hard link to /${file.type === 'hardlink' ? file.target : path}, which is not a file in the packages`);
      entries.set(path, { type: 'file', path, mode: target.mode, data: target.data });
      return { path, data: target.data };
    }
    throw new GuestError(`${neededBy}: /${start} is a chain of more than ${MAX_LINKS} links`);
  };

  const library = (soname: string, neededBy: string) => {
    const directory = recipe.libraryPath.find((dir) => files.has(posix.join(dir, soname)));
    if (directory === undefined) {
      throw new GuestError(`${neededBy} needs the library ${soname}, which none of the packages has in ${recipe.libraryPath.map((d) => `/${d}`).join(', ')}`);
    }
    return install(posix.join(directory, soname), neededBy);
  };

  for (const program of recipe.install) pending.push(install(program, 'the guest recipe'));
  for (let next = pending.shift(); next; next = pending.shift()) {
    if (scanned.has(next.path) || !isElf(next.data)) continue; // scripts need only their interpreter (busybox sh)
    scanned.add(next.path);
    const { interpreter, needed } = dynamicInfo(next.data, recipe.machine, `/${next.path}`);
    if (interpreter) pending.push(install(interpreter.replace(/^\/+/, ''), `/${next.path}`));
    for (const soname of needed) pending.push(library(soname, `/${next.path}`));
  }
  return [...entries.values()];
}
