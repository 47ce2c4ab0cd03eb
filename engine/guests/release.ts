// The signed entry point of a Debian archive: dists/SUITE/InRelease, an OpenPGP clear-signed
// Release file (https://wiki.debian.org/DebianRepository/Format#A.22Release.22_files). Its
// signature is checked with gpgv against Debian's archive keyring, and only the text gpgv
// vouches for is parsed: its SHA256 list names every index file with size and digest.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseDeb822 } from './apt-sources.ts';
import { FormatError, GuestError } from './errors.ts';

export const DEBIAN_KEYRINGS = [
  '/usr/share/keyrings/debian-archive-keyring.gpg',
  '/usr/share/keyrings/debian-archive-keyring.pgp',
];

export interface ReleaseFile { sha256: string; size: number }

export interface Release {
  suite: string;
  codename: string;
  /** Index files may be fetched by their digest (by-hash/SHA256/...), immune to a mirror mid-sync. */
  acquireByHash: boolean;
  /** Index files by path relative to dists/SUITE/, e.g. "main/binary-riscv64/Packages.xz". */
  files: Map<string, ReleaseFile>;
}

export function parseRelease(text: string): Release {
  const [fields] = parseDeb822(text);
  if (!fields) throw new FormatError('Release file: empty');
  const files = new Map<string, ReleaseFile>();
  for (const line of (fields.get('sha256') ?? '').split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const [sha256, size, path] = parts as [string, string, string];
    if (!/^[0-9a-f]{64}$/.test(sha256) || !/^\d+$/.test(size)) throw new FormatError(`Release file: bad SHA256 line "${line.trim()}"`);
    files.set(path, { sha256, size: Number(size) });
  }
  if (files.size === 0) throw new FormatError('Release file: no SHA256 list');
  return {
    suite: fields.get('suite') ?? '',
    codename: fields.get('codename') ?? '',
    acquireByHash: /^yes$/i.test(fields.get('acquire-by-hash') ?? ''),
    files,
  };
}

/**
 * Verifies a clear-signed InRelease with gpgv and returns the signed text only (what gpgv
 * writes with --output), so nothing outside the signature can slip into the parse.
 */
export async function verifyInRelease(inRelease: Buffer, keyrings = DEBIAN_KEYRINGS): Promise<string> {
  const keyring = keyrings.find((path) => existsSync(path));
  if (!keyring) {
    throw new GuestError(`Debian's archive keyring is missing (${keyrings.join(' or ')}): install the package debian-archive-keyring`);
  }
  const child = spawn('gpgv', ['--keyring', keyring, '--output', '-', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => { /* gpgv may exit before reading everything; its status says why */ });
  child.stdin.end(inRelease);
  const status = await new Promise<number>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new GuestError('gpgv is not installed: install the package gpgv (it checks the Debian archive\'s signature)')
      : err));
    child.on('close', (code) => resolve(code ?? 1));
  });
  if (status !== 0) {
    const detail = Buffer.concat(stderr).toString().trim().split('\n').slice(-2).join('; ');
    throw new GuestError(`InRelease: signature not valid against ${keyring} (gpgv: ${detail})`);
  }
  return Buffer.concat(stdout).toString('utf8');
}
