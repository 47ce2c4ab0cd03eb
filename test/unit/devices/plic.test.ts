// PLIC behaviour from the RISC-V PLIC specification: priorities, per-context enables and
// thresholds, claim/complete, level-triggered sources, and MEIP/SEIP routing per hart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Plic } from '../../../engine/devices/plic.ts';
import { BusError, InterruptBit } from '../../../engine/devices/device.ts';
import { RecordingHartLines, throughJson } from './support.ts';

const MEIP = InterruptBit.MachineExternal, SEIP = InterruptBit.SupervisorExternal;
const priority = (source: number) => 4 * source;
const pending = (word: number) => 0x1000 + 4 * word;
const enable = (context: number, word: number) => 0x2000 + 0x80 * context + 4 * word;
const threshold = (context: number) => 0x20_0000 + 0x1000 * context;
const claim = (context: number) => threshold(context) + 4;

function plic(harts = 2) {
  const lines = new RecordingHartLines();
  const device = new Plic(harts, lines);
  device.reset();
  const reg = (offset: number): number => device.read(offset, 4);
  const set = (offset: number, value: number): void => device.write(offset, 4, value);
  return { device, lines, reg, set };
}

test('an enabled source above the threshold raises the context line; claim and complete', () => {
  const { device, lines, reg, set } = plic();
  const uart = device.irqLine(10);
  set(priority(10), 1);
  set(enable(1, 0), 1 << 10); // context 1: hart 0, S mode
  uart(true);
  assert.equal(lines.irqLine(0, SEIP), true);
  assert.equal(lines.irqLine(0, MEIP), false, 'context 0 has not enabled the source');
  assert.equal(reg(pending(0)), 1 << 10);

  assert.equal(reg(claim(1)), 10);
  assert.equal(lines.irqLine(0, SEIP), false, 'a claimed source is no longer pending');
  assert.equal(reg(pending(0)), 0);
  assert.equal(reg(claim(1)), 0, 'nothing left to claim');

  uart(false);
  set(claim(1), 10);
  assert.equal(lines.irqLine(0, SEIP), false);
});

test('a level source still high at completion interrupts again', () => {
  const { device, lines, reg, set } = plic();
  const line = device.irqLine(33);
  set(priority(33), 3);
  set(enable(0, 1), 1 << 1);
  line(true);
  assert.equal(reg(claim(0)), 33);
  assert.equal(lines.irqLine(0, MEIP), false);
  set(claim(0), 33);
  assert.equal(lines.irqLine(0, MEIP), true);
  assert.equal(reg(claim(0)), 33);
});

test('the threshold masks priorities at or below it; priority 0 never interrupts', () => {
  const { device, lines, reg, set } = plic();
  device.irqLine(5)(true);
  set(enable(1, 0), 1 << 5);
  assert.equal(lines.irqLine(0, SEIP), false, 'priority 0');
  set(priority(5), 2);
  set(threshold(1), 2);
  assert.equal(reg(threshold(1)), 2);
  assert.equal(lines.irqLine(0, SEIP), false, 'priority 2 is not above threshold 2');
  assert.equal(reg(claim(1)), 0);
  set(threshold(1), 1);
  assert.equal(lines.irqLine(0, SEIP), true);
  assert.equal(reg(claim(1)), 5);
});

test('claim returns the highest priority, the lowest id on a tie', () => {
  const { device, reg, set } = plic();
  for (const source of [3, 7, 40]) device.irqLine(source)(true);
  set(priority(3), 2);
  set(priority(7), 5);
  set(priority(40), 5);
  set(enable(1, 0), (1 << 3) | (1 << 7));
  set(enable(1, 1), 1 << 8);
  assert.deepEqual([reg(claim(1)), reg(claim(1)), reg(claim(1)), reg(claim(1))], [7, 40, 3, 0]);
});

test('contexts map to harts: 2h is M mode (MEIP), 2h+1 S mode (SEIP)', () => {
  const { device, lines, set } = plic(2);
  device.irqLine(1)(true);
  set(priority(1), 1);
  set(enable(2, 0), 1 << 1);
  assert.equal(lines.irqLine(1, MEIP), true);
  assert.equal(lines.irqLine(1, SEIP), false);
  assert.equal(lines.irqLine(0, MEIP), false);
  set(enable(3, 0), 1 << 1);
  assert.equal(lines.irqLine(1, SEIP), true);
});

test('completion of a source not enabled for the context is ignored', () => {
  const { device, lines, reg, set } = plic();
  const line = device.irqLine(9);
  set(priority(9), 1);
  set(enable(1, 0), 1 << 9);
  line(true);
  assert.equal(reg(claim(1)), 9);
  set(claim(0), 9); // context 0 never enabled source 9
  assert.equal(lines.irqLine(0, SEIP), false, 'still claimed');
  set(claim(1), 9);
  assert.equal(lines.irqLine(0, SEIP), true);
});

test('source 0 does not exist: priority and enable bit hardwired to 0; other widths fault', () => {
  const { device, reg, set } = plic();
  set(priority(0), 7);
  assert.equal(reg(priority(0)), 0);
  set(enable(0, 0), 0xffff_ffff);
  assert.equal(reg(enable(0, 0)), 0xffff_fffe);
  set(priority(95), 0xff);
  assert.equal(reg(priority(95)), 7, 'three priority bits');
  assert.equal(reg(claim(4)), 0, 'a context beyond the harts reads 0');
  assert.throws(() => device.read(priority(1), 1), BusError);
  assert.throws(() => device.write(priority(1) + 2, 4, 1), BusError);
  assert.throws(() => device.irqLine(96), RangeError);
  assert.throws(() => device.irqLine(0), RangeError);
});

test('save → reset → load: a claimed source and an enabled pending one carry on', () => {
  const { device, lines, reg, set } = plic();
  const a = device.irqLine(1), b = device.irqLine(2);
  set(priority(1), 1);
  set(priority(2), 2);
  set(enable(1, 0), 0b110);
  set(threshold(1), 0);
  a(true);
  b(true);
  assert.equal(reg(claim(1)), 2);
  const saved = throughJson(device.saveState());

  device.reset();
  assert.equal(lines.irqLine(0, SEIP), false);
  assert.equal(reg(enable(1, 0)), 0);

  device.loadState(saved);
  assert.equal(lines.irqLine(0, SEIP), true, 'source 1 still pending and enabled');
  assert.equal(reg(claim(1)), 1);
  b(false);
  set(claim(1), 2);
  set(claim(1), 1);
  assert.equal(lines.irqLine(0, SEIP), true, 'source 1 is still high');
  a(false);
  assert.equal(lines.irqLine(0, SEIP), false);
  assert.equal(reg(priority(2)), 2);
});
