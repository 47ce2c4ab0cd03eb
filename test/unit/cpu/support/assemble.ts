// Assembles RISC-V test programs with Debian's cross binutils (package gcc-riscv64-linux-gnu):
// `as -march=rv64gc`, linked at DRAM_BASE (the assembler leaves branch and pc-relative
// relocations for the linker even without relaxation), then `objcopy -O binary`. Results are
// cached by a hash of the source in the temp folder, so a re-run of the suite assembles nothing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRAM_BASE } from '../../../../engine/cpu/layout.ts';

export interface Assembled {
  /** The program's bytes, to be loaded at DRAM_BASE. */
  image: Uint8Array;
  /** Every label of the program, by name, at its guest physical address. */
  symbols: Map<string, bigint>;
}

const TOOL_PREFIX = 'riscv64-linux-gnu-';
const INSTALL_HINT = 'apt-get install -y gcc-riscv64-linux-gnu   (or: node test/setup.mjs)';
const CACHE_DIR = join(tmpdir(), 'hangar-cpu-test-asm');
// Part of the cache key: a change here must not reuse programs assembled the old way.
const ASSEMBLER_FLAGS = ['-march=rv64gc', '-mabi=lp64d', '-mno-relax'];
const LINKER_SCRIPT = `SECTIONS { . = 0x${DRAM_BASE.toString(16)}; .text : { *(.text*) *(.data*) *(.rodata*) *(.bss*) } }\n`;

function tool(name: string, args: string[], cwd: string): string {
  const result = spawnSync(TOOL_PREFIX + name, args, { cwd, encoding: 'utf8' });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${TOOL_PREFIX}${name} is not installed; the CPU tests need Debian's RISC-V cross tools:\n  ${INSTALL_HINT}`);
  }
  if (result.status !== 0) {
    throw new Error(`${TOOL_PREFIX}${name} failed:\n${result.stderr}`);
  }
  return result.stdout;
}

function numberedListing(source: string): string {
  return source.split('\n').map((line, i) => `${String(i + 1).padStart(4)}  ${line}`).join('\n');
}

function build(source: string): Assembled {
  const work = mkdtempSync(join(tmpdir(), 'hangar-asm-'));
  try {
    writeFileSync(join(work, 'program.s'), source);
    writeFileSync(join(work, 'link.ld'), LINKER_SCRIPT);
    try {
      tool('as', [...ASSEMBLER_FLAGS, '-o', 'program.o', 'program.s'], work);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${numberedListing(source)}`);
    }
    tool('ld', ['-nostdlib', '-T', 'link.ld', '-o', 'program.elf', 'program.o'], work);
    tool('objcopy', ['-O', 'binary', 'program.elf', 'program.bin'], work);
    const symbols = new Map<string, bigint>();
    for (const line of tool('nm', ['program.elf'], work).split('\n')) {
      const [address, , name] = line.trim().split(/\s+/);
      if (name) symbols.set(name, BigInt(`0x${address}`));
    }
    return { image: new Uint8Array(readFileSync(join(work, 'program.bin'))), symbols };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface CacheEntry { image: string; symbols: [string, string][] }

/** Assembles `source` (a whole program) for DRAM_BASE, or returns the cached result. */
export function assemble(source: string): Assembled {
  const key = createHash('sha256').update(JSON.stringify([ASSEMBLER_FLAGS, LINKER_SCRIPT, source])).digest('hex');
  const cached = join(CACHE_DIR, `${key}.json`);
  try {
    const entry = JSON.parse(readFileSync(cached, 'utf8')) as CacheEntry;
    return {
      image: new Uint8Array(Buffer.from(entry.image, 'base64')),
      symbols: new Map(entry.symbols.map(([name, address]) => [name, BigInt(address)])),
    };
  } catch {
    // not cached yet (or a torn file from an interrupted run): assemble it
  }
  const assembled = build(source);
  const entry: CacheEntry = {
    image: Buffer.from(assembled.image).toString('base64'),
    symbols: [...assembled.symbols].map(([name, address]) => [name, `0x${address.toString(16)}`]),
  };
  mkdirSync(CACHE_DIR, { recursive: true });
  // Test files run in parallel processes: write aside, then rename into place atomically.
  const partial = `${cached}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(entry));
  renameSync(partial, cached);
  return assembled;
}
