// Dynamically linked programs for the initramfs: what an ELF program needs (elf.ts), the files
// that brings in from the packages (programs.ts), and the packages a program's package depends on
// (PackageIndex.closure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamicInfo } from '../../../engine/guests/elf.ts';
import { FormatError, GuestError } from '../../../engine/guests/errors.ts';
import { PackageIndex, parsePackages } from '../../../engine/guests/packages.ts';
import { programEntries, type PackageFile } from '../../../engine/guests/programs.ts';
import { programElf } from './fixtures.ts';

const EM_RISCV = 243;
const LOADER = '/lib/ld-linux-riscv64-lp64d.so.1';
const MULTIARCH = 'usr/lib/riscv64-linux-gnu';
const LIBRARY_PATH = ['lib/riscv64-linux-gnu', MULTIARCH, 'lib', 'usr/lib'];

test('dynamicInfo reads PT_INTERP and the DT_NEEDED names through the string table\'s address', () => {
  const elf = programElf({ interpreter: LOADER, needed: ['libext2fs.so.2', 'libc.so.6'] });
  assert.deepEqual(dynamicInfo(elf, EM_RISCV, 'mke2fs'), { interpreter: LOADER, needed: ['libext2fs.so.2', 'libc.so.6'] });
  assert.deepEqual(dynamicInfo(programElf({ needed: ['ld-linux-riscv64-lp64d.so.1'] }), EM_RISCV, 'libc.so.6'),
    { interpreter: null, needed: ['ld-linux-riscv64-lp64d.so.1'] });
});

test('dynamicInfo refuses a file that is not a well-formed ELF program for the machine, naming it', () => {
  const refuses = (data: Buffer, why: RegExp) =>
    assert.throws(() => dynamicInfo(data, EM_RISCV, '/usr/sbin/x'), (err: Error) => err instanceof FormatError && /^\/usr\/sbin\/x: /.test(err.message) && why.test(err.message));
  const good = programElf({ interpreter: LOADER, needed: ['libc.so.6'] });
  refuses(Buffer.from('#!/bin/sh\necho hello\n'.padEnd(80)), /no ELF magic/);
  refuses(programElf({ needed: ['libc.so.6'], machine: 62 }), /machine 62/);
  refuses(good.subarray(0, 100), /program header table out of bounds/);
  // The dynamic section ends DT_STRTAB, DT_STRSZ, DT_NULL (16 bytes each).
  const shortTable = Buffer.from(good);
  shortTable.writeBigUInt64LE(3n, shortTable.length - 32 + 8); // DT_STRSZ cuts "libc.so.6" short
  refuses(shortTable, /a DT_NEEDED name is not a terminated string/);
  const strtabElsewhere = Buffer.from(good);
  strtabElsewhere.writeBigUInt64LE(0x900000n, strtabElsewhere.length - 48 + 8); // past the only PT_LOAD
  refuses(strtabElsewhere, /DT_STRTAB is in no loaded segment/);
});

function packageFiles(entries: Record<string, Buffer | { link: string } | { hardlink: string }>): Map<string, PackageFile> {
  return new Map(Object.entries(entries).map(([path, value]): [string, PackageFile] => {
    if (Buffer.isBuffer(value)) return [path, { type: 'file', mode: 0o755, data: value }];
    return 'link' in value ? [path, { type: 'symlink', target: value.link }] : [path, { type: 'hardlink', target: value.hardlink }];
  }));
}

// The shape of Debian trixie's e2fsprogs and libc6 (merged /usr, soname links, the loader in the
// multiarch folder with a link from /usr/lib), plus files nothing needs.
const DEBIAN = {
  'usr/sbin/mke2fs': programElf({ interpreter: LOADER, needed: ['libext2fs.so.2', 'libc.so.6'] }),
  'usr/sbin/mkfs.ext4': { link: 'mke2fs' },
  'usr/sbin/e2fsck': programElf({ interpreter: LOADER, needed: ['libc.so.6'] }),
  'usr/sbin/fsck.ext4': { link: 'e2fsck' },
  'usr/sbin/debugfs': programElf({ interpreter: LOADER, needed: ['libss.so.2', 'libc.so.6'] }),
  [`${MULTIARCH}/libext2fs.so.2.4`]: programElf({ needed: ['libc.so.6', 'ld-linux-riscv64-lp64d.so.1'] }),
  [`${MULTIARCH}/libext2fs.so.2`]: { link: 'libext2fs.so.2.4' },
  [`${MULTIARCH}/libss.so.2`]: programElf({ needed: ['libc.so.6'] }),
  [`${MULTIARCH}/libc.so.6`]: programElf({ needed: ['ld-linux-riscv64-lp64d.so.1'] }),
  [`${MULTIARCH}/libm.so.6`]: programElf({ needed: ['libc.so.6'] }),
  [`${MULTIARCH}/ld-linux-riscv64-lp64d.so.1`]: programElf({}),
  'usr/lib/ld-linux-riscv64-lp64d.so.1': { link: 'riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1' },
} as const;

