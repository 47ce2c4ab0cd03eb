// The terminal pane's input queue (renderer/src/app/input-queue.ts): one terminals:write at a
// time, in bounded pieces, a "full" refusal retried with nothing lost, a bound on what waits.
// The console here is a real byte sink with the engine's rules: a write resolves once its piece
// is taken, and one past the cap is refused whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputQueue, type InputState } from '../../../renderer/src/app/input-queue.ts';

class FullError extends Error {}

/** A console that takes `rate` characters per tick while running, holds at most `cap` unread. */
class Console {
  received = '';
  inFlight = 0;
  maxInFlight = 0;
  refusals = 0;
  paused = false;
  private held = 0;
  constructor(private readonly cap: number) {}

  async write(data: string): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.held + data.length > this.cap) {
        this.refusals++;
        throw new FullError(`input is full: ${this.held} held`);
      }
      this.held += data.length;
      while (this.paused) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 0));
      this.received += data;
      this.held -= data.length;
    } finally {
      this.inFlight--;
    }
  }
}

const idle = (states: InputState[]) => new Promise<void>((resolve) => {
  const check = () => (states.at(-1)?.kind === 'idle' ? resolve() : setTimeout(check, 2));
  check();
});

test('a huge paste into a paused console is sent one piece at a time, whole and in order', async () => {
  const console = new Console(4 * 1024 * 1024);
  console.paused = true;
  const states: InputState[] = [];
  const pieces: number[] = [];
  const queue = new InputQueue({
    send: (data) => { pieces.push(data.length); return console.write(data); },
    isFull: (err) => err instanceof FullError,
    onState: (s) => states.push(s),
  });
  const paste = Array.from({ length: 10 * 1024 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  queue.push('ls\r');
  queue.push(paste);
  queue.push('\r');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(console.maxInFlight, 1, 'never a second write before the first resolved');
  assert.ok(queue.waiting > paste.length - 64 * 1024, `the paste waits in the UI while paused (${queue.waiting})`);
  console.paused = false;
  await idle(states);
  assert.equal(console.received, `ls\r${paste}\r`, 'every character, in order');
  assert.equal(console.refusals, 0, 'the engine never had to refuse');
  assert.equal(console.maxInFlight, 1);
  assert.ok(Math.max(...pieces) <= 64 * 1024, `pieces of at most 64 Ki (largest ${Math.max(...pieces)})`);
  assert.ok(pieces.length >= 160 && pieces.length < 200, `${pieces.length} writes: keystrokes joined with the paste`);
  assert.equal(queue.waiting, 0);
});

test('a "full" refusal is retried after a pause with nothing lost, and shown as full', async () => {
  const console = new Console(100);
  const states: InputState[] = [];
  // Something else holds the console's room for a while (another view typing into it).
  (console as unknown as { held: number }).held = 100;
  setTimeout(() => { (console as unknown as { held: number }).held = 0; }, 30);
  const queue = new InputQueue({
    send: (data) => console.write(data),
    isFull: (err) => err instanceof FullError,
    onState: (s) => states.push(s),
    pieceChars: 10,
    retryMs: 5,
  });
  queue.push('0123456789abcdefghij');
  await idle(states);
  assert.equal(console.received, '0123456789abcdefghij');
  assert.ok(console.refusals >= 1, 'it was refused at first');
  assert.ok(states.some((s) => s.kind === 'full' && s.chars === 20), `shown as full with what waits: ${JSON.stringify(states)}`);
});

test('input past the bound is dropped whole and said so; a failure drops what waits and is reported', async () => {
  const console = new Console(1 << 20);
  console.paused = true;
  const states: InputState[] = [];
  const errors: unknown[] = [];
  const queue = new InputQueue({
    send: (data) => console.write(data),
    isFull: (err) => err instanceof FullError,
    onState: (s) => states.push(s),
    onError: (err) => errors.push(err),
    maxChars: 50,
  });
  queue.push('a'.repeat(40));
  queue.push('b'.repeat(20)); // 60 > 50: dropped, not cut
  assert.deepEqual(states.at(-1), { kind: 'dropped', chars: 20 });
  queue.push('c'.repeat(10));
  console.paused = false;
  await idle(states);
  assert.equal(console.received, 'a'.repeat(40) + 'c'.repeat(10));

  const failing = new InputQueue({
    send: () => Promise.reject(new Error('no such terminal')),
    isFull: () => false,
    onState: (s) => states.push(s),
    onError: (err) => errors.push(err),
  });
  states.length = 0;
  failing.push('x');
  failing.push('y');
  await idle(states);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /no such terminal/);
  assert.equal(failing.waiting, 0, 'what waited is dropped with the failure');
});

test('a piece never splits a surrogate pair; close() stops sending', async () => {
  const sent: string[] = [];
  const queue = new InputQueue({ send: async (d) => { sent.push(d); }, isFull: () => false, pieceChars: 3 });
  const text = 'ab😀cd😀😀e';
  queue.push(text);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(sent.join(''), text);
  for (const piece of sent) assert.equal(piece, Array.from(piece).join(''), 'whole characters');
  for (const piece of sent) assert.doesNotMatch(piece, /^[\udc00-\udfff]|[\ud800-\udbff]$/, `no half pair in ${JSON.stringify(piece)}`);

  let calls = 0;
  let release!: () => void;
  const held = new InputQueue({ send: () => { calls++; return new Promise<void>((r) => { release = r; }); }, isFull: () => false });
  held.push('one');
  held.push('two');
  held.close();
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(calls, 1, 'nothing more after close');
  held.push('three');
  assert.equal(calls, 1);
});
