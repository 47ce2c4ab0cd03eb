// The CPU suite again, with the translator compiling every block at its first run (JIT
// threshold 1): each instruction test then runs its program as compiled WebAssembly blocks,
// falling back to the interpreter only for what jit.ts leaves to it (system, atomics, floating
// point, fences). The files are the ones that use the test machine (support/machine.ts), but
// jit.test.ts, which runs each of its programs both ways itself, and lockstep.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { translatedBlocks } from './support/machine.ts';

process.env.HANGAR_TEST_JIT_THRESHOLD = '1';
const here = fileURLToPath(new URL('.', import.meta.url));
const suite = readdirSync(here)
  .filter((name) => name.endsWith('.test.ts') && name !== basename(fileURLToPath(import.meta.url)) && name !== 'jit.test.ts' && name !== 'lockstep.test.ts')
  .filter((name) => readFileSync(here + name, 'utf8').includes("from './support/machine.ts'"))
  .sort();

describe('translated (JIT threshold 1)', async () => {
  for (const name of suite) await import(`./${name}`);
});

test('the suite above ran translated blocks', () => {
  assert.ok(suite.length >= 10, `test files found: ${suite.join(', ')}`);
  console.log(`translated blocks: ${translatedBlocks()}`);
  assert.ok(translatedBlocks() > 300, `blocks translated: ${translatedBlocks()}`);
});
