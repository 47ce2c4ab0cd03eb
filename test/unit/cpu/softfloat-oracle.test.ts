// Differential test: softfloat.ts against the RISC-V FPU as qemu-riscv64 emulates it, over
// seeded random and edge-case operands in all five rounding modes; bits and flags must match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSoftFloat, runOracle, OPERATIONS, ROUNDING_MODES, type OracleCase } from './softfloat/harness.ts';
import { Random, operandsFor } from './softfloat/generate.ts';

const CASES_PER_OPERATION_AND_MODE = 24;

test('every operation matches the RISC-V FPU bit for bit, flags included', () => {
  const random = new Random(0x4a4e47n);
  const cases: OracleCase[] = [];
  for (const operation of OPERATIONS) {
    for (const rm of ROUNDING_MODES) {
      for (let i = 0; i < CASES_PER_OPERATION_AND_MODE; i++) {
        cases.push({ operation, rm, operands: operandsFor(random, operation) });
      }
    }
  }
  const expected = runOracle(cases);
  const softfloat = loadSoftFloat();
  const mismatches: string[] = [];
  cases.forEach(({ operation, rm, operands }, i) => {
    const got = softfloat.run(operation, rm, operands);
    if (got.bits !== expected[i].bits || got.flags !== expected[i].flags) {
      const args = operands.slice(0, operation.arity).map((x) => `0x${x.toString(16)}`).join(', ');
      mismatches.push(`${operation.name}(${args}, rm=${rm}): got 0x${got.bits.toString(16)} flags ${got.flags}, `
        + `FPU 0x${expected[i].bits.toString(16)} flags ${expected[i].flags}`);
    }
  });
  assert.ok(cases.length > 5000, `only ${cases.length} cases`);
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} of ${cases.length} cases differ`);
});
