// A minimal valid RISC-V Linux Image (the boot protocol's 64-byte header, then filler text): what
// the board's checks accept as a kernel, for tests that need boot files but no real guest.
export function riscvImage(): Uint8Array {
  const image = new Uint8Array(8192);
  const view = new DataView(image.buffer);
  view.setBigUint64(0x08, 0x200000n, true); // text_offset
  view.setBigUint64(0x10, 8192n, true); // image_size
  image.set(new TextEncoder().encode('RISCV\0\0\0'), 0x30);
  image.set(new TextEncoder().encode('RSC\x05'), 0x38);
  return image;
}
