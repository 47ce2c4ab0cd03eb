// ensureDebianGuest against a small archive made here and served on loopback: packages built
// by dpkg-deb, indexes signed by a throwaway key. It checks the whole chain (InRelease →
// Packages → .deb → products) without the network, including a mirror caught mid-sync.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ensureDebianGuest } from '../../../engine/guests/debian.ts';
import { GuestError, MismatchError } from '../../../engine/guests/errors.ts';
import { buildDeb, moduleElf, programElf, signer, type DebFile } from './fixtures.ts';

const RELEASE = '6.12.0-test-riscv64';
const archive = mkdtempSync(join(tmpdir(), 'hangar-archive-'));
const key = signer();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const xz = (data: Buffer) => execFileSync('xz', ['-c'], { input: data });

// A kernel Image header: EFI "MZ" stub, text_offset and image_size, magic2 "RSC\x05" at 0x38.
const KERNEL = Buffer.alloc(4096, 0x11);
KERNEL.write('MZ', 0, 'latin1');
KERNEL.writeBigUInt64LE(0x200000n, 0x08);
KERNEL.writeBigUInt64LE(BigInt(KERNEL.length), 0x10);
KERNEL.write('RSC\x05', 0x38, 'latin1');
const BUSYBOX = Buffer.alloc(256);
BUSYBOX.writeUInt32BE(0x7f454c46, 0);
BUSYBOX.writeUInt16LE(243, 0x12);
const FIRMWARE = Buffer.from('OpenSBI fw_dynamic stand-in');

// The recipe's modules: virtio_console is built in; ext4 and virtio_net have dependencies.
const MODULES: Record<string, string[]> = {
  'drivers/virtio/virtio_mmio': ['depends='],
  'drivers/char/hw_random/virtio-rng': ['depends='],
  'drivers/block/virtio_blk': ['depends='],
  'drivers/net/virtio_net': ['depends=net_failover'],
  'drivers/net/net_failover': ['depends=failover'],
  'net/core/failover': ['depends='],
  'fs/ext4/ext4': ['softdep=pre: crypto-crc32c', 'depends=jbd2,mbcache'],
  'fs/jbd2/jbd2': ['depends='],
  'fs/mbcache': ['depends='],
  'crypto/crc32c_generic': ['depends='],
  'sound/unused': ['depends='],
};

interface Pkg { control: Record<string, string>; pool: string; files: Record<string, DebFile> }

