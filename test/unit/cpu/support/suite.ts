// The CPU suite run again in another mode (translated.test.ts, lockstep.test.ts): the test files
// of test/unit/cpu that use the test machine (support/machine.ts), but the mode files themselves
// and jit.test.ts (which runs each of its programs both ways itself).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { translatedBlocks } from './machine.ts';

const MODES = new Set(['translated.test.ts', 'lockstep.test.ts', 'jit.test.ts']);

/**
 * Runs the suite's files under `title` (the caller has set the mode's environment first), then
 * checks that they were found and ran translated blocks.
 */
export function describeMachineSuite(title: string): void {
  const dir = fileURLToPath(new URL('..', import.meta.url));
  const suite = readdirSync(dir)
    .filter((name) => name.endsWith('.test.ts') && !MODES.has(name))
    .filter((name) => readFileSync(dir + name, 'utf8').includes("from './support/machine.ts'"))
    .sort();
  describe(title, async () => {
    for (const name of suite) await import(`../${name}`);
  });
  test(`${title}: the suite ran translated blocks`, () => {
    assert.ok(suite.length >= 10, `test files found: ${suite.join(', ')}`);
    console.log(`${title}: translated blocks: ${translatedBlocks()}`);
    assert.ok(translatedBlocks() > 300, `blocks translated: ${translatedBlocks()}`);
  });
}
