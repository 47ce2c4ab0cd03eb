// What a dynamically linked ELF64 little-endian program needs to run (System V gABI, "Program
// Header" and "Dynamic Section"): the program interpreter it names (PT_INTERP, the dynamic
// loader) and the shared libraries it lists (DT_NEEDED). Only the program headers are read —
// what the loader itself reads; section headers may be stripped.
//
//   ELF header: 0x12 e_machine u16, 0x20 e_phoff u64, 0x36 e_phentsize u16, 0x38 e_phnum u16
//   program header (56 bytes): 0x00 p_type u32, 0x08 p_offset u64, 0x10 p_vaddr u64,
//     0x20 p_filesz u64; PT_LOAD 1, PT_DYNAMIC 2, PT_INTERP 3
//   dynamic entry (16 bytes): d_tag i64, d_val u64; DT_NULL 0, DT_NEEDED 1 (offset into the
//     string table), DT_STRTAB 5 (its virtual address), DT_STRSZ 10
import { FormatError } from './errors.ts';

const ELF_MAGIC = 0x7f454c46;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const PHDR_SIZE = 56;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;

export interface DynamicInfo {
  /** The loader named by PT_INTERP (an absolute path), null for a shared library or static program. */
  interpreter: string | null;
  /** Sonames from DT_NEEDED, in order. */
  needed: string[];
}

export function isElf(data: Uint8Array): boolean {
  return data.length >= 4 && Buffer.from(data.buffer, data.byteOffset, 4).readUInt32BE(0) === ELF_MAGIC;
}

/** The interpreter and DT_NEEDED sonames of an ELF64 little-endian file for `machine`. */
export function dynamicInfo(data: Buffer, machine: number, what: string): DynamicInfo {
  const bad = (why: string) => new FormatError(`${what}: not a usable ELF program (${why})`);
  if (data.length < 64 || !isElf(data)) throw bad('no ELF magic');
  if (data[4] !== ELFCLASS64 || data[5] !== ELFDATA2LSB) throw bad('not ELF64 little-endian');
  if (data.readUInt16LE(0x12) !== machine) throw bad(`machine ${data.readUInt16LE(0x12)}, not ${machine}`);
  const table = Number(data.readBigUInt64LE(0x20));
  const entrySize = data.readUInt16LE(0x36);
  const count = data.readUInt16LE(0x38);
  if (entrySize < PHDR_SIZE || table + count * entrySize > data.length) throw bad('program header table out of bounds');
  const headers = Array.from({ length: count }, (_, i) => {
    const at = table + i * entrySize;
    return {
      type: data.readUInt32LE(at),
      offset: Number(data.readBigUInt64LE(at + 0x08)),
      vaddr: data.readBigUInt64LE(at + 0x10),
      size: Number(data.readBigUInt64LE(at + 0x20)),
    };
  });
  const contents = (header: { offset: number; size: number }, name: string) => {
    if (header.offset + header.size > data.length) throw bad(`${name} out of bounds`);
    return data.subarray(header.offset, header.offset + header.size);
  };
  const cString = (bytes: Buffer, at: number, name: string) => {
    const end = bytes.indexOf(0, at);
    if (at >= bytes.length || end < 0) throw bad(`${name} is not a terminated string`);
    return bytes.toString('utf8', at, end);
  };

  const interp = headers.find((h) => h.type === PT_INTERP);
  const interpreter = interp ? cString(contents(interp, 'PT_INTERP'), 0, 'PT_INTERP') : null;
  const dynamicHeader = headers.find((h) => h.type === PT_DYNAMIC);
  if (!dynamicHeader) return { interpreter, needed: [] };
  const dynamic = contents(dynamicHeader, 'PT_DYNAMIC');
  const neededOffsets: number[] = [];
  let strtab: bigint | null = null;
  let strsz = 0;
  for (let at = 0; at + 16 <= dynamic.length; at += 16) {
    const tag = dynamic.readBigInt64LE(at);
    const value = dynamic.readBigUInt64LE(at + 8);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededOffsets.push(Number(value));
    else if (tag === DT_STRTAB) strtab = value;
    else if (tag === DT_STRSZ) strsz = Number(value);
  }
  if (neededOffsets.length === 0) return { interpreter, needed: [] };
  if (strtab === null) throw bad('DT_NEEDED without DT_STRTAB');
  // DT_STRTAB is an address: the PT_LOAD segment holding it says where that is in the file.
  const address = strtab;
  const segment = headers.find((h) => h.type === PT_LOAD && address >= h.vaddr && address < h.vaddr + BigInt(h.size));
  if (!segment) throw bad('DT_STRTAB is in no loaded segment');
  const strings = contents({ offset: segment.offset + Number(address - segment.vaddr), size: strsz }, 'the dynamic string table');
  return { interpreter, needed: neededOffsets.map((offset) => cString(strings, offset, 'a DT_NEEDED name')) };
}
