// Bit patterns of IEEE 754 values as the F and D extensions keep them in f registers, and the
// fflags bits (unprivileged spec, "Floating-Point Control and Status Register").

export const NX = 1n, UF = 2n, OF = 4n, DZ = 8n, NV = 16n;
/** Rounding modes (the rm field and frm). */
export const RM = { rne: 0n, rtz: 1n, rdn: 2n, rup: 3n, rmm: 4n } as const;

/** A single in an f register: NaN-boxed (upper 32 bits all ones). */
export const boxed = (single: bigint): bigint => (0xffff_ffffn << 32n) | (single & 0xffff_ffffn);

/** The single-precision pattern of `x` (rounded to single by the host if it is not exact). */
export function f32(x: number): bigint {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  return BigInt(view.getUint32(0));
}

export function f64(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0);
}

/** f32(x), NaN-boxed as an f register holds it. */
export const s = (x: number): bigint => boxed(f32(x));

export const F32_CANONICAL_NAN = 0x7fc0_0000n;
export const F32_SNAN = 0x7f80_0001n;
export const F32_INF = 0x7f80_0000n;
export const F64_CANONICAL_NAN = 0x7ff8_0000_0000_0000n;
export const F64_SNAN = 0x7ff0_0000_0000_0001n;
export const F64_INF = 0x7ff0_0000_0000_0000n;
