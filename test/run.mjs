#!/usr/bin/env node
// Runs the test files under the folders named on the command line with Node's own test runner
// (through tsx). Node 20's --test does not expand globs, so the files are found here.
// usage: node test/run.mjs test/unit test/integration [--concurrency N]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const folders = args.filter((a) => !a.startsWith('--'));
const concurrency = args.includes('--parallel') ? [] : ['--test-concurrency=1'];

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