test('programEntries: the programs, their loader and the libraries they need, links kept, nothing else', () => {
  const entries = programEntries(packageFiles(DEBIAN), {
    install: ['usr/sbin/mkfs.ext4', 'usr/sbin/fsck.ext4'], libraryPath: LIBRARY_PATH, machine: EM_RISCV,
  });
  const listing = Object.fromEntries(entries.map((e) => [e.path, e.type === 'symlink' ? `-> ${e.target}` : e.type]));
  assert.deepEqual(listing, {
    'usr/sbin/mkfs.ext4': '-> mke2fs',
    'usr/sbin/mke2fs': 'file',
    'usr/sbin/fsck.ext4': '-> e2fsck',
    'usr/sbin/e2fsck': 'file',
    // PT_INTERP names /lib/…: a merged-/usr link to where the package has it.
    'lib/ld-linux-riscv64-lp64d.so.1': '-> ../usr/lib/ld-linux-riscv64-lp64d.so.1',
    'usr/lib/ld-linux-riscv64-lp64d.so.1': '-> riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1',
    [`${MULTIARCH}/ld-linux-riscv64-lp64d.so.1`]: 'file',
    [`${MULTIARCH}/libext2fs.so.2`]: '-> libext2fs.so.2.4',
    [`${MULTIARCH}/libext2fs.so.2.4`]: 'file',
    [`${MULTIARCH}/libc.so.6`]: 'file',
  });
  const mke2fs = entries.find((e) => e.path === 'usr/sbin/mke2fs');
  assert.ok(mke2fs?.type === 'file' && mke2fs.mode === 0o755 && mke2fs.data.equals(DEBIAN['usr/sbin/mke2fs']));
});

test('programEntries: the library path is searched in order; absolute links, hard links and scripts work', () => {
  const files = packageFiles({
    'usr/bin/tool': programElf({ needed: ['libx.so.1'] }),
    'lib/libx.so.1': programElf({ needed: [] }),
    'usr/lib/libx.so.1': programElf({ needed: ['libmissing.so'] }), // later in the path: never looked at
    'usr/bin/alias': { link: '/usr/bin/tool' },
    'usr/bin/copy': { hardlink: 'usr/bin/tool' },
    'usr/bin/script': Buffer.from('#!/bin/sh\nexec tool "$@"\n'),
  });
  const entries = programEntries(files, { install: ['usr/bin/alias', 'usr/bin/copy', 'usr/bin/script'], libraryPath: ['lib', 'usr/lib'], machine: EM_RISCV });
  assert.deepEqual(entries.map((e) => `${e.type} ${e.path}`).sort(), [
    'file lib/libx.so.1', 'file usr/bin/copy', 'file usr/bin/script', 'file usr/bin/tool', 'symlink usr/bin/alias',
  ]);
  const copy = entries.find((e) => e.path === 'usr/bin/copy');
  const tool = files.get('usr/bin/tool');
  assert.ok(copy?.type === 'file' && tool?.type === 'file' && copy.data.equals(tool.data));
});

test('programEntries: a missing program, library or loader, or a link loop, is an error naming what needs it', () => {
  const recipe = (install: string[]) => ({ install, libraryPath: LIBRARY_PATH, machine: EM_RISCV });
  const refuses = (files: Map<string, PackageFile>, install: string[], message: RegExp) =>
    assert.throws(() => programEntries(files, recipe(install)), (err: Error) => err instanceof GuestError && message.test(err.message));
  refuses(packageFiles(DEBIAN), ['usr/sbin/tune2fs'], /the guest recipe needs \/usr\/sbin\/tune2fs, which none of the packages has/);
  const { [`${MULTIARCH}/ld-linux-riscv64-lp64d.so.1`]: _loader, ...noLoader } = DEBIAN;
  refuses(packageFiles(noLoader), ['usr/sbin/e2fsck'], /\/usr\/sbin\/e2fsck needs \/usr\/lib\/riscv64-linux-gnu\/ld-linux-riscv64-lp64d\.so\.1/);
  const { [`${MULTIARCH}/libc.so.6`]: _libc, ...noLibc } = DEBIAN;
  refuses(packageFiles(noLibc), ['usr/sbin/e2fsck'], /\/usr\/sbin\/e2fsck needs the library libc\.so\.6, which none of the packages has in \/lib\/riscv64-linux-gnu, \/usr\/lib\/riscv64-linux-gnu, \/lib, \/usr\/lib/);
  refuses(packageFiles({ 'usr/bin/a': { link: 'b' }, 'usr/bin/b': { link: 'a' } }), ['usr/bin/a'], /chain of more than 40 links/);
});

test('PackageIndex.closure: everything a package depends on, whatever the source; what nothing satisfies is reported', () => {
  const stanza = (name: string, fields: Record<string, string> = {}) =>
    Object.entries({ Package: name, Version: '1.0-1', Architecture: 'riscv64', Filename: `pool/main/${name}_1.0-1_riscv64.deb`, Size: '1', SHA256: 'a'.repeat(64), ...fields })
      .map(([k, v]) => `${k}: ${v}`).join('\n');
  const index = new PackageIndex(parsePackages([
    stanza('e2fsprogs', { Source: 'e2fsprogs (1.0)', 'Pre-Depends': 'libext2fs2t64 (= 1.0-1), libc6 (>= 2.38)', Depends: 'logsave' }),
    stanza('libext2fs2t64', { Source: 'e2fsprogs (1.0)', Depends: 'libc6 (>= 2.38)' }),
    stanza('logsave', { Depends: 'libc6' }),
    stanza('libc6', { Version: '2.41-1', Source: 'glibc', Depends: 'libgcc-s1 | libgcc1' }),
    stanza('libgcc-s1', { Depends: 'gcc-14-base (= 1.0-1), libc6 (>= 2.35)' }),
    stanza('gcc-14-base'),
    stanza('needs-virtual', { Depends: 'libc6, mail-transport-agent' }),
  ].join('\n\n')));
  const { packages, missing } = index.closure('e2fsprogs');
  assert.deepEqual(packages.map((p) => p.name), ['e2fsprogs', 'libext2fs2t64', 'libc6', 'logsave', 'libgcc-s1', 'gcc-14-base']);
  assert.deepEqual(missing, []);
  assert.deepEqual(index.closure('needs-virtual').missing, ['mail-transport-agent (needed by needs-virtual)']);
  assert.throws(() => index.closure('nonesuch'), /package nonesuch is not in the index/);
});
