#!/usr/bin/env node
// Compiles the AssemblyScript RV64GC core to engine/cpu/build/cpu.wasm.
// The core imports one shared WebAssembly.Memory (guest RAM + hart state) so every
// vCPU worker instantiates the same module over the same memory.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build');
mkdirSync(out, { recursive: true });
const asc = createRequire(import.meta.url).resolve('assemblyscript/package.json').replace(/package\.json$/, 'bin/asc.js');
const args = [
  asc, join(here, 'assembly', 'index.ts'),
  '--outFile', join(out, 'cpu.wasm'),
  '--textFile', join(out, 'cpu.wat'),
  '--optimizeLevel', '3', '--shrinkLevel', '0', '--converge', '--noAssert',
  '--runtime', 'stub',
  '--importMemory', '--sharedMemory', '--importTable', '--initialMemory', '1', '--maximumMemory', '65536',
  '--enable', 'threads', '--disable', 'bulk-memory',
  '--exportStart', '_initialize',
];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.error('hangar: building the CPU core failed (npm run build)');
  process.exit(result.status ?? 1);
}
