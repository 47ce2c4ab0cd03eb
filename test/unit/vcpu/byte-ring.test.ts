// The console's input path without a guest: a RingFeeder in front of a 64 KiB ByteRing takes a
// 1 MiB paste while nothing reads the ring (a paused machine), keeps the event loop free, refuses
// what would pass its cap whole, and hands every byte over in order once a reader drains the ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ByteRing, RingFeeder, RingFullError } from '../../../engine/vcpu/byte-ring.ts';

const RING = 64 * 1024;
const CAP = 4 * 1024 * 1024;

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function settled(promise: Promise<unknown>): { done: boolean } {
  const state = { done: false };
  promise.then(() => { state.done = true; }, () => { state.done = true; });
  return state;
}

test('a 1 MiB paste waits in the feeder while nothing reads, the event loop stays free, and arrives whole and in order', async () => {
  const ring = new ByteRing(RING);
  let bells = 0;
  const feeder = new RingFeeder(ring, CAP, () => bells++);
  const paste = randomBytes(1024 * 1024);
  const first = feeder.write(paste.subarray(0, 1000)); // fits: in the ring at once
  await first;
  const written = feeder.write(paste.subarray(1000));
  const state = settled(written);
  assert.equal(feeder.waiting, paste.length - 1000 - (RING - 1 - 1000));
  // Nothing reads: the write stays pending, and timers still fire on time.
  const asked = performance.now();
  await sleep(50);
  const late = performance.now() - asked - 50;
  assert.ok(late < 200, `a 50 ms timer fired ${late.toFixed(0)} ms late`);
  assert.equal(state.done, false, 'the write resolves only once its bytes are in the ring');

  // Past the cap a write is refused whole; what waits is untouched.
  const waiting = feeder.waiting;
  await assert.rejects(feeder.write(new Uint8Array(CAP - waiting + 1)), (err: Error) =>
    err instanceof RingFullError && err.message.includes(`${waiting} bytes wait for the reader`));
  assert.equal(feeder.waiting, waiting);

  // A reader drains the ring (as the UART's polls do): everything arrives, in order.
  const received: Uint8Array[] = [];
  let total = 0;
  const reader = setInterval(() => {
    for (let bytes; (bytes = ring.read());) { received.push(bytes); total += bytes.length; }
  }, 1);
  await written;
  while (total < paste.length) await sleep(1);
  clearInterval(reader);
  assert.equal(total, paste.length);
  assert.equal(sha(Buffer.concat(received)), sha(paste));
  assert.equal(feeder.waiting, 0);
  assert.ok(bells >= paste.length / RING, `the reader was rung ${bells} times`);
  console.log(`byte-ring: 1 MiB through a ${RING / 1024} KiB ring in ${received.length} reads, ${bells} bells`);
});

test('takeWaiting hands over what waits (the writes resolve) and later input queues behind it; close refuses', async () => {
  const ring = new ByteRing(16);
  const feeder = new RingFeeder(ring, 100, () => {});
  const first = feeder.write(Buffer.from('0123456789abcdefghij')); // 15 in the ring, 5 wait
  assert.equal(feeder.waiting, 5);
  assert.deepEqual(Buffer.from(feeder.takeWaiting()).toString(), 'fghij');
  await first;
  assert.equal(feeder.waiting, 0);
  const later = feeder.write(Buffer.from('KLM'));
  assert.equal(feeder.waiting, 3);
  assert.equal(Buffer.from(ring.read()!).toString(), '0123456789abcde');
  await later;
  assert.equal(Buffer.from(ring.read()!).toString(), 'KLM');

  for (let i = 0; i < 15; i++) ring.write(new Uint8Array(1)); // full again
  const pending = feeder.write(Buffer.from('xyz'));
  feeder.close(new Error('machine: it has stopped'));
  await assert.rejects(pending, /it has stopped/);
  await assert.rejects(feeder.write(Buffer.from('x')), /it has stopped/);
  assert.equal(feeder.waiting, 0);
});
