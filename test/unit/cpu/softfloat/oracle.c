/*
 * Reference for the softfloat differential test: runs each operation on the RISC-V FPU
 * (under qemu-riscv64) and prints the result bits and fflags.
 * Input lines:  NAME RM A B C   (RM decimal 0-4, operands hex bit patterns; unused ones 0)
 * Output lines: RESULT FLAGS    (hex; f32 and 32-bit integer results as the full x register)
 * NAME is the function name in engine/cpu/assembly/softfloat.ts.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t u64;

/* Operands go in ft0..ft2 (FP) or straight from x registers; results come out of ft3 or an x
 * register. The instruction uses the dynamic rounding mode set with fsrm. */
#define FLOAT_OP(mv_in, insn, mv_out)                                                      \
  __asm__ volatile(mv_in " ft0, %1\n\t" mv_in " ft1, %2\n\t" mv_in " ft2, %3\n\t" insn "\n\t" \
                   mv_out " %0, ft3"                                                        \
                   : "=r"(r) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3")
#define TO_INT_OP(mv_in, insn)                                                             \
  __asm__ volatile(mv_in " ft0, %1\n\t" mv_in " ft1, %2\n\t" insn                          \
                   : "=r"(r) : "r"(a), "r"(b) : "ft0", "ft1")
#define FROM_INT_OP(insn, mv_out) \
  __asm__ volatile(insn "\n\t" mv_out " %0, ft3" : "=r"(r) : "r"(a) : "ft3")

#define S(name, insn) else if (!strcmp(op, name)) FLOAT_OP("fmv.w.x", insn, "fmv.x.w");
#define D(name, insn) else if (!strcmp(op, name)) FLOAT_OP("fmv.d.x", insn, "fmv.x.d");
#define S_TO_X(name, insn) else if (!strcmp(op, name)) TO_INT_OP("fmv.w.x", insn);
#define D_TO_X(name, insn) else if (!strcmp(op, name)) TO_INT_OP("fmv.d.x", insn);
#define X_TO_S(name, insn) else if (!strcmp(op, name)) FROM_INT_OP(insn, "fmv.x.w");
#define X_TO_D(name, insn) else if (!strcmp(op, name)) FROM_INT_OP(insn, "fmv.x.d");

static int run(const char *op, u64 a, u64 b, u64 c, u64 *result) {
  u64 r = 0;
  if (0) {}
  S("f32_add", "fadd.s ft3, ft0, ft1")
  S("f32_sub", "fsub.s ft3, ft0, ft1")
  S("f32_mul", "fmul.s ft3, ft0, ft1")
  S("f32_div", "fdiv.s ft3, ft0, ft1")
  S("f32_sqrt", "fsqrt.s ft3, ft0")
  S("f32_fma", "fmadd.s ft3, ft0, ft1, ft2")
  S("f32_min", "fmin.s ft3, ft0, ft1")
  S("f32_max", "fmax.s ft3, ft0, ft1")
  D("f64_add", "fadd.d ft3, ft0, ft1")
  D("f64_sub", "fsub.d ft3, ft0, ft1")
  D("f64_mul", "fmul.d ft3, ft0, ft1")
  D("f64_div", "fdiv.d ft3, ft0, ft1")
  D("f64_sqrt", "fsqrt.d ft3, ft0")
  D("f64_fma", "fmadd.d ft3, ft0, ft1, ft2")
  D("f64_min", "fmin.d ft3, ft0, ft1")
  D("f64_max", "fmax.d ft3, ft0, ft1")
  S_TO_X("f32_eq", "feq.s %0, ft0, ft1")
  S_TO_X("f32_lt", "flt.s %0, ft0, ft1")
  S_TO_X("f32_le", "fle.s %0, ft0, ft1")
  S_TO_X("f32_classify", "fclass.s %0, ft0")
  S_TO_X("f32_to_i32", "fcvt.w.s %0, ft0")
  S_TO_X("f32_to_u32", "fcvt.wu.s %0, ft0")
  S_TO_X("f32_to_i64", "fcvt.l.s %0, ft0")
  S_TO_X("f32_to_u64", "fcvt.lu.s %0, ft0")
  D_TO_X("f64_eq", "feq.d %0, ft0, ft1")
  D_TO_X("f64_lt", "flt.d %0, ft0, ft1")
  D_TO_X("f64_le", "fle.d %0, ft0, ft1")
  D_TO_X("f64_classify", "fclass.d %0, ft0")
  D_TO_X("f64_to_i32", "fcvt.w.d %0, ft0")
  D_TO_X("f64_to_u32", "fcvt.wu.d %0, ft0")
  D_TO_X("f64_to_i64", "fcvt.l.d %0, ft0")
  D_TO_X("f64_to_u64", "fcvt.lu.d %0, ft0")
  X_TO_S("i32_to_f32", "fcvt.s.w ft3, %1")
  X_TO_S("u32_to_f32", "fcvt.s.wu ft3, %1")
  X_TO_S("i64_to_f32", "fcvt.s.l ft3, %1")
  X_TO_S("u64_to_f32", "fcvt.s.lu ft3, %1")
  X_TO_D("i32_to_f64", "fcvt.d.w ft3, %1")
  X_TO_D("u32_to_f64", "fcvt.d.wu ft3, %1")
  X_TO_D("i64_to_f64", "fcvt.d.l ft3, %1")
  X_TO_D("u64_to_f64", "fcvt.d.lu ft3, %1")
  else if (!strcmp(op, "f32_to_f64"))
    __asm__ volatile("fmv.w.x ft0, %1\n\tfcvt.d.s ft3, ft0\n\tfmv.x.d %0, ft3" : "=r"(r) : "r"(a) : "ft0", "ft3");
  else if (!strcmp(op, "f64_to_f32"))
    __asm__ volatile("fmv.d.x ft0, %1\n\tfcvt.s.d ft3, ft0\n\tfmv.x.w %0, ft3" : "=r"(r) : "r"(a) : "ft0", "ft3");
  else return 0;
  *result = r;
  return 1;
}

int main(void) {
  char op[32];
  unsigned rm;
  unsigned long long a, b, c;
  while (scanf("%31s %u %llx %llx %llx", op, &rm, &a, &b, &c) == 5) {
    u64 result, flags;
    __asm__ volatile("fsrm %0\n\tfsflags x0" : : "r"((u64)rm));
    if (!run(op, a, b, c, &result)) {
      fprintf(stderr, "oracle: unknown operation %s\n", op);
      return 1;
    }
    __asm__ volatile("frflags %0" : "=r"(flags));
    printf("%llx %llx\n", (unsigned long long)result, (unsigned long long)flags);
  }
  return 0;
}
