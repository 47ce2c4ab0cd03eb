// Boot placement as QEMU's virt machine does it: firmware at DRAM base, an Image kernel at the
// next 2 MiB boundary (an ELF kernel at its segments' physical addresses), the device tree at
// the top of RAM with the initrd under it, and the fw_dynamic_info record OpenSBI reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RAM_OFFSET } from '../../../engine/cpu/layout.ts';
import { GuestMemory } from '../../../engine/devices/guest-memory.ts';
import { checkBootImages, loadBootImages, planBoot } from '../../../engine/machine/boot.ts';
import { BootError } from '../../../engine/machine/errors.ts';
import { decodeDtb } from './dts.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function guestMemory(ramBytes: number): GuestMemory {
  const pages = (RAM_OFFSET + ramBytes) / 65536;
  return new GuestMemory(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }), ramBytes);
}

/** A RISC-V Linux Image: the 64-byte header (EFI "MZ" stub like Debian's) and a body. */
function riscvImage(fileBytes: number, imageSize: number): Uint8Array {
  const image = new Uint8Array(fileBytes).map((_, i) => (i * 7 + 1) & 0xff);
  const view = new DataView(image.buffer);
  image.set([0x4d, 0x5a], 0); // "MZ"
  view.setBigUint64(0x08, 0x200000n, true);
  view.setBigUint64(0x10, BigInt(imageSize), true);
  image.set(new TextEncoder().encode('RISCV\0\0\0'), 0x30);
  image.set(new TextEncoder().encode('RSC\x05'), 0x38);
  return image;
}

/** An ELF64 EM_RISCV executable with the given PT_LOAD segments. */
function riscvElf(entry: number, segments: Array<{ paddr: number; data: Uint8Array; memSize: number }>, machine = 243): Uint8Array {
  const phoff = 64;
  let dataOffset = phoff + 56 * segments.length;
  const size = dataOffset + segments.reduce((n, s) => n + s.data.length, 0);
  const elf = new Uint8Array(size);
  const view = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  view.setUint16(0x10, 2, true); // ET_EXEC
  view.setUint16(0x12, machine, true);
  view.setBigUint64(0x18, BigInt(entry), true);
  view.setBigUint64(0x20, BigInt(phoff), true);
  view.setUint16(0x34, 64, true);
  view.setUint16(0x36, 56, true);
  view.setUint16(0x38, segments.length, true);
  segments.forEach((s, i) => {
    const at = phoff + i * 56;
    view.setUint32(at, 1, true); // PT_LOAD
    view.setBigUint64(at + 8, BigInt(dataOffset), true);
    view.setBigUint64(at + 16, 0xffff_ffff_8000_0000n + BigInt(i) * 0x20_0000n, true); // p_vaddr (unused)
    view.setBigUint64(at + 24, BigInt(s.paddr), true);
    view.setBigUint64(at + 32, BigInt(s.data.length), true);
    view.setBigUint64(at + 40, BigInt(s.memSize), true);
    elf.set(s.data, dataOffset);
    dataOffset += s.data.length;
  });
  return elf;
}

const fill = (length: number, seed: number) => new Uint8Array(length).map((_, i) => (i * 13 + seed) & 0xff);

/** Reads the fw_dynamic_info record's six u64 fields. */
function fwDynamicInfo(memory: GuestMemory, address: bigint) {
  const field = (i: number) => memory.readU64(address + BigInt(i * 8));
  return { magic: field(0), version: field(1), nextAddr: field(2), nextMode: field(3), options: field(4), bootHart: field(5) };
}

