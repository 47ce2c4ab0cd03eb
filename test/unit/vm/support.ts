// Shared pieces of the VM tests: a scratch library, and boot files the board's checks accept
// (a RISC-V Linux Image header, an OpenSBI-sized firmware, a small initrd) without a real guest.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmLibrary } from '../../../engine/vm/index.ts';
import { riscvImage } from '../../support/riscv-image.ts';

export interface BootFiles { kernel: string; initrd: string; firmware: string }

export function scratch(t: { after(fn: () => void): void }, prefix = 'hangar-vm-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function bootFiles(dir: string): BootFiles {
  const files = { kernel: join(dir, 'Image'), initrd: join(dir, 'initrd.img'), firmware: join(dir, 'fw_dynamic.bin') };
  writeFileSync(files.kernel, riscvImage());
  writeFileSync(files.initrd, new Uint8Array(1024).fill(7));
  writeFileSync(files.firmware, new Uint8Array(4096).fill(0x13));
  return files;
}

/** A library in a scratch folder and boot files for custom VMs. */
export function scratchLibrary(t: { after(fn: () => void): void }): { library: VmLibrary; dir: string; boot: BootFiles } {
  const dir = scratch(t);
  return { library: new VmLibrary(join(dir, 'vms')), dir, boot: bootFiles(dir) };
}
