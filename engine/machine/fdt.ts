// A Flattened Device Tree writer (Devicetree Specification v0.4, chapter 5 "Flattened
// Devicetree (DTB) Format"), and the `virt` board's tree as QEMU's hw/riscv/virt.c writes it.
//
// Blob layout (all integers big-endian):
//   0x00  header (5.2): magic 0xd00dfeed, totalsize, off_dt_struct, off_dt_strings,
//         off_mem_rsvmap, version 17, last_comp_version 16, boot_cpuid_phys,
//         size_dt_strings, size_dt_struct
//   0x28  memory reservation block (5.3): (u64 address, u64 size) pairs ending in (0, 0)
//         — empty here: firmware and kernel reserve their own memory, as under QEMU
//   ...   structure block (5.4): FDT_BEGIN_NODE name | FDT_PROP len nameoff value |
//         FDT_END_NODE, ..., FDT_END; every token and value padded to 4 bytes
//   ...   strings block (5.5): NUL-terminated property names, each stored once
import { randomBytes } from 'node:crypto';
import { DRAM_BASE } from '../cpu/layout.ts';
import { TIMEBASE_HZ } from '../devices/clock.ts';
import type { SlotDescription } from './virt.ts';

const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMPATIBLE_VERSION = 16;
const HEADER_SIZE = 40;
const MEMORY_RESERVATION_TERMINATOR_SIZE = 16;
const enum Token { BeginNode = 1, EndNode = 2, Prop = 3, End = 9 }

/**
 * A property value: `true` an empty (boolean) property, a number one u32 cell, a number[] a
 * list of u32 cells, a string or string[] NUL-terminated strings, a Uint8Array raw bytes.
 */
export type FdtValue = true | number | number[] | string | string[] | Uint8Array;

const encoder = new TextEncoder();

function encodeValue(value: FdtValue): Uint8Array {
  if (value === true) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string' || (Array.isArray(value) && typeof value[0] === 'string')) {
    const strings = typeof value === 'string' ? [value] : (value as string[]);
    return encoder.encode(strings.map((s) => `${s}\0`).join(''));
  }
  const cells = typeof value === 'number' ? [value] : (value as number[]);
  const bytes = new Uint8Array(cells.length * 4);
  const view = new DataView(bytes.buffer);
  cells.forEach((cell, i) => {
    if (!Number.isInteger(cell) || cell < 0 || cell > 0xffff_ffff) throw new RangeError(`FDT cell ${cell} is not a u32`);
    view.setUint32(i * 4, cell);
  });
  return bytes;
}

/** A 64-bit quantity as two cells (high, low), as #address-cells/#size-cells = 2 want. */
export function u64Cells(value: number): number[] {
  return [Math.floor(value / 2 ** 32), value >>> 0];
}

export class FdtNode {
  readonly properties = new Map<string, Uint8Array>();
  readonly children: FdtNode[] = [];

  constructor(readonly name: string) {}

  prop(name: string, value: FdtValue): this {
    this.properties.set(name, encodeValue(value));
    return this;
  }

  /** Adds a child node; node names are unique among siblings (spec 2.2.1). */
  child(name: string): FdtNode {
    if (this.children.some((c) => c.name === name)) throw new Error(`FDT: duplicate node ${name} under "${this.name || '/'}"`);
    const node = new FdtNode(name);
    this.children.push(node);
    return node;
  }
}

export class DeviceTree {
  readonly root = new FdtNode('');
  private readonly phandles = new Map<string, number>();

  /**
   * The phandle for `label` (like a dts label): numbered on first use, so a node can be
   * referenced before it is written. The node itself carries it as its "phandle" property.
   */
  phandle(label: string): number {
    let handle = this.phandles.get(label);
    if (handle === undefined) {
      handle = this.phandles.size + 1;
      this.phandles.set(label, handle);
    }
    return handle;
  }

  /** Serialises the tree to a DTB. */
  toBlob(bootCpu = 0): Uint8Array {
    const strings = new StringsBlock();
    const struct: Uint8Array[] = [];
    let structSize = 0;
    const push = (bytes: Uint8Array) => {
      struct.push(bytes);
      structSize += bytes.length;
    };
    const token = (...words: number[]) => push(encodeValue(words));
    const padded = (bytes: Uint8Array) => {
      const out = new Uint8Array(align4(bytes.length));
      out.set(bytes);
      push(out);
    };
    const visit = (node: FdtNode) => {
      token(Token.BeginNode);
      padded(encoder.encode(`${node.name}\0`));
      for (const [name, value] of node.properties) {
        token(Token.Prop, value.length, strings.offsetOf(name));
        padded(value);
      }
      node.children.forEach(visit);
      token(Token.EndNode);
    };
    visit(this.root);
    token(Token.End);

    const stringsBytes = strings.bytes();
    const offMemRsvmap = HEADER_SIZE; // 8-byte aligned, as 5.3 requires
    const offStruct = offMemRsvmap + MEMORY_RESERVATION_TERMINATOR_SIZE;
    const offStrings = offStruct + structSize;
    const totalSize = offStrings + stringsBytes.length;
    const blob = new Uint8Array(totalSize);
    const header = new DataView(blob.buffer);
    [FDT_MAGIC, totalSize, offStruct, offStrings, offMemRsvmap, FDT_VERSION, FDT_LAST_COMPATIBLE_VERSION,
      bootCpu, stringsBytes.length, structSize].forEach((word, i) => header.setUint32(i * 4, word));
    let at = offStruct;
    for (const piece of struct) {
      blob.set(piece, at);
      at += piece.length;
    }
    blob.set(stringsBytes, offStrings);
    return blob;
  }
}

