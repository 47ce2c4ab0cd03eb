// The kernels the board boots: a RISC-V Linux Image (Debian's carries an EFI "MZ" stub in
// front, which is fine) or an ELF64 EM_RISCV kernel loaded by its PT_LOAD segments. Apart from
// the board so that whatever only needs to recognise a kernel (the guest fetcher) can use it.
//
// Linux Image header (Documentation/arch/riscv/boot-image-header.rst), little-endian:
//   0x00 code0/code1 (or "MZ" for an EFI stub)  0x08 u64 text_offset  0x10 u64 image_size
//   0x30 u64 magic "RISCV\0\0\0" (deprecated)   0x38 u32 magic2 "RSC\x05"

import { BootError } from './errors.ts';

const IMAGE_HEADER_SIZE = 64;
const IMAGE_MAGIC = 'RISCV\0\0\0';
const IMAGE_MAGIC2 = 'RSC\x05';

const ELF_HEADER_SIZE = 64;
const ELF_PHDR_SIZE = 56;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
export const EM_RISCV = 243;
const PT_LOAD = 1;


/** A piece of guest RAM an image occupies: `bytes` at `address`, zero-filled up to `memSize`. */
export interface Segment {
  address: number;
  bytes: Uint8Array;
  memSize: number;
}

export type Kernel =
  | { format: 'image'; bytes: Uint8Array; imageSize: number }
  | { format: 'elf'; entry: number; segments: Segment[] };

const ascii = (bytes: Uint8Array, at: number, length: number) => String.fromCharCode(...bytes.subarray(at, at + length));

/** Recognises a RISC-V Linux Image or an ELF64 RISC-V kernel. */
export function parseKernel(bytes: Uint8Array): Kernel {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && ascii(bytes, 0, 4) === '\x7fELF') return parseElf(bytes, view);
  if (bytes.length < IMAGE_HEADER_SIZE) {
    throw new BootError('kernel', `truncated: ${bytes.length} bytes, shorter than a RISC-V Image header (${IMAGE_HEADER_SIZE})`);
  }
  if (ascii(bytes, 0x38, 4) !== IMAGE_MAGIC2 && ascii(bytes, 0x30, 8) !== IMAGE_MAGIC) {
    throw new BootError('kernel', 'not a RISC-V Linux Image (no "RSC\\x05" magic at 0x38) nor a RISC-V ELF');
  }
  const imageSize = Number(view.getBigUint64(0x10, true));
  if (imageSize > Number.MAX_SAFE_INTEGER) throw new BootError('kernel', `Image header claims an image_size of ${imageSize} bytes`);
  // image_size covers the kernel's whole footprint (bss included); 0 in very old kernels.
  return { format: 'image', bytes, imageSize: Math.max(imageSize, bytes.length) };
}

function parseElf(bytes: Uint8Array, view: DataView): Kernel {
  if (bytes.length < ELF_HEADER_SIZE) throw new BootError('kernel', `truncated ELF: ${bytes.length} bytes, shorter than its header`);
  if (bytes[4] !== ELFCLASS64 || bytes[5] !== ELFDATA2LSB) throw new BootError('kernel', 'ELF is not 64-bit little-endian, as a RISC-V RV64 kernel is');
  const machine = view.getUint16(0x12, true);
  if (machine !== EM_RISCV) throw new BootError('kernel', `ELF for machine ${machine}, not RISC-V (${EM_RISCV})`);
  const entry = Number(view.getBigUint64(0x18, true));
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  if (phentsize < ELF_PHDR_SIZE) throw new BootError('kernel', `ELF program header entries of ${phentsize} bytes (expected ${ELF_PHDR_SIZE})`);
  if (phoff + phnum * phentsize > bytes.length) throw new BootError('kernel', 'truncated ELF: program headers run past the end of the file');
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    const offset = Number(view.getBigUint64(at + 8, true));
    const address = Number(view.getBigUint64(at + 24, true)); // p_paddr: where it lives in RAM
    const fileSize = Number(view.getBigUint64(at + 32, true));
    const memSize = Number(view.getBigUint64(at + 40, true));
    if (memSize === 0) continue;
    if (fileSize > memSize) throw new BootError('kernel', `ELF segment ${i} has more file bytes (${fileSize}) than memory (${memSize})`);
    if (offset + fileSize > bytes.length) throw new BootError('kernel', `truncated ELF: segment ${i} runs past the end of the file`);
    segments.push({ address, bytes: bytes.subarray(offset, offset + fileSize), memSize });
  }
  if (segments.length === 0) throw new BootError('kernel', 'ELF has no loadable segments');
  return { format: 'elf', entry, segments };
}
