// A bounded qcow2 fuzzer. Seed images made by QEMU (qemu-img create/convert, qemu-io: versions 2
// and 3, a backing file, compressed clusters, internal snapshots, 512-byte clusters with 1-bit
// refcounts) and by Hangar's own writer are mutated — header fields set to boundary values, bit
// flips, extension headers, L1/L2/refcount table and block entries, snapshot entries,
// truncation — and each input is opened read-only and read cluster by cluster, described, checked,
// opened read-write and written, flushed, checked and repaired (support/qcow2-fuzz-child.ts).
// The guards: no exception but DiskError; every input within PER_INPUT_MS (1 s) of CPU; the worker's peak
// RSS under RSS_BOUND_MIB (the tables Hangar reads are capped: 32 MiB of L1, 8 MiB of refcount
// table, 2 MiB of header, 64 KiB of L2 cache here). The worker runs in a child process so that
// a hang is killed and named. Fixed seed; the index of an input replays it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { checkDisk, createQcow2, openDisk } from '../../../engine/storage/index.ts';
import { firstDifference, pattern, readAll } from './support/workload.ts';

// Longer or other campaigns: HANGAR_FUZZ_MS=600000 HANGAR_FUZZ_SEED=7 (FUZZ_QEMU_EVERY=1: ask QEMU about
// every input). To replay input N, keep the seeds (HANGAR_FUZZ_DIR=/tmp/f, an empty folder) and run
// `node --import tsx test/unit/storage/support/qcow2-fuzz-child.ts /tmp/f SEED N 9e15 N`: /tmp/f/input.qcow2 is left.
const SEED = Number(process.env.HANGAR_FUZZ_SEED ?? 0x9c0f2);
const FUZZ_MS = Number(process.env.HANGAR_FUZZ_MS ?? 15_000);
/** CPU time (not wall time: the machine may be busy with other work) one input may take. */
const PER_INPUT_MS = 1_000; // inputs take 5–200 ms; the old refcount walk past the file took 2 s
/** Silence from the worker this long is a hang; its start (loading tsx and the engine) may take longer. */
const HANG_MS = 20_000;
const STARTUP_MS = 60_000;
const RSS_BOUND_MIB = 400;
const CHILD = fileURLToPath(new URL('./support/qcow2-fuzz-child.ts', import.meta.url));

const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'ignore' });
const qemuIo = (path: string, ...commands: string[]) => execFileSync('qemu-io', [...commands.flatMap((c) => ['-c', c]), path], { stdio: 'ignore' });

function seedImages(dir: string): string[] {
  const at = (name: string) => join(dir, name);
  writeFileSync(at('base.raw'), pattern(1, 1 << 20));
  const source = new Uint8Array(1 << 20);
  source.set(pattern(2, 300_000), 0);
  source.set(pattern(3, 100_000), 700_000);
  writeFileSync(at('source.raw'), source);

  qemuImg('create', '-f', 'qcow2', at('seed-0-v3.qcow2'), '1M');
  qemuIo(at('seed-0-v3.qcow2'), 'write -P 0x11 0 100k', 'write -P 0x22 600k 64k', 'write -z 900k 64k');
  qemuImg('create', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', at('seed-1-v2.qcow2'), '1M');
  qemuIo(at('seed-1-v2.qcow2'), 'write -P 0x33 0 20k', 'write -P 0x44 500k 9k');
  qemuImg('create', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', at('seed-2-backing.qcow2'));
  qemuIo(at('seed-2-backing.qcow2'), 'write -P 0x55 64k 64k', 'write -z 256k 128k', 'discard 512k 64k');
  qemuImg('convert', '-c', '-O', 'qcow2', '-o', 'cluster_size=4096', at('source.raw'), at('seed-3-compressed.qcow2'));
  qemuImg('create', '-f', 'qcow2', at('seed-4-snapshots.qcow2'), '1M');
  qemuIo(at('seed-4-snapshots.qcow2'), 'write -P 0x66 0 128k');
  qemuImg('snapshot', '-c', 'one', at('seed-4-snapshots.qcow2'));
  qemuIo(at('seed-4-snapshots.qcow2'), 'write -P 0x77 64k 128k');
  qemuImg('snapshot', '-c', 'two', at('seed-4-snapshots.qcow2'));
  qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=512,refcount_bits=1', at('seed-5-512.qcow2'), '256k');
  qemuIo(at('seed-5-512.qcow2'), 'write -P 0x88 0 10k', 'write -P 0x99 100k 3k');
  createQcow2(at('seed-6-hangar.qcow2'), 1 << 20, { clusterSize: 4096 });
  const own = openDisk(at('seed-6-hangar.qcow2'));
  own.write(0, pattern(4, 50_000));
  own.write(600_000, pattern(5, 30_000));
  own.discard(8192, 8192);
  own.close();
  return ['seed-0-v3.qcow2', 'seed-1-v2.qcow2', 'seed-2-backing.qcow2', 'seed-3-compressed.qcow2', 'seed-4-snapshots.qcow2', 'seed-5-512.qcow2', 'seed-6-hangar.qcow2'].map(at);
}

interface Run { inputs: number; refused: number; failures: string[]; slowest: number; peakRss: number }

/** Runs the worker from input `first` until the time is up; a silent worker is killed as hung. */
function runWorker(dir: string, first: number, ms: number, run: Run): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(SEED), String(first), String(Date.now() + ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let current: { index: number; what: string } | null = null;
    let next = first;
    let hung = false;
    let ready = false;
    let watchdog = setTimeout(() => {}, 0);
    const arm = (limit = HANG_MS) => { clearTimeout(watchdog); watchdog = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, limit); };
    arm(STARTUP_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      arm();
      if (line === 'ready') { ready = true; return; }
      const begin = /^begin (\d+) (.*)$/.exec(line);
      if (begin) { current = { index: Number(begin[1]), what: begin[2]! }; return; }
      const end = /^end (\d+) (\S+) ([\d.]+) (\d+) ?(.*)$/.exec(line);
      if (!end || !current) return;
      const [, , outcome, took, rss, error] = end;
      run.inputs++;
      run.slowest = Math.max(run.slowest, Number(took));
      run.peakRss = Math.max(run.peakRss, Number(rss));
      if (outcome === 'refused') run.refused++;
      if (outcome === 'FAIL') run.failures.push(`input ${current.index} (${current.what}): ${error}`);
      else if (Number(took) > PER_INPUT_MS) run.failures.push(`input ${current.index} (${current.what}): took ${took} ms of CPU`);
      if (Number(rss) > RSS_BOUND_MIB) run.failures.push(`input ${current.index} (${current.what}): peak RSS ${rss} MiB`);
      next = current.index + 1;
      current = null;
    });
    child.on('close', (code) => { // after the last line of its output
      clearTimeout(watchdog);
      if (!ready) {
        run.failures.push(`the worker did not start (exit ${code}${hung ? `, nothing in ${STARTUP_MS} ms` : ''})`);
        next = Infinity;
      } else if (hung || code !== 0) {
        const index = current?.index ?? next;
        run.inputs++;
        run.failures.push(`input ${index} (${current?.what ?? 'while mutating'}): ${hung ? `no answer in ${HANG_MS} ms (hang)` : `the worker died (exit ${code})`}`);
        next = index + 1;
      }
      done(next);
    });
  });
}

