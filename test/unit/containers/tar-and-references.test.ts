// The tar codec agrees with GNU tar both ways (long names, links, modes); image references
// parse as Docker's do and bad ones are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readImageTar as readTar } from '../../../engine/containers/tar.ts';
import { parseReference, normalizeName } from '../../../engine/containers/reference.ts';
import { scratchDir, tarBuffer } from '../../integration/containers/fixtures.ts';

const longName = `${'deep/'.repeat(30)}file-with-a-long-name.txt`;

test('GNU tar reads what writeTar writes', async () => {
  const { dir, cleanup } = scratchDir('tar-out');
  try {
    const tar = await tarBuffer([
      { entry: { path: 'd', type: 'dir', mode: 0o750 } },
      { entry: { path: longName, type: 'file', mode: 0o640 }, body: Buffer.from('long') },
      { entry: { path: 'd/link', type: 'symlink', linkname: `../${longName}` } },
      { entry: { path: 'd/hard', type: 'hardlink', linkname: longName } },
    ]);
    writeFileSync(join(dir, 'a.tar'), tar);
    mkdirSync(join(dir, 'x'));
    execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', join(dir, 'x')]);
    assert.equal(readFileSync(join(dir, 'x', longName), 'utf8'), 'long');
    assert.equal(readFileSync(join(dir, 'x/d/link'), 'utf8'), 'long');
    assert.equal(readFileSync(join(dir, 'x/d/hard'), 'utf8'), 'long');
  } finally {
    cleanup();
  }
});

test('readTar reads what GNU tar writes, pax and GNU long names alike', async () => {
  const { dir, cleanup } = scratchDir('tar-in');
  try {
    mkdirSync(join(dir, 'src', ...longName.split('/').slice(0, -1)), { recursive: true });
    writeFileSync(join(dir, 'src', longName), 'content');
    symlinkSync('target-of-link', join(dir, 'src/link'));
    for (const format of ['gnu', 'posix']) {
      const tar = execFileSync('tar', [`--format=${format}`, '-cf', '-', '-C', join(dir, 'src'), '.'], { maxBuffer: 1 << 24 });
      const seen = new Map<string, string>();
      for await (const { entry, body } of readTar([tar])) {
        let text = '';
        for await (const chunk of body) text += chunk.toString();
        seen.set(entry.path, entry.type === 'symlink' ? `-> ${entry.linkname}` : text);
      }
      assert.equal(seen.get(`./${longName}`), 'content', format);
      assert.equal(seen.get('./link'), '-> target-of-link', format);
    }
  } finally {
    cleanup();
  }
});

test('a truncated tar is refused', async () => {
  const tar = await tarBuffer([{ entry: { path: 'f', type: 'file' }, body: Buffer.alloc(2000, 1) }]);
  await assert.rejects(async () => {
    for await (const { body } of readTar([tar.subarray(0, 1500)])) for await (const _ of body) { /* read */ }
  }, /truncated content of f/);
});

test('image references', () => {
  assert.deepEqual(parseReference('busybox'), { registry: undefined, repository: 'busybox', tag: undefined, digest: undefined });
  assert.deepEqual(parseReference('localhost:5000/tools/sh:1.2'), { registry: 'localhost:5000', repository: 'tools/sh', tag: '1.2', digest: undefined });
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.equal(parseReference(`127.0.0.1:5000/x@${digest}`).digest, digest);
  assert.equal(normalizeName('busybox'), 'busybox:latest');
  assert.equal(normalizeName(`x@${digest}`), `x@${digest}`);
  for (const bad of ['UPPER', 'a//b', 'x:bad tag', 'x@sha256:abc', '']) assert.throws(() => parseReference(bad), /image reference/);
});
