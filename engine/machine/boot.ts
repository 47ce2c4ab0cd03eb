// Boot images, placed in guest RAM as QEMU's virt machine places them (hw/riscv/boot.c):
//
//   0x8000_0000             firmware (OpenSBI fw_dynamic.bin), raw
//   align_up(fw end, 2 MiB) kernel: a RISC-V Linux Image (0x8020_0000 for OpenSBI) — or an
//                           ELF64 EM_RISCV kernel, loaded by its PT_LOAD segments' p_paddr
//   below the device tree   initrd (linux,initrd-start/-end in /chosen)
//   align_down(top - size, 2 MiB)  device tree, then the fw_dynamic_info record; `top` is the
//                           end of RAM, but at most 3 GiB (QEMU keeps the tree 32-bit addressable)
//
// Every hart starts at 0x8000_0000 in M mode with a0 = hart id, a1 = device tree, a2 =
// fw_dynamic_info. QEMU passes that record from its reset ROM and puts the initrd at
// kernel + min(RAM / 2, 128 MiB); we have no ROM, so the record sits in RAM after the tree
// (OpenSBI copies its fields before anything can overwrite it), and the initrd goes straight
// under the tree, which leaves the kernel the most room.
//
// fw_dynamic_info (OpenSBI include/sbi/fw_dynamic.h, version 2), six u64:
//   magic 0x4942534f "OSBI", version, next_addr, next_mode (1 = S), options, boot_hart
import { readFileSync } from 'node:fs';
import { DRAM_BASE } from '../cpu/layout.ts';
import type { HartEntry } from '../cpu/cpu.ts';
import { BootError, type ImageRole } from './errors.ts';
import type { MachineConfig } from './machine.ts';
import { virtDtb, type VirtBoard } from './virt.ts';
import { parseKernel, type Segment } from './kernel-image.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const KERNEL_ALIGN = 2 * MiB;
const DTB_ALIGN = 2 * MiB;
const DTB_TOP_LIMIT = 3 * GiB;
const INITRD_ALIGN = 4096;

const FW_DYNAMIC_INFO_MAGIC = 0x4942534fn;
const FW_DYNAMIC_INFO_VERSION = 2n;
const FW_DYNAMIC_INFO_NEXT_MODE_S = 1n;
const FW_DYNAMIC_INFO_SIZE = 6 * 8;

const hex = (n: number) => `0x${n.toString(16)}`;
const alignUp = (n: number, to: number) => Math.ceil(n / to) * to;
const alignDown = (n: number, to: number) => Math.floor(n / to) * to;

export interface BootImages {
  harts: number;
  ramBytes: number;
  firmware: Uint8Array;
  kernel: Uint8Array;
  initrd?: Uint8Array;
  bootargs: string;
}

/** Where everything goes: the result of placing the images, before anything is written. */
export interface BootLayout {
  firmware: Segment;
  kernelEntry: number;
  kernelSegments: Segment[];
  initrd?: Segment;
  dtb: Segment;
  fwDynamicInfo: number;
}