test('an Image kernel boots through OpenSBI: placement, hart entries, fw_dynamic_info, /chosen', () => {
  const ramBytes = 128 * MiB;
  const memory = guestMemory(ramBytes);
  const firmware = fill(300 * 1024, 1);
  const kernel = riscvImage(64 * 1024, 20 * MiB);
  const initrd = fill(3 * MiB + 5, 2);
  const { harts } = loadBootImages({ memory }, { harts: 2, ramBytes, firmware, kernel, initrd, bootargs: 'console=ttyS0' });

  const dtbAddress = 0x8000_0000 + ramBytes - 2 * MiB; // top of RAM, aligned down to 2 MiB
  assert.deepEqual(harts.map((h) => [h.pc, h.a0, h.a1]), [[0x8000_0000n, 0n, BigInt(dtbAddress)], [0x8000_0000n, 1n, BigInt(dtbAddress)]]);
  assert.equal(harts[0]!.a2, harts[1]!.a2);
  assert.deepEqual(memory.read(0x8000_0000, firmware.length), firmware);
  assert.deepEqual(memory.read(0x8020_0000, kernel.length), kernel);
  assert.deepEqual(fwDynamicInfo(memory, harts[0]!.a2), {
    magic: 0x4942534fn, version: 2n, nextAddr: 0x8020_0000n, nextMode: 1n, options: 0n, bootHart: 0n,
  });

  const header = new DataView(memory.read(dtbAddress, 8).buffer);
  assert.equal(header.getUint32(0), 0xd00dfeed);
  const { nodes } = decodeDtb(memory.read(dtbAddress, header.getUint32(4)));
  const chosen = nodes.get('/chosen')!;
  assert.equal(chosen.get('bootargs'), '"console=ttyS0"');
  const cells = (text: string) => { const [hi, lo] = text.slice(1, -1).split(' ').map(Number); return hi! * 2 ** 32 + lo!; };
  const initrdStart = cells(chosen.get('linux,initrd-start')!);
  const initrdEnd = cells(chosen.get('linux,initrd-end')!);
  assert.equal(initrdEnd - initrdStart, initrd.length);
  assert.ok(initrdEnd <= dtbAddress && initrdStart % 4096 === 0, `initrd 0x${initrdStart.toString(16)} under the tree`);
  assert.ok(initrdStart >= 0x8020_0000 + 20 * MiB, 'initrd clear of the kernel\'s image_size');
  assert.deepEqual(memory.read(initrdStart, initrd.length), initrd);
  assert.equal(nodes.get('/memory@80000000')!.get('reg'), '<0x00 0x80000000 0x00 0x8000000>');
  assert.ok(nodes.has('/cpus/cpu@1'));
  // The record sits after the tree, inside RAM.
  assert.ok(Number(harts[0]!.a2) >= dtbAddress + header.getUint32(4) && Number(harts[0]!.a2) + 48 <= 0x8000_0000 + ramBytes);
});

test('the kernel follows the firmware at the next 2 MiB boundary', () => {
  const layout = planBoot({ harts: 1, ramBytes: 64 * MiB, firmware: fill(2 * MiB + 1, 0), kernel: riscvImage(4096, 4096), bootargs: '' });
  assert.equal(layout.kernelEntry, 0x8040_0000);
  assert.equal(layout.initrd, undefined);
});

test('the device tree stays under 3 GiB however large RAM is, as QEMU keeps it', () => {
  const layout = planBoot({ harts: 1, ramBytes: 3 * GiB, firmware: fill(4096, 0), kernel: riscvImage(4096, 4096), bootargs: '' });
  assert.equal(layout.dtb.address, 0xbfe0_0000);
  assert.equal(planBoot({ harts: 1, ramBytes: 17 * MiB, firmware: fill(4096, 0), kernel: riscvImage(4096, 4096), bootargs: '' }).dtb.address, 0x8100_0000);
});

test('an ELF kernel is loaded by its PT_LOAD segments, bss zeroed, entry from e_entry', () => {
  const ramBytes = 32 * MiB;
  const memory = guestMemory(ramBytes);
  memory.view(0x8040_0000, 0x3000).fill(0xaa); // left over from a previous boot
  const text = fill(0x1800, 3);
  const data = fill(0x1000, 4);
  const kernel = riscvElf(0x8020_0100, [
    { paddr: 0x8020_0000, data: text, memSize: text.length },
    { paddr: 0x8040_0000, data, memSize: 0x3000 },
  ]);
  const { harts } = loadBootImages({ memory }, { harts: 1, ramBytes, firmware: fill(4096, 5), kernel, bootargs: '' });
  assert.deepEqual(memory.read(0x8020_0000, text.length), text);
  assert.deepEqual(memory.read(0x8040_0000, data.length), data);
  assert.deepEqual(memory.read(0x8040_1000, 0x2000), new Uint8Array(0x2000));
  assert.equal(fwDynamicInfo(memory, harts[0]!.a2).nextAddr, 0x8020_0100n);
});

