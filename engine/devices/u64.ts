// 64-bit registers seen through 32-bit MMIO windows (CLINT mtimecmp/mtime, goldfish RTC time
// and alarm, virtio-mmio ring addresses and feature words): the guest reads and writes them a
// half at a time, low half at the lower address.

/** The low (`high` false) or high 32 bits of `value`, as an unsigned number. */
export function half(value: bigint, high: boolean): number {
  return Number(BigInt.asUintN(32, high ? value >> 32n : value));
}

/** `value` with its low or high 32 bits replaced by `word`. */
export function withHalf(value: bigint, high: boolean, word: number): bigint {
  const w = BigInt(word >>> 0);
  return high ? (value & 0xffff_ffffn) | (w << 32n) : (value & ~0xffff_ffffn) | w;
}
