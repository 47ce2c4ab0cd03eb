#!/usr/bin/env node
// Runs the test files under the folders named on the command line with Node's own test runner
// (through tsx). Node 20's --test does not expand globs, so the files are found here.
// Files run one at a time (most boot guests, and the host has few cores) unless --concurrency N
// lets N run at once.
// usage: node test/run.mjs test/unit test/integration [--concurrency N]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const at = args.findIndex((a) => a === '--concurrency' || a.startsWith('--concurrency='));
const given = at < 0 ? '1' : args[at].includes('=') ? args[at].slice(args[at].indexOf('=') + 1) : args[at + 1];
if (!/^[1-9]\d*$/.test(given ?? '')) {
  console.error(`test/run.mjs: --concurrency takes a whole number of test files to run at once, not ${given === undefined ? 'nothing' : `"${given}"`}`);
  process.exit(2);
}
const unknown = args.find((a, i) => a.startsWith('--') && i !== at);
if (unknown) {
  console.error(`test/run.mjs: unknown option ${unknown} (usage: node test/run.mjs FOLDER... [--concurrency N])`);
  process.exit(2);
}
const folders = args.filter((a, i) => !a.startsWith('--') && !(at >= 0 && i === at + 1 && !args[at].includes('=')));
const concurrency = [`--test-concurrency=${given}`];

function testFiles(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const child = join(path, entry.name);
      if (entry.isDirectory()) return testFiles(child);
      return entry.name.endsWith('.test.ts') ? [child] : [];
    });
}

const files = folders.flatMap(testFiles);
if (files.length === 0) {
  console.error(`test/run.mjs: no test files under ${folders.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...concurrency, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