// The recipe's programs (e2fsprogs' mkfs.ext4 and fsck.ext4) as Debian ships them: dynamically
// linked, libraries in other packages (one of another source), the loader named under /lib.
const LOADER = '/lib/ld-linux-riscv64-lp64d.so.1';
const LIBS = 'usr/lib/riscv64-linux-gnu';
const MKE2FS = programElf({ interpreter: LOADER, needed: ['libext2fs.so.2', 'libc.so.6'] });
const E2FSCK = programElf({ interpreter: LOADER, needed: ['libext2fs.so.2', 'libc.so.6'] });
const LIBEXT2FS = programElf({ needed: ['libc.so.6', 'ld-linux-riscv64-lp64d.so.1'] });
const LIBC = programElf({ needed: ['ld-linux-riscv64-lp64d.so.1'] });
const LDSO = programElf({});
const PACKAGES: Pkg[] = [
  { control: { Package: 'linux-image-riscv64', Source: 'linux', Depends: `linux-image-${RELEASE} (= 1)` }, pool: 'pool/main/l/linux/linux-image-riscv64_1_riscv64.deb', files: {} },
  {
    control: { Package: `linux-image-${RELEASE}`, Source: 'linux', Depends: 'kmod' },
    pool: `pool/main/l/linux/linux-image-${RELEASE}_1_riscv64.deb`,
    files: {
      [`boot/vmlinux-${RELEASE}`]: KERNEL,
      [`usr/lib/modules/${RELEASE}/modules.builtin`]: 'kernel/drivers/char/virtio_console.ko\n',
      ...Object.fromEntries(Object.entries(MODULES).map(([path, info]) => [
        `usr/lib/modules/${RELEASE}/kernel/${path}.ko.xz`, xz(moduleElf([...info, `name=${path.slice(path.lastIndexOf('/') + 1).replace(/-/g, '_')}`])),
      ])),
    },
  },
  { control: { Package: 'kmod' }, pool: 'pool/main/k/kmod/kmod_1_riscv64.deb', files: {} },
  {
    control: { Package: 'e2fsprogs', 'Pre-Depends': 'libc6 (>= 1), libext2fs2t64 (= 1)', Depends: 'logsave' },
    pool: 'pool/main/e/e2fsprogs/e2fsprogs_1_riscv64.deb',
    files: {
      'usr/sbin/mke2fs': { data: MKE2FS, mode: 0o755 }, 'usr/sbin/mkfs.ext4': { link: 'mke2fs' },
      'usr/sbin/e2fsck': { data: E2FSCK, mode: 0o755 }, 'usr/sbin/fsck.ext4': { link: 'e2fsck' },
      'usr/sbin/debugfs': programElf({ interpreter: LOADER, needed: ['libc.so.6'] }),
      'etc/mke2fs.conf': '[defaults]\n',
    },
  },
  {
    control: { Package: 'libext2fs2t64', Source: 'e2fsprogs', Depends: 'libc6' }, pool: 'pool/main/e/e2fsprogs/libext2fs2t64_1_riscv64.deb',
    files: { [`${LIBS}/libext2fs.so.2.4`]: LIBEXT2FS, [`${LIBS}/libext2fs.so.2`]: { link: 'libext2fs.so.2.4' } },
  },
  { control: { Package: 'logsave', Source: 'e2fsprogs', Depends: 'libc6' }, pool: 'pool/main/e/e2fsprogs/logsave_1_riscv64.deb', files: { 'usr/sbin/logsave': programElf({ needed: ['libc.so.6'] }) } },
  {
    control: { Package: 'libc6', Source: 'glibc' }, pool: 'pool/main/g/glibc/libc6_1_riscv64.deb',
    files: {
      [`${LIBS}/libc.so.6`]: LIBC, [`${LIBS}/libm.so.6`]: programElf({ needed: ['libc.so.6'] }), [`${LIBS}/ld-linux-riscv64-lp64d.so.1`]: LDSO,
      'usr/lib/ld-linux-riscv64-lp64d.so.1': { link: 'riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1' },
    },
  },
  { control: { Package: 'busybox-static', Source: 'busybox' }, pool: 'pool/main/b/busybox/busybox-static_1_riscv64.deb', files: { 'usr/bin/busybox': BUSYBOX } },
  // Only in binary-all, as some archives publish Architecture: all packages.
  {
    control: { Package: 'opensbi', Architecture: 'all' }, pool: 'pool/main/o/opensbi/opensbi_1_all.deb',
    files: { 'usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin': FIRMWARE },
  },
];

function put(path: string, data: Buffer | string): Buffer {
  mkdirSync(dirname(join(archive, path)), { recursive: true });
  writeFileSync(join(archive, path), data);
  return readFileSync(join(archive, path));
}

function stanza(p: Pkg): string {
  const deb = readFileSync(join(archive, p.pool));
  const fields = { Version: '1', Architecture: 'riscv64', ...p.control, Filename: p.pool, Size: String(deb.length), SHA256: sha256(deb) };
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join('');
}

/** dists/NAME: a signed InRelease listing `indexes` (path → content) with their digests. */
function publish(name: string, indexes: Record<string, Buffer>, served = indexes): void {
  const lines = Object.entries(indexes).map(([path, data]) => ` ${sha256(data)} ${data.length} ${path}`);
  const release = `Origin: Debian\nSuite: stable\nCodename: trixie\nAcquire-By-Hash: yes\nSHA256:\n${lines.join('\n')}\n`;
  put(`dists/${name}/InRelease`, key.sign(release));
  for (const [path, data] of Object.entries(served)) put(`dists/${name}/${path}`, data);
}

for (const p of PACKAGES) buildDeb(join(archive, p.pool), p.control, p.files);
const riscv = xz(Buffer.from(PACKAGES.filter((p) => p.control.Architecture !== 'all').map(stanza).join('\n')));
const all = xz(Buffer.from(PACKAGES.filter((p) => p.control.Architecture === 'all').map(stanza).join('\n')));
const indexes = { 'main/binary-riscv64/Packages.xz': riscv, 'main/binary-all/Packages.xz': all };
publish('stable', indexes);
// dists/trixie caught mid-sync: its InRelease names an index the mirror does not serve yet.
publish('trixie', { ...indexes, 'main/binary-riscv64/Packages.xz': xz(Buffer.from('Package: newer\n')) }, indexes);