const align4 = (n: number) => (n + 3) & ~3;

class StringsBlock {
  private readonly offsets = new Map<string, number>();
  private size = 0;

  offsetOf(name: string): number {
    let offset = this.offsets.get(name);
    if (offset === undefined) {
      offset = this.size;
      this.offsets.set(name, offset);
      this.size += encoder.encode(name).length + 1;
    }
    return offset;
  }

  bytes(): Uint8Array {
    return encoder.encode([...this.offsets.keys()].map((name) => `${name}\0`).join(''));
  }
}

// ---- the `virt` board's tree --------------------------------------------------------------

export interface VirtTreeOptions {
  harts: number;
  ramBytes: number;
  bootargs: string;
  /** Guest physical [start, end) of the initrd, written to /chosen for the kernel. */
  initrd?: { start: number; end: number };
}

/** What /cpus says about each hart: the extensions the core implements. */
const ISA_EXTENSIONS = ['i', 'm', 'a', 'f', 'd', 'c', 'zicntr', 'zicsr', 'zifencei', 'sstc'];
const ISA_STRING = 'rv64imafdc_zicntr_zicsr_zifencei_sstc';

/** Labels of the phandles other nodes refer to. */
export const PLIC_PHANDLE = 'plic';
export const hartIntcPhandle = (hart: number) => `cpu${hart}-intc`;

/**
 * The virt machine's device tree: root, /chosen, /memory, /cpus, and /soc with one node per
 * board slot (each slot describes its own node: name, reg, compatible, interrupts, extras).
 */
export function virtDeviceTree(slots: readonly SlotDescription[], options: VirtTreeOptions): Uint8Array {
  const tree = new DeviceTree();
  const root = tree.root
    .prop('#address-cells', 2)
    .prop('#size-cells', 2)
    .prop('compatible', 'riscv-virtio')
    .prop('model', 'riscv-virtio,qemu');

  const chosen = root.child('chosen')
    .prop('bootargs', options.bootargs)
    .prop('stdout-path', '/soc/serial@10000000')
    // Early entropy for the kernel's random pool, as QEMU gives it.
    .prop('rng-seed', new Uint8Array(randomBytes(32)));
  if (options.initrd) {
    chosen.prop('linux,initrd-start', u64Cells(options.initrd.start));
    chosen.prop('linux,initrd-end', u64Cells(options.initrd.end));
  }

  root.child(`memory@${DRAM_BASE.toString(16)}`)
    .prop('device_type', 'memory')
    .prop('reg', [...u64Cells(DRAM_BASE), ...u64Cells(options.ramBytes)]);

  const cpus = root.child('cpus')
    .prop('#address-cells', 1)
    .prop('#size-cells', 0)
    .prop('timebase-frequency', TIMEBASE_HZ);
  for (let hart = 0; hart < options.harts; hart++) {
    const cpu = cpus.child(`cpu@${hart}`)
      .prop('phandle', tree.phandle(`cpu${hart}`))
      .prop('device_type', 'cpu')
      .prop('reg', hart)
      .prop('status', 'okay')
      .prop('compatible', 'riscv')
      .prop('riscv,isa', ISA_STRING)
      .prop('riscv,isa-base', 'rv64i')
      .prop('riscv,isa-extensions', ISA_EXTENSIONS)
      .prop('mmu-type', 'riscv,sv48');
    cpu.child('interrupt-controller')
      .prop('#interrupt-cells', 1)
      .prop('interrupt-controller', true)
      .prop('compatible', 'riscv,cpu-intc')
      .prop('phandle', tree.phandle(hartIntcPhandle(hart)));
  }
  const cluster = cpus.child('cpu-map').child('cluster0');
  for (let hart = 0; hart < options.harts; hart++) {
    cluster.child(`core${hart}`).prop('cpu', tree.phandle(`cpu${hart}`));
  }

  const soc = root.child('soc')
    .prop('#address-cells', 2)
    .prop('#size-cells', 2)
    .prop('compatible', 'simple-bus')
    .prop('ranges', true);
  for (const slot of slots) {
    const node = soc.child(`${slot.node}@${slot.base.toString(16)}`)
      .prop('reg', [...u64Cells(slot.base), ...u64Cells(slot.size)])
      .prop('compatible', slot.compatible);
    if (slot.irq !== undefined) {
      node.prop('interrupt-parent', tree.phandle(PLIC_PHANDLE)).prop('interrupts', slot.irq);
    }
    slot.describe?.(node, { tree, harts: options.harts });
  }
  return tree.toBlob();
}
