// The guest's initramfs: busybox, an /init script, the /etc files a shell wants, the kernel
// modules (plain .ko: busybox insmod cannot read compressed ones) and further programs with their
// libraries (programs.ts), as a gzipped cpio newc archive. Kept small on purpose: the emulated machine pays for every byte it unpacks.
import { gzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.ts';

export interface InitramfsModule {
  /** Relative to /lib/modules/RELEASE/, without a compression suffix (kernel/fs/ext4/ext4.ko). */
  path: string;
  /** Paths (as above) of the modules it needs, transitively, for modules.dep. */
  needs: string[];
  data: Buffer;
}

export interface InitramfsInput {
  busybox: Buffer;
  init: string;
  hostname: string;
  /** The kernel release (uname -r), naming /lib/modules/RELEASE. */
  kernelRelease: string;
  /** In load order: each after everything it needs. */
  modules: InitramfsModule[];
  /** Further files and links: programs and the libraries they need (programs.ts). */
  files?: CpioEntry[];
}

function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

export function initramfsEntries(input: InitramfsInput): CpioEntry[] {
  const moduleDir = `lib/modules/${input.kernelRelease}`;
  const files: CpioEntry[] = [
    // The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
    { type: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'file', path: 'init', mode: 0o755, data: Buffer.from(input.init) },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: input.busybox },
    { type: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') },
    { type: 'file', path: 'etc/group', data: Buffer.from('root:x:0:\n') },
    { type: 'file', path: 'etc/hostname', data: Buffer.from(`${input.hostname}\n`) },
    { type: 'file', path: 'etc/modules-load-order', data: Buffer.from(input.modules.map((m) => `${m.path}\n`).join('')) },
    // busybox modprobe and modinfo read modules.dep: a module, then what it needs.
    {
      type: 'file', path: `${moduleDir}/modules.dep`,
      data: Buffer.from(input.modules.map((m) => `${[`${m.path}:`, ...m.needs].join(' ')}\n`).join('')),
    },
    ...input.modules.map((m): CpioEntry => ({ type: 'file', path: `${moduleDir}/${m.path}`, data: m.data })),
    ...input.files ?? [],
  ];
  const dirs = new Set(['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'root', 'etc'].flatMap((d) => [...parentsOf(d), d]));
  for (const file of files) for (const dir of parentsOf(file.path)) dirs.add(dir);
  const dirEntries = [...dirs].sort().map((path): CpioEntry => ({ type: 'dir', path, mode: path === 'tmp' ? 0o1777 : path === 'root' ? 0o700 : 0o755 }));
  return [...dirEntries, ...files];
}

/** The gzipped cpio archive. */
export function buildInitramfs(input: InitramfsInput): Buffer {
  return gzipSync(writeCpio(initramfsEntries(input)), { level: 9 });
}