const requests: string[] = [];
let damaged: string | null = null;
const server = createServer((req, res) => {
  requests.push(req.url!);
  const path = join(archive, decodeURIComponent(req.url!.replace(/^\/debian\//, '')));
  if (!existsSync(path) || !statSync(path).isFile()) { res.statusCode = 404; res.end(); return; }
  const data = readFileSync(path);
  if (req.url!.endsWith(damaged ?? '\0')) data[data.length - 1] ^= 1;
  res.end(data);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const mirror = `http://127.0.0.1:${(server.address() as { port: number }).port}/debian`;
after(() => server.close());

const options = (cache: string) => ({ env: { HANGAR_CACHE: cache }, mirror, keyrings: [key.keyring] });

test('ensureDebianGuest: verified chain, mid-sync fallback to the release\'s other name, products built', { timeout: 120_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'hangar-cache-'));
  const guest = await ensureDebianGuest(options(cache));
  assert.equal(guest.fetched, true);
  assert.equal(guest.kernelRelease, RELEASE);
  assert.equal(guest.bootargs, 'console=ttyS0');
  assert.deepEqual(readFileSync(guest.kernel), KERNEL);
  assert.deepEqual(readFileSync(guest.firmware), FIRMWARE);
  assert.deepEqual(guest.packages.map((p) => `${p.role} ${p.name}`), [
    'kernel linux-image-riscv64', `kernel linux-image-${RELEASE}`, 'busybox busybox-static', 'firmware opensbi',
    'programs e2fsprogs', 'programs libc6', 'programs libext2fs2t64', 'programs logsave',
  ]);
  // trixie's index did not match its InRelease (by-hash 404, then the plain path); stable's did.
  assert.deepEqual(requests.filter((r) => r.includes('/dists/')).slice(0, 4), [
    '/debian/dists/trixie/InRelease',
    `/debian/dists/trixie/main/binary-riscv64/by-hash/SHA256/${sha256(xz(Buffer.from('Package: newer\n')))}`,
    '/debian/dists/trixie/main/binary-riscv64/Packages.xz',
    '/debian/dists/stable/InRelease',
  ]);

  const dir = mkdtempSync(join(tmpdir(), 'hangar-initrd-'));
  execFileSync('cpio', ['-id', '--quiet', '-f', 'dev/console'], { input: gunzipSync(readFileSync(guest.initrd)), cwd: dir });
  assert.deepEqual(readFileSync(join(dir, 'bin/busybox')), BUSYBOX);
  assert.equal(readFileSync(join(dir, 'etc/modules-load-order'), 'utf8'), [
    'kernel/drivers/virtio/virtio_mmio.ko', 'kernel/drivers/char/hw_random/virtio-rng.ko', 'kernel/drivers/block/virtio_blk.ko',
    'kernel/net/core/failover.ko', 'kernel/drivers/net/net_failover.ko', 'kernel/drivers/net/virtio_net.ko',
    'kernel/fs/jbd2/jbd2.ko', 'kernel/fs/mbcache.ko', 'kernel/fs/ext4/ext4.ko', 'kernel/crypto/crc32c_generic.ko', '',
  ].join('\n'));
  // Decompressed, and only what the recipe needs.
  assert.equal(readFileSync(join(dir, `lib/modules/${RELEASE}/kernel/fs/mbcache.ko`)).readUInt32BE(0), 0x7f454c46);
  assert.equal(existsSync(join(dir, `lib/modules/${RELEASE}/kernel/sound`)), false);
  assert.match(readFileSync(join(dir, `lib/modules/${RELEASE}/modules.dep`), 'utf8'),
    /^kernel\/drivers\/net\/virtio_net\.ko: kernel\/drivers\/net\/net_failover\.ko kernel\/net\/core\/failover\.ko$/m);
  assert.equal(readFileSync(join(dir, 'init'), 'utf8'), readFileSync(new URL('../../../assets/guests/debian-init.sh', import.meta.url), 'utf8'));
  assertPrograms(dir);
  // The guest agent, which /init starts on hvc0.
  assert.equal(readFileSync(join(dir, 'usr/sbin/hangar-agent'), 'utf8'), readFileSync(new URL('../../../engine/guests/hangar-agent.sh', import.meta.url), 'utf8'));
  assert.equal(statSync(join(dir, 'usr/sbin/hangar-agent')).mode & 0o777, 0o755);
  assert.match(readFileSync(join(dir, 'init'), 'utf8'), /^\s*hangar-agent \/dev\/hvc0$/m);

  // Again: all from the cache, the mirror not asked.
  requests.length = 0;
  const again = await ensureDebianGuest(options(cache));
  assert.equal(again.fetched, false);
  assert.equal(again.initrd, guest.initrd);
  assert.equal(requests.length, 0, requests.join(" "));
  // Refreshing asks the mirror, finds the same packages and keeps the products.
  const refreshed = await ensureDebianGuest({ ...options(cache), refresh: true });
  assert.equal(refreshed.fetched, true);
  assert.ok(!requests.some((r) => r.endsWith('.deb')), 'no package downloaded again');
});

/** mkfs.ext4 and fsck.ext4 are in the initramfs with their loader and libraries, and nothing else of their packages. */
function assertPrograms(dir: string): void {
  assert.deepEqual(readFileSync(join(dir, 'usr/sbin/mke2fs')), MKE2FS);
  assert.equal(statSync(join(dir, 'usr/sbin/mke2fs')).mode & 0o777, 0o755);
  assert.equal(statSync(join(dir, LIBS, 'libc.so.6')).mode & 0o777, 0o644);
  assert.deepEqual(readFileSync(join(dir, 'usr/sbin/fsck.ext4')), E2FSCK);
  assert.equal(readlinkSync(join(dir, 'usr/sbin/mkfs.ext4')), 'mke2fs');
  assert.equal(readlinkSync(join(dir, 'lib/ld-linux-riscv64-lp64d.so.1')), '../usr/lib/ld-linux-riscv64-lp64d.so.1');
  assert.deepEqual(readFileSync(join(dir, 'lib/ld-linux-riscv64-lp64d.so.1')), LDSO);
  assert.deepEqual(readFileSync(join(dir, LIBS, 'libext2fs.so.2')), LIBEXT2FS);
  assert.deepEqual(readFileSync(join(dir, LIBS, 'libc.so.6')), LIBC);
  assert.deepEqual(readdirSync(join(dir, LIBS)).sort(), ['ld-linux-riscv64-lp64d.so.1', 'libc.so.6', 'libext2fs.so.2', 'libext2fs.so.2.4']);
  assert.deepEqual(readdirSync(join(dir, 'usr/sbin')).sort(), ['e2fsck', 'fsck.ext4', 'hangar-agent', 'mke2fs', 'mkfs.ext4']);
  assert.equal(existsSync(join(dir, 'etc/mke2fs.conf')), false);
}

test('a cached guest made before the recipe named its programs is completed from the mirror', { timeout: 120_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'hangar-cache-'));
  await ensureDebianGuest(options(cache));
  // As an older Hangar left it: no programs pinned, an initramfs without them.
  const manifestPath = join(cache, 'guests', 'debian-trixie-riscv64', 'guest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { packages: Array<{ role: string }> };
  manifest.packages = manifest.packages.filter((p) => p.role !== 'programs');
  writeFileSync(manifestPath, JSON.stringify(manifest));
  requests.length = 0;
  const guest = await ensureDebianGuest(options(cache));
  assert.equal(guest.fetched, true);
  assert.ok(requests.some((r) => r.endsWith('/InRelease')), 'the mirror was asked');
  assert.ok(guest.packages.some((p) => p.role === 'programs' && p.name === 'e2fsprogs'));
  const dir = mkdtempSync(join(tmpdir(), 'hangar-initrd-'));
  execFileSync('cpio', ['-id', '--quiet', '-f', 'dev/console'], { input: gunzipSync(readFileSync(guest.initrd)), cwd: dir });
  assertPrograms(dir);
});

test('a package whose bytes differ from the signed index is refused and not cached', { timeout: 120_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'hangar-cache-'));
  damaged = 'busybox-static_1_riscv64.deb';
  try {
    await assert.rejects(ensureDebianGuest(options(cache)), (err: Error) => err instanceof MismatchError && /busybox-static_1_riscv64\.deb: SHA256 /.test(err.message));
  } finally {
    damaged = null;
  }
  const debs = readdirSync(join(cache, 'guests', 'debian-trixie-riscv64', 'debs'));
  assert.ok(!debs.some((n) => n.includes('busybox') || n.endsWith('.tmp')), debs.join(' '));
  assert.equal(existsSync(join(cache, 'guests', 'debian-trixie-riscv64', 'guest.json')), false);
});

test('an InRelease signed by a key the keyring does not hold is refused', { timeout: 120_000 }, async () => {
  const stranger = signer();
  const cache = mkdtempSync(join(tmpdir(), 'hangar-cache-'));
  await assert.rejects(ensureDebianGuest({ ...options(cache), keyrings: [stranger.keyring] }),
    (err: Error) => err instanceof GuestError && /InRelease: signature not valid/.test(err.message));
});
