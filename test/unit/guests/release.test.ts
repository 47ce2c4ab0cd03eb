// The signed Release file: parsing its SHA256 list, and gpgv's verdict on the clear-signed
// InRelease (a key made here stands in for Debian's: same tool, same format).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRelease, verifyInRelease } from '../../../engine/guests/release.ts';
import { FormatError, GuestError } from '../../../engine/guests/errors.ts';
import { signer } from './fixtures.ts';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const RELEASE = `Origin: Debian
Suite: stable
Codename: trixie
Acquire-By-Hash: yes
Architectures: all riscv64
MD5Sum:
 ${'c'.repeat(32)}  123 main/binary-riscv64/Packages.xz
SHA256:
 ${SHA_A}  9387120 main/binary-riscv64/Packages.xz
 ${SHA_B} 54338128 main/binary-riscv64/Packages
`;

test('parseRelease: suite, codename, by-hash, and the SHA256 list (not the MD5 one)', () => {
  const release = parseRelease(RELEASE);
  assert.equal(release.suite, 'stable');
  assert.equal(release.codename, 'trixie');
  assert.equal(release.acquireByHash, true);
  assert.deepEqual([...release.files], [
    ['main/binary-riscv64/Packages.xz', { sha256: SHA_A, size: 9387120 }],
    ['main/binary-riscv64/Packages', { sha256: SHA_B, size: 54338128 }],
  ]);
});

test('parseRelease refuses a Release without SHA256 sums or with a malformed line', () => {
  assert.throws(() => parseRelease('Codename: trixie\nMD5Sum:\n 0123 1 x\n'), FormatError);
  assert.throws(() => parseRelease(`Codename: trixie\nSHA256:\n ${SHA_A.slice(1)} 12 main/x\n`), /bad SHA256 line/);
});

test('verifyInRelease: a good signature yields exactly the signed text; a changed byte or a stranger key is refused', { timeout: 60_000 }, async () => {
  const archive = signer();
  const signed = archive.sign(RELEASE);
  assert.equal(await verifyInRelease(signed, [archive.keyring]), RELEASE);

  const tampered = Buffer.from(signed.toString().replace('9387120', '9387121'));
  await assert.rejects(verifyInRelease(tampered, [archive.keyring]), /signature not valid/);

  const stranger = signer();
  await assert.rejects(verifyInRelease(signed, [stranger.keyring]), /signature not valid/);
  await assert.rejects(verifyInRelease(Buffer.from(RELEASE), [archive.keyring]), /signature not valid/);
});

test('verifyInRelease without a keyring names the package to install', async () => {
  await assert.rejects(verifyInRelease(Buffer.from(RELEASE), ['/nonexistent/keyring.gpg']),
    (err: Error) => err instanceof GuestError && /debian-archive-keyring/.test(err.message));
});

test('verifyInRelease without gpgv names the package to install', async () => {
  const keyring = join(mkdtempSync(join(tmpdir(), 'hangar-keyring-')), 'keyring.gpg');
  writeFileSync(keyring, '');
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(verifyInRelease(Buffer.from(RELEASE), [keyring]), /install the package gpgv/);
  } finally {
    process.env.PATH = path;
  }
});
