// Test fixtures for the guest builder: module ELF files, an archive signing key, .deb packages.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

/** A throwaway signing key and its public keyring. */
export function signer(): { sign(text: string): Buffer; keyring: string } {
  const home = mkdtempSync(join(tmpdir(), 'hangar-gpg-'));
  const gpg = (args: string[], input?: string) => execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', ...args], { input });
  gpg(['--passphrase', '', '--quick-gen-key', 'Hangar Test Archive <test@hangar.invalid>', 'ed25519', 'sign', 'never']);
  const keyring = join(home, 'archive.gpg');
  gpg(['--output', keyring, '--export']);
  return { sign: (text) => gpg(['--clearsign', '--output', '-'], text), keyring };
}

/** A .deb made by dpkg-deb holding `files` (paths relative to /). */
export function buildDeb(path: string, control: Record<string, string>, files: Record<string, Buffer | string>, compression = 'xz'): void {
  const root = mkdtempSync(join(tmpdir(), 'hangar-debroot-'));
  mkdirSync(join(root, 'DEBIAN'));
  const fields = { Version: '1', Architecture: 'riscv64', Maintainer: 'Hangar <test@hangar.invalid>', Description: 'test package', ...control };
  writeFileSync(join(root, 'DEBIAN/control'), Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  for (const [file, data] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), data);
  }
  mkdirSync(dirname(path), { recursive: true });
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', root, path], { stdio: 'ignore' });
}