/** Places the images in RAM; throws BootError for one that does not fit or that overlaps another. */
export function planBoot(images: BootImages): BootLayout {
  const ramEnd = DRAM_BASE + images.ramBytes;
  if (images.firmware.length === 0) throw new BootError('firmware', 'file is empty');
  const firmware: Segment = { address: DRAM_BASE, bytes: images.firmware, memSize: images.firmware.length };

  const kernel = parseKernel(images.kernel);
  let kernelEntry: number;
  let kernelSegments: Segment[];
  if (kernel.format === 'image') {
    kernelEntry = alignUp(DRAM_BASE + images.firmware.length, KERNEL_ALIGN);
    kernelSegments = [{ address: kernelEntry, bytes: kernel.bytes, memSize: kernel.imageSize }];
  } else {
    kernelEntry = kernel.entry;
    kernelSegments = kernel.segments;
  }

  // The tree's size does not depend on the initrd's addresses, only on whether there is one.
  const initrdSize = images.initrd?.length;
  if (initrdSize === 0) throw new BootError('initrd', 'file is empty');
  const treeOptions = { harts: images.harts, ramBytes: images.ramBytes, bootargs: images.bootargs };
  const sizingTree = virtDtb({ ...treeOptions, initrd: initrdSize === undefined ? undefined : { start: 0, end: 0 } });
  const dtbSpan = alignUp(sizingTree.length, 8) + FW_DYNAMIC_INFO_SIZE;
  const dtbAddress = alignDown(Math.min(ramEnd, DTB_TOP_LIMIT) - dtbSpan, DTB_ALIGN);
  if (dtbAddress < DRAM_BASE) throw new BootError('device tree', `does not fit in ${images.ramBytes} bytes of RAM`);
  const fwDynamicInfo = dtbAddress + alignUp(sizingTree.length, 8);

  let initrd: Segment | undefined;
  if (images.initrd) {
    const start = alignDown(dtbAddress - images.initrd.length, INITRD_ALIGN);
    initrd = { address: start, bytes: images.initrd, memSize: images.initrd.length };
  }
  const dtbBytes = virtDtb({ ...treeOptions, initrd: initrd && { start: initrd.address, end: initrd.address + initrd.memSize } });
  const dtb: Segment = { address: dtbAddress, bytes: dtbBytes, memSize: dtbSpan };

  const placed: Array<[ImageRole, Segment]> = [
    ['firmware', firmware],
    ...kernelSegments.map((s): [ImageRole, Segment] => ['kernel', s]),
    ...(initrd ? [['initrd', initrd] as [ImageRole, Segment]] : []),
    ['device tree', dtb],
  ];
  for (const [role, segment] of placed) {
    if (segment.address < DRAM_BASE || segment.address + segment.memSize > ramEnd) {
      throw new BootError(role, `${segment.memSize} bytes at ${hex(segment.address)} do not fit in RAM ` +
        `(${hex(DRAM_BASE)}..${hex(ramEnd)}, ${images.ramBytes / MiB} MiB)`);
    }
  }
  placed.forEach(([role, a], i) => {
    for (const [otherRole, b] of placed.slice(i + 1)) {
      if (a.address < b.address + b.memSize && b.address < a.address + a.memSize) {
        // Blame the image placed around the other: the tree is tiny and fixed, and the initrd
        // is pushed down onto the kernel by RAM that is too small for both.
        const culprit = otherRole === 'device tree' ? role : otherRole;
        throw new BootError(culprit, `${role} (${hex(a.address)}..${hex(a.address + a.memSize)}) overlaps ` +
          `${otherRole} (${hex(b.address)}..${hex(b.address + b.memSize)}): too large for ${images.ramBytes / MiB} MiB of RAM`);
      }
    }
  });
  return { firmware, kernelEntry, kernelSegments, initrd, dtb, fwDynamicInfo };
}

/** Writes the boot images into the board's RAM; returns where each hart starts. */
export function loadBootImages(board: Pick<VirtBoard, 'memory'>, images: BootImages): { harts: HartEntry[]; layout: BootLayout } {
  const layout = planBoot(images);
  const memory = board.memory;
  for (const segment of [layout.firmware, ...layout.kernelSegments, ...(layout.initrd ? [layout.initrd] : []), layout.dtb]) {
    memory.write(segment.address, segment.bytes);
    memory.view(segment.address + segment.bytes.length, segment.memSize - segment.bytes.length).fill(0);
  }
  const info = layout.fwDynamicInfo;
  [FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, BigInt(layout.kernelEntry), FW_DYNAMIC_INFO_NEXT_MODE_S, 0n, 0n]
    .forEach((field, i) => memory.writeU64(info + i * 8, field));
  const harts = Array.from({ length: images.harts }, (_, hart): HartEntry => ({
    pc: BigInt(DRAM_BASE),
    a0: BigInt(hart),
    a1: BigInt(layout.dtb.address),
    a2: BigInt(info),
  }));
  return { harts, layout };
}

/**
 * Checks a machine's boot files before a machine is built: each problem is one BootError
 * (invalid-argument) line naming the file (missing, empty, not a RISC-V kernel, truncated, too
 * large for RAM); details.path is the file.
 */
export function checkBootImages(config: MachineConfig): void {
  const paths: Record<ImageRole, string | undefined> = {
    firmware: config.firmwarePath,
    kernel: config.kernelPath,
    initrd: config.initrdPath,
    'device tree': undefined,
  };
  const read = (role: ImageRole, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new BootError(role, `${role} ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  };
  try {
    planBoot({
      harts: config.harts,
      ramBytes: config.ramBytes,
      firmware: read('firmware', config.firmwarePath),
      kernel: read('kernel', config.kernelPath),
      initrd: config.initrdPath === undefined ? undefined : read('initrd', config.initrdPath),
      bootargs: config.bootargs,
    });
  } catch (err) {
    if (!(err instanceof BootError)) throw err;
    const path = paths[err.image];
    throw new BootError(err.image, path === undefined ? `${err.image}: ${err.message}` : `${err.image} ${path}: ${err.message}`);
  }
}