test('images that overlap or do not fit in RAM are refused, naming the image', () => {
  const firmware = fill(4096, 0);
  const refusal = (image: string, pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof BootError, String(err));
    assert.equal(err.image, image);
    assert.match(err.message, pattern);
    return true;
  };
  const overFirmware = riscvElf(0x8000_0000, [{ paddr: 0x8000_0800, data: fill(16, 0), memSize: 16 }]);
  assert.throws(() => planBoot({ harts: 1, ramBytes: 32 * MiB, firmware, kernel: overFirmware, bootargs: '' }), refusal('kernel', /overlaps/));
  const outsideRam = riscvElf(0x8000_0000, [{ paddr: 0xffff_ffff_8000_0000, data: fill(16, 0), memSize: 16 }]);
  assert.throws(() => planBoot({ harts: 1, ramBytes: 32 * MiB, firmware, kernel: outsideRam, bootargs: '' }), refusal('kernel', /do not fit in RAM/));
  const hugeKernel = riscvImage(4096, 200 * MiB);
  assert.throws(() => planBoot({ harts: 1, ramBytes: 128 * MiB, firmware, kernel: hugeKernel, bootargs: '' }), refusal('kernel', /do not fit in RAM|overlaps/));
  // 20 MiB of kernel from 0x8020_0000 and 9 MiB of initrd under the tree at 0x81e0_0000 collide.
  assert.throws(() => planBoot({ harts: 1, ramBytes: 32 * MiB, firmware, kernel: riscvImage(4096, 20 * MiB), initrd: fill(9 * MiB, 0), bootargs: '' }),
    refusal('initrd', /overlaps kernel|kernel .* overlaps initrd/));
  assert.doesNotThrow(() => planBoot({ harts: 1, ramBytes: 32 * MiB, firmware, kernel: riscvImage(4096, 20 * MiB), initrd: fill(8 * MiB, 0), bootargs: '' }));
  assert.throws(() => planBoot({ harts: 1, ramBytes: 16 * MiB, firmware, kernel: riscvImage(4096, 4096), initrd: fill(20 * MiB, 0), bootargs: '' }),
    refusal('initrd', /do not fit in RAM/));
  assert.throws(() => planBoot({ harts: 1, ramBytes: 16 * MiB, firmware, kernel: riscvElf(0, [], 62), bootargs: '' }), refusal('kernel', /machine 62/));
});

test('checkBootImages names the file in one invalid-argument BootError line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-boot-'));
  const file = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
  const firmwarePath = file('fw_dynamic.bin', fill(4096, 0));
  const kernelPath = file('Image', riscvImage(8192, 8192));
  const config = { harts: 1, ramBytes: 64 * MiB, firmwarePath, kernelPath, bootargs: 'console=ttyS0' };
  assert.doesNotThrow(() => checkBootImages(config));
  const refused = (overrides: object, path: string, pattern: RegExp) => assert.throws(() => checkBootImages({ ...config, ...overrides }), (err: unknown) => {
    assert.ok(err instanceof BootError && err.code === 'invalid-argument', String(err));
    assert.ok(err.message.includes(path) && !err.message.includes('\n'), err.message);
    assert.match(err.message, pattern);
    return true;
  });
  const truncated = file('Image.truncated', riscvImage(8192, 8192).subarray(0, 40));
  refused({ kernelPath: truncated }, truncated, /truncated/);
  const noise = file('noise', fill(65536, 9));
  refused({ kernelPath: noise }, noise, /not a RISC-V/);
  const hostElf = file('host-elf', readFileSync(process.execPath).subarray(0, 65536));
  refused({ kernelPath: hostElf }, hostElf, /not RISC-V/);
  const emptyFirmware = file('empty-fw', new Uint8Array(0));
  refused({ firmwarePath: emptyFirmware }, emptyFirmware, /empty/);
  const bigInitrd = file('big-initrd', new Uint8Array(20 * MiB));
  refused({ initrdPath: bigInitrd, ramBytes: 16 * MiB }, bigInitrd, /do not fit in RAM/);
  refused({ initrdPath: join(dir, 'missing') }, join(dir, 'missing'), /cannot be read \(ENOENT\)/);
});
