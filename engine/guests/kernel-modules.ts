// Kernel modules for the initramfs. Debian's package ships the .ko files (xz-compressed) but
// not modules.dep: depmod writes that at install time. The same facts are in each module's
// .modinfo ELF section, written by modpost: NUL-separated key=value strings, among them
// "depends=a,b" (the modules whose symbols it uses) and "softdep=pre: x post: y" (modules it
// wants loaded first without a symbol link, e.g. ext4 → crc32c). We read those and order the
// modules so every one comes after what it needs, as modprobe would load them.
import { FormatError, GuestError } from './errors.ts';

export interface ModuleInfo {
  /** Where the module file is, relative to /lib/modules/VERSION/ (e.g. kernel/fs/ext4/ext4.ko.xz). */
  path: string;
  /** The module's name as the kernel knows it ('-' in the file name becomes '_'). */
  name: string;
  depends: string[];
  /** Modules named in softdep "pre:" lists. */
  softPre: string[];
}

/** The module name of a file such as kernel/drivers/char/hw_random/virtio-rng.ko.xz. */
export function moduleNameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_');
}

/** The key=value strings of an ELF64 little-endian module's .modinfo section. */
export function readModinfo(elf: Buffer, what: string): Map<string, string[]> {
  const bad = (why: string) => new FormatError(`${what}: not a usable kernel module (${why})`);
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw bad('no ELF magic');
  if (elf[4] !== 2 || elf[5] !== 1) throw bad('not ELF64 little-endian');
  const sectionTable = Number(elf.readBigUInt64LE(0x28));
  const entrySize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const namesIndex = elf.readUInt16LE(0x3e);
  if (entrySize < 64 || namesIndex >= count || sectionTable + count * entrySize > elf.length) throw bad('section table out of bounds');
  const section = (i: number) => {
    const at = sectionTable + i * entrySize;
    const offset = Number(elf.readBigUInt64LE(at + 0x18));
    const size = Number(elf.readBigUInt64LE(at + 0x20));
    if (offset + size > elf.length) throw bad(`section ${i} out of bounds`);
    return { nameOffset: elf.readUInt32LE(at), data: elf.subarray(offset, offset + size) };
  };
  const names = section(namesIndex).data;
  for (let i = 0; i < count; i++) {
    const { nameOffset, data } = section(i);
    const end = names.indexOf(0, nameOffset);
    if (names.toString('latin1', nameOffset, end < 0 ? names.length : end) !== '.modinfo') continue;
    const info = new Map<string, string[]>();
    for (const text of data.toString('utf8').split('\0')) {
      const eq = text.indexOf('=');
      if (eq <= 0) continue;
      const key = text.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), text.slice(eq + 1)]);
    }
    return info;
  }
  throw bad('no .modinfo section');
}

export function moduleInfo(path: string, elf: Buffer): ModuleInfo {
  const info = readModinfo(elf, path);
  const list = (text: string | undefined) => (text ?? '').split(',').map((s) => s.trim().replace(/-/g, '_')).filter(Boolean);
  const softPre: string[] = [];
  for (const softdep of info.get('softdep') ?? []) {
    // "pre: a b post: c": the words after "pre:" up to the next "post:".
    const pre = /(?:^|\s)pre:\s*(.*?)(?:\s+post:|$)/.exec(softdep);
    if (pre) softPre.push(...pre[1]!.split(/\s+/).filter(Boolean).map((s) => s.replace(/-/g, '_')));
  }
  return { path, name: info.get('name')?.[0] ?? moduleNameOf(path), depends: list(info.get('depends')?.[0]), softPre };
}

/**
 * The modules to load for `wanted`, each after everything it depends on; `lookup` reads a
 * module's facts by name (undefined: no such module file). A module built into the kernel
 * (modules.builtin) is skipped; one that exists nowhere is an error. A softdep with no module of
 * that name is skipped: it names an alias (a crypto algorithm) that the recipe lists as a
 * module itself where the guest needs it.
 */
export async function loadOrder(
  wanted: string[],
  lookup: (name: string) => Promise<ModuleInfo | undefined>,
  builtin: Set<string>,
): Promise<ModuleInfo[]> {
  const order: ModuleInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (name: string, neededBy: string | null, soft: boolean): Promise<void> => {
    if (state.get(name) === 'done' || builtin.has(name)) return;
    if (state.get(name) === 'visiting') throw new GuestError(`kernel modules: dependency cycle through ${name}`);
    const module = await lookup(name);
    if (!module) {
      if (soft) return;
      throw new GuestError(`kernel module ${name}${neededBy ? ` (needed by ${neededBy})` : ''} is neither in the kernel package nor built in`);
    }
    state.set(name, 'visiting');
    for (const dependency of module.softPre) await visit(dependency, name, true);
    for (const dependency of module.depends) await visit(dependency, name, false);
    state.set(name, 'done');
    order.push(module);
  };
  for (const name of wanted) await visit(name.replace(/-/g, '_'), null, false);
  return order;
}
