// Test fixtures for the guest builder: module ELF files, an archive signing key, .deb packages.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A minimal ELF64 little-endian relocatable file: null section, .modinfo, .shstrtab. */
export function moduleElf(modinfo: string[]): Buffer {
  const info = Buffer.from(modinfo.map((s) => `${s}\0`).join(''));
  const names = Buffer.from('\0.modinfo\0.shstrtab\0');
  const infoAt = 64;
  const namesAt = infoAt + info.length;
  const tableAt = Math.ceil((namesAt + names.length) / 8) * 8;
  const elf = Buffer.alloc(tableAt + 3 * 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; elf[5] = 1; elf[6] = 1;
  elf.writeUInt16LE(1, 0x10);   // ET_REL
  elf.writeUInt16LE(243, 0x12); // EM_RISCV
  elf.writeBigUInt64LE(BigInt(tableAt), 0x28);
  elf.writeUInt16LE(64, 0x34);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(2, 0x3e);
  info.copy(elf, infoAt);
  names.copy(elf, namesAt);
  const section = (i: number, name: number, type: number, offset: number, size: number) => {
    const at = tableAt + i * 64;
    elf.writeUInt32LE(name, at);
    elf.writeUInt32LE(type, at + 4);
    elf.writeBigUInt64LE(BigInt(offset), at + 0x18);
    elf.writeBigUInt64LE(BigInt(size), at + 0x20);
  };
  section(1, 1, 1, infoAt, info.length);
  section(2, 10, 3, namesAt, names.length);
  return elf;
}

/**
 * A minimal dynamically linked ELF64 RISC-V file as the loader sees it: one PT_LOAD segment
 * (mapped at 0x10000, so that addresses and file offsets differ), PT_INTERP when an interpreter
 * is given, and PT_DYNAMIC with DT_NEEDED entries, DT_STRTAB and DT_STRSZ.
 */
export function programElf({ interpreter, needed = [], machine = 243 }: { interpreter?: string; needed?: string[]; machine?: number }): Buffer {
  const BASE = 0x10000;
  const headers = 1 + (interpreter ? 1 : 0) + 1;
  const interpAt = 64 + headers * 56;
  const interp = Buffer.from(interpreter ? `${interpreter}\0` : '');
  const strtabAt = interpAt + interp.length;
  const names = ['', ...needed];
  const strtab = Buffer.from(names.map((n) => `${n}\0`).join(''));
  const dynamicAt = Math.ceil((strtabAt + strtab.length) / 8) * 8;
  const entries: Array<[number, number]> = [];
  let at = 1;
  for (const name of needed) { entries.push([1, at]); at += name.length + 1; }
  entries.push([5, BASE + strtabAt], [10, strtab.length], [0, 0]);
  const elf = Buffer.alloc(dynamicAt + entries.length * 16);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; elf[5] = 1; elf[6] = 1;
  elf.writeUInt16LE(3, 0x10); // ET_DYN
  elf.writeUInt16LE(machine, 0x12);
  elf.writeBigUInt64LE(64n, 0x20);
  elf.writeUInt16LE(64, 0x34);
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(headers, 0x38);
  let header = 64;
  const program = (type: number, offset: number, vaddr: number, size: number) => {
    elf.writeUInt32LE(type, header);
    elf.writeBigUInt64LE(BigInt(offset), header + 0x08);
    elf.writeBigUInt64LE(BigInt(vaddr), header + 0x10);
    elf.writeBigUInt64LE(BigInt(size), header + 0x20);
    elf.writeBigUInt64LE(BigInt(size), header + 0x28);
    header += 56;
  };
  program(1, 0, BASE, elf.length);
  if (interpreter) program(3, interpAt, BASE + interpAt, interp.length);
  program(2, dynamicAt, BASE + dynamicAt, entries.length * 16);
  interp.copy(elf, interpAt);
  strtab.copy(elf, strtabAt);
  entries.forEach(([tag, value], i) => {
    elf.writeBigInt64LE(BigInt(tag), dynamicAt + i * 16);
    elf.writeBigUInt64LE(BigInt(value), dynamicAt + i * 16 + 8);
  });
  return elf;
}

/** A throwaway signing key and its public keyring; its gpg-agent and folder go when the tests end. */
export function signer(): { sign(text: string): Buffer; keyring: string } {
  const home = mkdtempSync(join(tmpdir(), 'hangar-gpg-'));
  process.once('exit', () => {
    execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
  });
  const gpg = (args: string[], input?: string) => execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', ...args], { input });
  gpg(['--passphrase', '', '--quick-gen-key', 'Hangar Test Archive <test@hangar.invalid>', 'ed25519', 'sign', 'never']);
  const keyring = join(home, 'archive.gpg');
  gpg(['--output', keyring, '--export']);
  return { sign: (text) => gpg(['--clearsign', '--output', '-'], text), keyring };
}

/** A package's file: its content (mode 0644), a symbolic link, or content with a mode. */
export type DebFile = Buffer | string | { link: string } | { data: Buffer; mode: number };

/** A .deb made by dpkg-deb holding `files` (paths relative to /). */
export function buildDeb(path: string, control: Record<string, string>, files: Record<string, DebFile>, compression = 'xz'): void {
  const root = mkdtempSync(join(tmpdir(), 'hangar-debroot-'));
  mkdirSync(join(root, 'DEBIAN'));
  const fields = { Version: '1', Architecture: 'riscv64', Maintainer: 'Hangar <test@hangar.invalid>', Description: 'test package', ...control };
  writeFileSync(join(root, 'DEBIAN/control'), Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  for (const [file, data] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    if (typeof data === 'string' || Buffer.isBuffer(data)) writeFileSync(join(root, file), data);
    else if ('link' in data) symlinkSync(data.link, join(root, file));
    else writeFileSync(join(root, file), data.data, { mode: data.mode });
  }
  mkdirSync(dirname(path), { recursive: true });
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', root, path], { stdio: 'ignore' });
}
