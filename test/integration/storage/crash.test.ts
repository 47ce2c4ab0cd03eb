// Crash safety of the qcow2 layer: a child process writing and flushing through it is SIGKILLed
// at a random moment, 20 times over the same image. The moment is counted in the writer's own
// progress (a random flush, then a random few milliseconds), so that a fast machine does not
// let it finish first. Every time: `qemu-img check` finds no
// corruption (leaks are allowed), `hangar disk check --repair` clears the leaks, and every write
// flushed before the kill reads back. A sector written after the last flush may hold its old
// contents or those of any later write to it, and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createQcow2 } from '../../../engine/storage/index.ts';
import { hangarSync } from '../../support/hangar-process.ts';
import { applyToModel, pattern } from '../../unit/storage/support/workload.ts';
import { prng } from '../../support/random.ts';
import { crashOps, FLUSH_EVERY, OPERATIONS } from './support/crash-ops.ts';
import { qemuCheck, qemuRaw } from './support/qemu.ts';

const WRITER = fileURLToPath(new URL('./support/crash-writer.ts', import.meta.url));
const SECTOR = 512;
const KILLS = 20;

/** Runs the writer until `delayMs` after its flush number `killAfter`, kills it; returns the operations known durable. */
async function writeAndKill(image: string, seed: number, killAfter: number, delayMs: number): Promise<{ flushed: number; finished: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, image, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (!timer && output.includes(`flushed ${killAfter * FLUSH_EVERY}\n`)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  assert.equal(signal, 'SIGKILL', `the writer died on its own:\n${output}`);
  const flushed = [...output.matchAll(/flushed (\d+)/g)].map((m) => Number(m[1]));
  return { flushed: flushed.length ? Math.max(...flushed) : 0, finished: output.includes('done\n') };
}

test(`qcow2 survives ${KILLS} SIGKILLs during flushed writes: no corruption, leaks repaired, flushed data intact`, { timeout: 15 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-crash-'));
  const size = 32 << 20;
  const base = join(dir, 'base.raw');
  writeFileSync(base, pattern(1, size));
  const image = join(dir, 'disk.qcow2');
  createQcow2(image, size, { clusterSize: 4096, backing: base });
  let baseline = pattern(1, size);
  const delays = prng(2024);
  let leaksSeen = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const seed = 100 + kill;
    const started = Date.now();
    // Up to 80% of the way through: what is left takes far longer than the delay to write.
    const killAfter = 1 + Math.floor(delays() * 0.8 * (OPERATIONS / FLUSH_EVERY));
    const { flushed, finished } = await writeAndKill(image, seed, killAfter, Math.floor(delays() * 20));
    assert.ok(!finished, 'killed while still writing');
    const killedAt = Date.now();

    const found = qemuCheck(image);
    assert.deepEqual([found.corruptions, found.errors], [0, 0], `kill ${kill}: qemu-img check found corruption`);
    leaksSeen += found.leaks;
    const repair = hangarSync(['disk', 'check', '--repair', image]);
    assert.equal(repair.status, 0, `kill ${kill}: hangar disk check --repair: ${repair.stdout}${repair.stderr}`);
    assert.deepEqual(qemuCheck(image), { corruptions: 0, leaks: 0, errors: 0 }, `kill ${kill}: clean after repair`);

    // The flushed state, and for each sector the values later (unflushed) operations could have left.
    const ops = crashOps(seed, size);
    const durable = baseline.slice();
    for (const op of ops.slice(0, flushed)) applyToModel(durable, op);
    const later = ops.slice(flushed, flushed + 2 * FLUSH_EVERY).map((op) => ({
      op, bytes: op.kind === 'write' ? pattern(op.seed, op.length) : new Uint8Array(op.length),
    }));
    const actual = qemuRaw(image, join(dir, `kill-${kill}.raw`));
    for (let at = 0; at < size; at += SECTOR) {
      const sector = actual.subarray(at, at + SECTOR);
      if (Buffer.compare(sector, durable.subarray(at, at + SECTOR)) === 0) continue;
      const explained = later.some(({ op, bytes }) =>
        at >= op.offset && at < op.offset + op.length && Buffer.compare(sector, bytes.subarray(at - op.offset, at - op.offset + SECTOR)) === 0);
      assert.ok(explained, `kill ${kill} (${flushed} operations flushed): sector at 0x${at.toString(16)} holds data no operation wrote there`);
    }
    baseline = actual;
    if (process.env.HANGAR_TEST_VERBOSE) console.log(`kill ${kill}: ${flushed} ops flushed, writer ${killedAt - started} ms, checks ${Date.now() - killedAt} ms`);
  }
  console.log(`${KILLS} kills, ${leaksSeen} leaked clusters found and repaired in all`);
});
