// `hangar guest fetch` for real, through the Debian mirror this machine's apt sources name:
// Debian's kernel, OpenSBI and busybox verified and cached, the initramfs built, the cache used
// again without the network, Ctrl-C leaving nothing that looks complete — and the result booted
// in Debian's own qemu-system-riscv64 to a shell whose modules all loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import { HANGAR } from '../../support/hangar-process.ts';
import { GuestConsole, SHELL_PROMPT } from '../../support/guest-console.ts';
import { ensureDebianGuest, type DebianGuest } from '../../../engine/guests/debian.ts';

const cache = mkdtempSync(join(tmpdir(), 'hangar-guest-cache-'));
const env = { ...process.env, HANGAR_CACHE: cache };
// A loopback port nothing listens on: any attempt to use the network fails at once.
const closedPort = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});
const OFFLINE = { ...env, HANGAR_DEBIAN_MIRROR: `http://127.0.0.1:${closedPort}/debian` };

function hangar(args: string[], childEnv: NodeJS.ProcessEnv = env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HANGAR, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let guest: DebianGuest;

test('hangar guest fetch downloads, verifies and builds the Debian guest', { timeout: 900_000 }, async () => {
  const fetched = await hangar(['guest', 'fetch']);
  assert.equal(fetched.status, 0, fetched.stderr);
  assert.match(fetched.stdout, /^kernel +\S+kernel-6\.12\.\S+ \(Linux 6\.12\./m);
  assert.match(fetched.stdout, /^ {2}linux-image-6\.12\.\S+-riscv64 6\.12\./m);
  assert.match(fetched.stdout, /^ {2}busybox-static /m);
  assert.match(fetched.stdout, /^ {2}opensbi /m);

  guest = await ensureDebianGuest({ env: OFFLINE });
  assert.equal(guest.fetched, false);
  assert.ok(fetched.stdout.includes(guest.kernel) && fetched.stdout.includes(guest.initrd) && fetched.stdout.includes(guest.firmware));
  assert.match(guest.bootargs, /^console=ttyS0\b/);
  assert.doesNotMatch(guest.bootargs, /\bquiet\b/);

  // The kernel: a RISC-V Linux Image with an EFI stub.
  const kernel = readFileSync(guest.kernel);
  assert.equal(kernel.toString('latin1', 0, 2), 'MZ');
  assert.equal(kernel.toString('latin1', 0x38, 0x3c), 'RSC\x05');
  // The firmware: OpenSBI (its banner's format string is in the binary).
  assert.ok(readFileSync(guest.firmware).includes('OpenSBI v%d.%d'), 'fw_dynamic.bin is OpenSBI');

  const names = execFileSync('cpio', ['-it', '--quiet'], { input: gunzipSync(readFileSync(guest.initrd)), encoding: 'utf8' }).split('\n');
  for (const expected of ['init', 'bin/busybox', 'dev/console', 'etc/passwd']) assert.ok(names.includes(expected), expected);
  const modules = names.filter((n) => n.endsWith('.ko')).map((n) => n.slice(n.lastIndexOf('/') + 1));
  for (const module of ['virtio_mmio.ko', 'virtio-rng.ko', 'virtio_blk.ko', 'virtio_net.ko', 'net_failover.ko', 'failover.ko', 'ext4.ko', 'jbd2.ko', 'mbcache.ko', 'crc16.ko']) {
    assert.ok(modules.includes(module), `${module} in ${modules.join(' ')}`);
  }
  assert.ok(!names.some((n) => /\.ko\.(xz|gz|zst)$/.test(n)), 'modules are decompressed');
  assert.ok(readFileSync(guest.initrd).length < 8 * 1024 * 1024, 'the initramfs stays small');

  const info = await hangar(['guest', 'info'], OFFLINE);
  assert.equal(info.status, 0, info.stderr);
  assert.ok(info.stdout.includes(guest.initrd));
});

test('the cache is used without the network, and its files are checked again', { timeout: 300_000 }, async () => {
  const initrdDigest = sha256(guest.initrd);
  const debs = join(cache, 'guests', 'debian-trixie-riscv64', 'debs');
  const busyboxDeb = join(debs, readdirSync(debs).find((n) => n.startsWith('busybox-static'))!);
  const original = readFileSync(busyboxDeb);

  // A damaged package is not trusted: without the mirror the initramfs cannot be rebuilt.
  const damaged = Buffer.from(original);
  damaged[damaged.length - 100] ^= 1;
  writeFileSync(busyboxDeb, damaged);
  rmSync(guest.initrd);
  await assert.rejects(ensureDebianGuest({ env: OFFLINE }), new RegExp(`127\\.0\\.0\\.1:${closedPort}/debian/dists/trixie/InRelease: connect ECONNREFUSED`));

  // With the package intact again, the lost initramfs is rebuilt offline, byte for byte the same.
  writeFileSync(busyboxDeb, original);
  const rebuilt = await ensureDebianGuest({ env: OFFLINE });
  assert.equal(rebuilt.fetched, false);
  assert.equal(rebuilt.initrd, guest.initrd);
  assert.equal(sha256(rebuilt.initrd), initrdDigest);
});

test('Debian\'s qemu-system-riscv64 boots the guest to a shell with job control and every module loaded', { timeout: 300_000 }, async () => {
  const qemu = spawn('qemu-system-riscv64', [
    '-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-bios', guest.firmware,
    '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guest.bootargs,
  ], { stdio: 'pipe' });
  const console = new GuestConsole({ onData: (l) => qemu.stdout.on('data', l), write: (t) => qemu.stdin.write(t) });
  try {
    await console.waitFor(SHELL_PROMPT, 240_000);
    assert.match(console.transcript, /Linux version 6\.12\./);
    assert.doesNotMatch(console.transcript, /init: insmod .* failed/);
    assert.equal((await console.run('uname -m')).output, 'riscv64');
    const loaded = (await console.run("cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' '")).output.trim().split(' ');
    for (const module of ['virtio_mmio', 'virtio_rng', 'virtio_blk', 'virtio_net', 'ext4', 'jbd2', 'crc32c_generic']) assert.ok(loaded.includes(module), `${module} loaded: ${loaded.join(' ')}`);
    assert.match((await console.run('grep -c . /proc/filesystems && grep -w ext4 /proc/filesystems')).output, /ext4/);
    // Job control: a background job is listed by the shell.
    assert.match((await console.run('sleep 5 & jobs')).output, /\[1\]\+\s+Running\s+sleep 5/);
    assert.equal((await console.run('hostname')).output, 'hangar');
    console.type('poweroff -f\n');
    await new Promise((resolve) => qemu.on('close', resolve));
  } finally {
    qemu.kill('SIGKILL');
  }
});

test('Ctrl-C during the download exits 130 and leaves no package that looks complete', { timeout: 300_000 }, async () => {
  const fresh = mkdtempSync(join(tmpdir(), 'hangar-guest-cancel-'));
  const debs = join(fresh, 'guests', 'debian-trixie-riscv64', 'debs');
  const child = spawn(process.execPath, [HANGAR, 'guest', 'fetch'], { env: { ...process.env, HANGAR_CACHE: fresh }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  // Wait for the kernel package's download to be under way, then interrupt it.
  const deadline = Date.now() + 240_000;
  while (!(existsSync(debs) && readdirSync(debs).some((n) => n.startsWith('.linux-image-6') && n.endsWith('.tmp')))) {
    assert.ok(Date.now() < deadline, `the kernel download never started: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGINT');
  assert.equal(await closed, 130, stderr);
  assert.match(stderr, /cancelled/);
  assert.deepEqual(readdirSync(debs).filter((n) => n.includes('linux-image-6') || n.endsWith('.tmp')), []);
  assert.equal(existsSync(join(fresh, 'guests', 'debian-trixie-riscv64', 'guest.json')), false);
});