test('fuzz qcow2: mutated QEMU and Hangar images are refused with a DiskError or served, in bounded time and memory', async (t) => {
  // tmpfs where there is one: the inputs are rewritten thousands of times and fsync costs nothing there.
  const keep = process.env.HANGAR_FUZZ_DIR;
  const dir = keep ?? mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'hangar-fuzz-'));
  if (!keep) t.after(() => rmSync(dir, { recursive: true, force: true }));
  const seeds = seedImages(dir);
  // Canary: the unmutated seeds open, read as QEMU reads them, and check clean — the worker's
  // operations reach real data, so a refusal of a mutated input is the mutation's doing.
  for (const seed of seeds) {
    const disk = openDisk(seed, { readOnly: true });
    const ours = readAll(disk);
    disk.close();
    qemuImg('convert', '-O', 'raw', seed, join(dir, 'qemu.raw'));
    assert.equal(firstDifference(ours, readFileSync(join(dir, 'qemu.raw'))), -1, `${seed} reads as QEMU reads it`);
    const report = checkDisk(seed);
    assert.deepEqual([report.corruptions, report.leaks], [0, 0], `${seed} checks clean`);
  }

  const run: Run = { inputs: 0, refused: 0, failures: [], slowest: 0, peakRss: 0 };
  const started = Date.now();
  for (let first = 0; Date.now() - started < FUZZ_MS - 500 && first < Infinity;) first = await runWorker(dir, first, FUZZ_MS - (Date.now() - started), run);
  const seconds = (Date.now() - started) / 1000;
  console.log(`fuzz qcow2: ${run.inputs} inputs in ${seconds.toFixed(1)} s, ${run.failures.length} failures (seed 0x${SEED.toString(16)}, qemu-img check on every ${process.env.FUZZ_QEMU_EVERY ?? 16}th input Hangar finds sound, ${run.refused} refused, ${run.inputs - run.refused} served; slowest ${run.slowest.toFixed(0)} ms of CPU; peak RSS ${run.peakRss} MiB)`);
  const kinds = new Map<string, number>();
  for (const failure of run.failures) {
    const kind = failure.replace(/^input \d+ \(.*?\): /, '').replace(/0x[0-9a-f]+|\d+(\.\d+)?/g, 'N');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  for (const [kind, count] of kinds) console.log(`  ${count} × ${kind}`);
  for (const failure of run.failures.slice(0, 30)) console.log(`  ${failure}`);
  assert.ok(run.inputs >= 100, 'enough inputs ran');
  assert.ok(run.refused > 0 && run.refused < run.inputs, 'the mutations reach both refusals and served images');
  assert.deepEqual(run.failures, []);
});
