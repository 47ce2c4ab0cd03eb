// `hangar disk` as a user runs it: create, info, check, convert, and their errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HANGAR, hangarSync } from '../../support/hangar-process.ts';
import { pattern } from '../../unit/storage/support/workload.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-disk-cli-'));

test('create, info and check: a qcow2 overlay on a raw base that qemu-img agrees with', () => {
  const base = join(dir, 'base.raw');
  assert.equal(hangarSync(['disk', 'create', '--format', 'raw', base, '8M']).status, 0);
  assert.equal(readFileSync(base).length, 8 << 20);
  const overlay = join(dir, 'overlay.qcow2');
  const created = hangarSync(['disk', 'create', overlay, '--backing', 'base.raw', '--cluster-size', '4K']);
  assert.equal(created.status, 0, created.stderr);

  const info = hangarSync(['disk', 'info', '--json', overlay]);
  assert.equal(info.status, 0, info.stderr);
  const parsed = JSON.parse(info.stdout);
  assert.equal(parsed.format, 'qcow2');
  assert.equal(parsed.virtualSize, 8 << 20);
  assert.equal(parsed.clusterSize, 4096);
  assert.equal(parsed.backingFile, 'base.raw');
  assert.deepEqual(parsed.backingChain, [{ path: base, format: 'raw', virtualSize: 8 << 20 }]);
  assert.equal(parsed.dirty, false);
  const qemu = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', overlay], { encoding: 'utf8' }));
  assert.equal(qemu['virtual-size'], parsed.virtualSize);
  assert.equal(qemu['cluster-size'], parsed.clusterSize);
  assert.equal(qemu['backing-filename-format'], 'raw');
  assert.equal(qemu['full-backing-filename'], base);

  const text = hangarSync(['disk', 'info', overlay]);
  assert.match(text.stdout, /^file format: qcow2$/m);
  assert.match(text.stdout, /^virtual size: 8\.0MiB \(8388608 bytes\)$/m);
  assert.match(text.stdout, new RegExp(`^backing file: base\\.raw \\(actual path: ${base}\\)$`, 'm'));

  const check = hangarSync(['disk', 'check', '--json', overlay]);
  assert.equal(check.status, 0);
  assert.deepEqual([JSON.parse(check.stdout).corruptions, JSON.parse(check.stdout).leaks], [0, 0]);
  assert.equal(spawnSync('qemu-img', ['check', overlay]).status, 0);
});

test('check exit statuses: 3 for leaks, 0 after --repair, 1 for corruption', () => {
  const image = join(dir, 'leaky.qcow2');
  assert.equal(hangarSync(['disk', 'create', image, '1M']).status, 0);
  // A refcount of 1 for cluster 5, which nothing uses.
  const bytes = readFileSync(image);
  bytes.writeUInt16BE(1, 0x20000 + 5 * 2);
  writeFileSync(image, bytes);
  const leaky = hangarSync(['disk', 'check', image]);
  assert.equal(leaky.status, 3);
  assert.match(leaky.stdout, /1 leaked cluster\(s\) were found/);
  const repaired = hangarSync(['disk', 'check', '--repair', image]);
  assert.equal(repaired.status, 0);
  assert.match(repaired.stdout, /Repaired 1 leaked cluster\(s\)/);
  assert.equal(spawnSync('qemu-img', ['check', image]).status, 0);

  bytes.writeUInt16BE(0, 0x20000 + 3 * 2); // the L1 table's cluster marked free
  writeFileSync(image, bytes);
  const corrupt = hangarSync(['disk', 'check', image]);
  assert.equal(corrupt.status, 1);
  assert.match(corrupt.stdout, /ERROR cluster 0x30000 refcount=0 reference=1/);
});

test('convert qcow2 → raw → qcow2 keeps the contents; sparse chunks are not written', () => {
  const raw = join(dir, 'data.raw');
  const data = new Uint8Array(4 << 20);
  data.set(pattern(1, 300_000), 1 << 20);
  writeFileSync(raw, data);
  const qcow2 = join(dir, 'data.qcow2');
  const toQcow2 = hangarSync(['disk', 'convert', '-O', 'qcow2', raw, qcow2]);
  assert.equal(toQcow2.status, 0, toQcow2.stderr);
  assert.equal(toQcow2.stderr, '', 'no progress line when stderr is not a terminal');
  assert.equal(spawnSync('qemu-img', ['check', qcow2]).status, 0);
  assert.ok(readFileSync(qcow2).length < 1 << 20, 'only the data cluster range was allocated');
  const back = join(dir, 'back.raw');
  assert.equal(hangarSync(['disk', 'convert', '-O', 'raw', qcow2, back]).status, 0);
  assert.deepEqual(readFileSync(back), Buffer.from(data));
  assert.deepEqual(readdirSync(dir).filter((name) => name.includes('.part-')), []);
});

test('Ctrl-C cancels a conversion: status 130, no destination, no partial file', async () => {
  const big = join(dir, 'big.raw');
  writeFileSync(big, '');
  truncateSync(big, 64 * 1024 ** 3); // 64 GiB of holes: far more than can be read before the signal
  const destination = join(dir, 'cancelled.qcow2');
  const child = spawn(process.execPath, [HANGAR, 'disk', 'convert', big, destination], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  while (!readdirSync(dir).some((name) => name.startsWith('cancelled.qcow2.part-'))) await sleep(20);
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.match(stderr, /cancelled/);
  assert.equal(existsSync(destination), false);
  assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('cancelled')), []);
});

test('bad input: clear one-line errors with status 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['disk', 'create', join(dir, 'x.qcow2')], /SIZE is required without --backing/],
    [['disk', 'create', join(dir, 'x.qcow2'), 'big'], /SIZE: "big" is not a size/],
    [['disk', 'create', join(dir, 'x.qcow2'), '1M', '--format', 'vmdk'], /--format vmdk: must be qcow2 or raw/],
    [['disk', 'create', join(dir, 'x.qcow2'), '1M', '--cluster-size', '3K'], /cluster size 3072 must be a power of two/],
    [['disk', 'create', join(dir, 'x.qcow2'), '--backing', 'missing.qcow2'], /missing\.qcow2: no such file/],
    [['disk', 'create', join(dir, 'base.raw'), '1M', '--format', 'raw'], /base\.raw: already exists/],
    [['disk', 'info', join(dir, 'nothing.qcow2')], /nothing\.qcow2: no such file/],
    [['disk', 'check'], /disk check takes FILE/],
    [['disk', 'convert', join(dir, 'base.raw'), join(dir, 'overlay.qcow2')], /overlay\.qcow2: already exists/],
    [['disk', 'frobnicate'], /unknown verb "frobnicate"/],
  ];
  for (const [args, expected] of cases) {
    const result = hangarSync(args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, expected);
    assert.equal(result.stderr.trim().split('\n')[0]!.startsWith('hangar disk: '), true);
  }
  assert.equal(existsSync(join(dir, 'x.qcow2')), false, 'no half-made image');
});
