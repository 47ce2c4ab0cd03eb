// Test harness for engine/cpu/assembly/softfloat.ts: compiles it alone with asc (runtime stub,
// plain memory) into a temporary directory, and builds the RISC-V FPU oracle (oracle.c) with
// the Debian cross compiler to run under qemu-riscv64.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..', '..');
const softfloatSource = join(repo, 'engine', 'cpu', 'assembly', 'softfloat.ts');

export const RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;
export const ROUNDING_MODES = [RNE, RTZ, RDN, RUP, RMM];
export const NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;

/** What an operand or a result is: a float bit pattern, an integer register, or a 0/1 answer. */
export type Kind = 'f32' | 'f64' | 'int' | 'u32';

export interface Operation {
  name: string;
  arity: 1 | 2 | 3;
  input: Kind;
  output: Kind;
  /** Takes a rounding mode argument. */
  rounded: boolean;
}

function op(name: string, arity: 1 | 2 | 3, input: Kind, output: Kind, rounded: boolean): Operation {
  return { name, arity, input, output, rounded };
}

export const OPERATIONS: Operation[] = [];
for (const f of ['f32', 'f64'] as const) {
  for (const name of ['add', 'sub', 'mul', 'div']) OPERATIONS.push(op(`${f}_${name}`, 2, f, f, true));
  OPERATIONS.push(op(`${f}_sqrt`, 1, f, f, true), op(`${f}_fma`, 3, f, f, true));
  for (const name of ['eq', 'lt', 'le']) OPERATIONS.push(op(`${f}_${name}`, 2, f, 'u32', false));
  for (const name of ['min', 'max']) OPERATIONS.push(op(`${f}_${name}`, 2, f, f, false));
  OPERATIONS.push(op(`${f}_classify`, 1, f, 'u32', false));
  for (const i of ['i32', 'u32', 'i64', 'u64']) {
    OPERATIONS.push(op(`${f}_to_${i}`, 1, f, 'int', true), op(`${i}_to_${f}`, 1, 'int', f, true));
  }
}
OPERATIONS.push(op('f32_to_f64', 1, 'f32', 'f64', false), op('f64_to_f32', 1, 'f64', 'f32', true));

export interface Outcome { bits: bigint; flags: number }

/** Keeps the bits a result of this kind owns (the oracle prints whole x registers). */
export function normalise(kind: Kind, bits: bigint): bigint {
  return kind === 'f32' || kind === 'u32' ? bits & 0xffffffffn : BigInt.asUintN(64, bits);
}

type WasmFunction = (...args: (number | bigint)[]) => number | bigint;

export interface SoftFloat {
  run(operation: Operation, rm: number, operands: bigint[]): Outcome;
}

/** Compiles softfloat.ts on its own and instantiates it. */
export function loadSoftFloat(): SoftFloat {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-softfloat-'));
  try {
    const entry = join(dir, 'entry.ts');
    const importPath = relative(dir, softfloatSource).replace(/\.ts$/, '');
    writeFileSync(entry, `export * from '${importPath}';\n`);
    const asc = createRequire(import.meta.url).resolve('assemblyscript/package.json')
      .replace(/package\.json$/, 'bin/asc.js');
    const wasmFile = join(dir, 'softfloat.wasm');
    const result = spawnSync(process.execPath, [asc, entry, '--outFile', wasmFile,
      '--runtime', 'stub', '--optimizeLevel', '3', '--noAssert'], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`asc failed on softfloat.ts:\n${result.stderr}`);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmFile))).exports;
    const fflags = exports.fflags as WebAssembly.Global;
    return {
      run(operation, rm, operands) {
        const fn = exports[operation.name] as WasmFunction;
        // u32 operands travel as wasm i32 (JS numbers), u64 ones as i64 (BigInts).
        const args: (number | bigint)[] = operands.slice(0, operation.arity)
          .map((x) => (operation.input === 'f32' ? Number(x) | 0 : BigInt.asIntN(64, x)));
        if (operation.rounded) args.push(rm);
        fflags.value = 0;
        const bits = normalise(operation.output, BigInt(fn(...args)));
        return { bits, flags: fflags.value as number };
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const INSTALL = 'apt-get install gcc-riscv64-linux-gnu qemu-user';

function requireTool(tool: string): void {
  const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(`${tool} is missing: ${INSTALL}`);
}

export interface OracleCase { operation: Operation; rm: number; operands: bigint[] }

/** Runs every case on the RISC-V FPU (oracle.c under qemu-riscv64), in one process. */
export function runOracle(cases: OracleCase[]): Outcome[] {
  requireTool('riscv64-linux-gnu-gcc');
  requireTool('qemu-riscv64');
  const dir = mkdtempSync(join(tmpdir(), 'hangar-fpu-oracle-'));
  try {
    const binary = join(dir, 'oracle');
    const cc = spawnSync('riscv64-linux-gnu-gcc',
      ['-static', '-O1', '-Wall', '-Werror', '-o', binary, join(here, 'oracle.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`compiling oracle.c failed:\n${cc.stderr}`);
    const input = cases.map(({ operation, rm, operands }) => {
      const [a = 0n, b = 0n, c = 0n] = operands.slice(0, operation.arity);
      return `${operation.name} ${rm} ${a.toString(16)} ${b.toString(16)} ${c.toString(16)}\n`;
    }).join('');
    const run = spawnSync('qemu-riscv64', [binary], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`oracle failed (${run.status}): ${run.stderr}`);
    const lines = run.stdout.trim().split('\n');
    if (lines.length !== cases.length) throw new Error(`oracle answered ${lines.length} of ${cases.length} cases`);
    return lines.map((line, i) => {
      const [bits, flags] = line.split(' ');
      return { bits: normalise(cases[i].operation.output, BigInt(`0x${bits}`)), flags: Number.parseInt(flags, 16) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
