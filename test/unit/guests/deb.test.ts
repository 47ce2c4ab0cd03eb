// .deb unpacking: our ar reader against archives made by binutils' ar and dpkg-deb, every
// data.tar compression dpkg-deb can write, and archives that are damaged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { listAr, readArMember } from '../../../engine/guests/ar.ts';
import { readBody, readDebData, xzDecompress, xzDecompressBuffer } from '../../../engine/guests/deb.ts';
import { FormatError } from '../../../engine/guests/errors.ts';
import { buildDeb as buildTestDeb } from './fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'hangar-deb-'));

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('listAr reads what binutils ar writes: names, sizes (odd ones padded), contents', async () => {
  const dir = join(work, 'ar');
  mkdirSync(dir);
  writeFileSync(join(dir, 'odd.txt'), 'abc');
  writeFileSync(join(dir, 'even.bin'), Buffer.alloc(4096, 7));
  writeFileSync(join(dir, 'empty'), '');
  execFileSync('ar', ['rcD', 'x.a', 'odd.txt', 'even.bin', 'empty'], { cwd: dir });
  const path = join(dir, 'x.a');
  const members = await listAr(path);
  assert.deepEqual(members.map((m) => [m.name, m.size]), [['odd.txt', 3], ['even.bin', 4096], ['empty', 0]]);
  assert.equal((await collect(readArMember(path, members[0]!))).toString(), 'abc');
  assert.deepEqual(await collect(readArMember(path, members[1]!)), Buffer.alloc(4096, 7));
  assert.equal((await collect(readArMember(path, members[2]!))).length, 0);
});

test('listAr refuses a wrong magic, a truncated header, a truncated member and a corrupt header', async () => {
  const good = join(work, 'good.a');
  writeFileSync(join(work, 'member'), Buffer.alloc(100, 1));
  execFileSync('ar', ['rcD', good, 'member'], { cwd: work });
  const bytes = readFileSync(good);
  const variant = (name: string, data: Buffer) => { const p = join(work, name); writeFileSync(p, data); return p; };

  await assert.rejects(listAr(variant('magic.a', Buffer.concat([Buffer.from('!<arch>X'), bytes.subarray(8)]))), (err: Error) => err instanceof FormatError && /bad magic/.test(err.message));
  await assert.rejects(listAr(variant('header.a', bytes.subarray(0, 8 + 30))), /truncated ar header/);
  await assert.rejects(listAr(variant('member.a', bytes.subarray(0, bytes.length - 10))), /truncated ar member .*100 bytes announced, 90 present/);
  const corrupt = Buffer.from(bytes);
  corrupt.write('XX', 8 + 58, 'latin1');
  await assert.rejects(listAr(variant('corrupt.a', corrupt)), /corrupt ar header/);
  const badSize = Buffer.from(bytes);
  badSize.write('12x4      ', 8 + 48, 'latin1');
  await assert.rejects(listAr(variant('size.a', badSize)), /bad member size/);
});

function buildDeb(compression: string): string {
  const deb = join(work, `hangar-test-${compression}.deb`);
  buildTestDeb(deb, { Package: 'hangar-test', Architecture: 'all' }, {
    'usr/bin/tool': `tool built with ${compression}\n`,
    'usr/bin/big': Buffer.alloc(300_000, 0x61),
  }, compression);
  return deb;
}

for (const compression of ['xz', 'gzip', 'none']) {
  test(`readDebData unpacks a dpkg-deb package with data.tar compressed by ${compression}`, async () => {
    const deb = buildDeb(compression);
    const files = new Map<string, Buffer>();
    for await (const record of readDebData(deb)) {
      if (record.entry.type === 'file') files.set(record.entry.path, await readBody(record));
    }
    assert.deepEqual([...files.keys()].sort(), ['usr/bin/big', 'usr/bin/tool']);
    assert.equal(files.get('usr/bin/tool')!.toString(), `tool built with ${compression}\n`);
    assert.deepEqual(files.get('usr/bin/big'), Buffer.alloc(300_000, 0x61));
  });
}

test('readDebData with data.tar.zst: unpacked where Node has zstd, else a clear error naming the Node version', async () => {
  const deb = buildDeb('zstd');
  const hasZstd = 'createZstdDecompress' in zlib;
  const read = async () => {
    for await (const record of readDebData(deb)) if (record.entry.path === 'usr/bin/tool') return (await readBody(record)).toString();
    return undefined;
  };
  if (hasZstd) assert.equal(await read(), 'tool built with zstd\n');
  else await assert.rejects(read(), new RegExp(`data\\.tar\\.zst: zstd-compressed packages need Node 22\\.15 or later \\(this is ${process.version.replace(/\./g, '\\.')}\\)`));
});

test('readDebData refuses an ar archive that is not a Debian package, and unknown compressions', async () => {
  writeFileSync(join(work, 'debian-binary'), '2.0\n');
  writeFileSync(join(work, 'data.tar.bz2'), 'BZh');
  execFileSync('ar', ['rcD', 'notdeb.a', 'data.tar.bz2'], { cwd: work });
  execFileSync('ar', ['rcD', 'bz2.deb', 'debian-binary', 'data.tar.bz2'], { cwd: work });
  const drain = async (path: string) => { for await (const _ of readDebData(path)) { /* read all */ } };
  await assert.rejects(drain(join(work, 'notdeb.a')), /not a Debian package/);
  await assert.rejects(drain(join(work, 'bz2.deb')), /data\.tar\.bz2: unsupported compression/);
});

test('xz: corrupt data is a FormatError; a reader that stops early does not block the next decode', async () => {
  const text = Buffer.from('hello xz\n'.repeat(50_000));
  const compressed = execFileSync('xz', ['-c'], { input: text });
  assert.deepEqual(await xzDecompressBuffer(compressed, 'sample'), text);

  // The decoder holds a process-wide lock while a stream is open: stopping after one chunk
  // must release it, or the decode below would wait forever.
  for await (const _ of xzDecompress([compressed], 'sample')) break;
  assert.deepEqual(await xzDecompressBuffer(compressed, 'sample again'), text);

  const corrupt = Buffer.from(compressed);
  corrupt[corrupt.length >> 1] ^= 0xff;
  await assert.rejects(xzDecompressBuffer(corrupt, 'corrupt.xz'), (err: Error) => err instanceof FormatError && /corrupt\.xz: not valid xz data/.test(err.message));
  assert.deepEqual(await xzDecompressBuffer(compressed, 'after an error'), text);
});

test('a truncated .deb is refused, not half-read', async () => {
  const deb = buildDeb('xz');
  const truncated = join(work, 'truncated.deb');
  writeFileSync(truncated, readFileSync(deb));
  truncateSync(truncated, readFileSync(deb).length - 50);
  await assert.rejects((async () => { for await (const _ of readDebData(truncated)) { /* read all */ } })(), /truncated ar member/);
});
