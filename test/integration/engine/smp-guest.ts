// Shared by the smp-*.test.ts files: the Debian guest booted in this process (MachineHost) with
// N vCPUs, its initramfs carrying smp-atomics.c built for riscv64 with Debian's cross compiler.
// The program goes in a second cpio archive after the cached one: the kernel unpacks
// concatenated archives in order (Documentation/driver-api/early-userspace/buffer-format.rst).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ensureDebianGuest } from '../../../engine/guests/debian.ts';
import { writeCpio } from '../../../engine/guests/cpio.ts';
import { bootToShell, type GuestMachine } from '../../support/guest-machine.ts';

const BOOT_TIMEOUT_MS = 600_000;
/** Where the test program lands in the guest. */
export const ATOMICS = '/smp-atomics';

/** The cached Debian initramfs with the test program appended; returns its path. */
function initrdWithAtomics(cachedInitrd: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-smp-'));
  const program = join(dir, 'smp-atomics');
  execFileSync('riscv64-linux-gnu-gcc', ['-static', '-O2', '-pthread', '-o', program,
    fileURLToPath(new URL('./smp-atomics.c', import.meta.url))]);
  const extra = gzipSync(writeCpio([{ type: 'file', path: ATOMICS, mode: 0o755, data: readFileSync(program) }]));
  const initrd = join(dir, 'initrd.cpio.gz');
  writeFileSync(initrd, Buffer.concat([readFileSync(cachedInitrd), extra]));
  return initrd;
}

/** Boots the guest with `harts` vCPUs to its shell. */
export async function bootSmpGuest(harts: number): Promise<GuestMachine> {
  const guest = await ensureDebianGuest({});
  return bootToShell({
    harts, ramBytes: 512 * 1024 * 1024,
    firmwarePath: guest.firmware, kernelPath: guest.kernel, initrdPath: initrdWithAtomics(guest.initrd),
    bootargs: guest.bootargs,
  }, BOOT_TIMEOUT_MS);
}

/** The two totals smp-atomics prints: "atomic N mutex M". */
export function atomicsTotals(output: string): { atomic: number; mutex: number } {
  const match = /atomic (\d+) mutex (\d+)/.exec(output);
  if (!match) throw new Error(`smp-atomics printed no totals: ${JSON.stringify(output.slice(-500))}`);
  return { atomic: Number(match[1]), mutex: Number(match[2]) };
}
