// Module facts from the .modinfo ELF section (what depmod would put in modules.dep) and the
// load order built from them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadOrder, moduleInfo, moduleNameOf, readModinfo, type ModuleInfo } from '../../../engine/guests/kernel-modules.ts';
import { FormatError, GuestError } from '../../../engine/guests/errors.ts';
import { moduleElf } from './fixtures.ts';

test('moduleNameOf: the kernel name of a module file', () => {
  assert.equal(moduleNameOf('kernel/drivers/char/hw_random/virtio-rng.ko.xz'), 'virtio_rng');
  assert.equal(moduleNameOf('kernel/fs/ext4/ext4.ko'), 'ext4');
  assert.equal(moduleNameOf('kernel/lib/crc16.ko.zst'), 'crc16');
});

test('readModinfo and moduleInfo: depends, softdep pre (not post), name', () => {
  const elf = moduleElf(['license=GPL', 'softdep=pre: crypto-crc32c crc16 post: after-me', 'depends=jbd2,mbcache,crc16', 'alias=fs-ext4', 'alias=ext3', 'name=ext4']);
  assert.deepEqual(readModinfo(elf, 'ext4.ko').get('alias'), ['fs-ext4', 'ext3']);
  assert.deepEqual(moduleInfo('kernel/fs/ext4/ext4.ko', elf), {
    path: 'kernel/fs/ext4/ext4.ko', name: 'ext4', depends: ['jbd2', 'mbcache', 'crc16'], softPre: ['crypto_crc32c', 'crc16'],
  });
  assert.deepEqual(moduleInfo('kernel/x/virtio-rng.ko', moduleElf(['depends='])), { path: 'kernel/x/virtio-rng.ko', name: 'virtio_rng', depends: [], softPre: [] });
});

test('readModinfo refuses what is not a module ELF, and section tables that point outside the file', () => {
  assert.throws(() => readModinfo(Buffer.from('not an elf at all, just some text here to pass sixty-four bytes.....'), 'x.ko'), (err: Error) => err instanceof FormatError && /no ELF magic/.test(err.message));
  const elf = moduleElf(['name=a']);
  elf.writeBigUInt64LE(BigInt(elf.length), 0x28);
  assert.throws(() => readModinfo(elf, 'x.ko'), /section table out of bounds/);
  const noModinfo = moduleElf(['name=a']);
  noModinfo.write('.notinfo', 64 + 7 + 1, 'latin1');
  assert.throws(() => readModinfo(noModinfo, 'x.ko'), /no \.modinfo section/);
  const outside = moduleElf(['name=a']);
  outside.writeBigUInt64LE(BigInt(outside.length), outside.length - 2 * 64 + 0x20);
  assert.throws(() => readModinfo(outside, 'x.ko'), /out of bounds/);
});

function table(modules: Record<string, Partial<ModuleInfo>>) {
  const looked: string[] = [];
  const lookup = async (name: string) => {
    looked.push(name);
    const m = modules[name];
    return m && { path: `kernel/${name}.ko`, name, depends: [], softPre: [], ...m };
  };
  return { lookup, looked };
}

test('loadOrder: every module after what it needs, each once; built-ins and absent softdeps skipped', async () => {
  const { lookup } = table({
    virtio_net: { depends: ['net_failover'] },
    net_failover: { depends: ['failover'] },
    failover: {},
    ext4: { depends: ['jbd2', 'mbcache', 'crc16'], softPre: ['crypto_crc32c'] },
    jbd2: { softPre: ['crypto_crc32c'] },
    mbcache: {},
    crc16: {},
    crc32c_generic: {},
  });
  const order = await loadOrder(['virtio_console', 'virtio_net', 'ext4', 'crc32c_generic', 'failover'], lookup, new Set(['virtio_console']));
  assert.deepEqual(order.map((m) => m.name), ['failover', 'net_failover', 'virtio_net', 'jbd2', 'mbcache', 'crc16', 'ext4', 'crc32c_generic']);
});

test('loadOrder: a missing module names who needs it; a cycle is an error', async () => {
  await assert.rejects(loadOrder(['a'], table({ a: { depends: ['b'] } }).lookup, new Set()),
    (err: Error) => err instanceof GuestError && err.message === 'kernel module b (needed by a) is neither in the kernel package nor built in');
  await assert.rejects(loadOrder(['a'], table({ a: { depends: ['b'] }, b: { depends: ['a'] } }).lookup, new Set()), /dependency cycle through a/);
});
