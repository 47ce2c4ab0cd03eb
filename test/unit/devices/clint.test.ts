// CLINT registers (SiFive CLINT / RISC-V ACLINT MSWI and MTIMER): msip drives MSIP, mtimecmp
// is written a 32-bit half at a time, mtime is guest time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint } from '../../../engine/devices/clint.ts';
import { BusError, InterruptBit } from '../../../engine/devices/device.ts';
import { ManualClock, RecordingHartLines, throughJson } from './support.ts';

const MSIP = InterruptBit.MachineSoftware;

function clint(harts = 2) {
  const lines = new RecordingHartLines();
  const clock = new ManualClock();
  const device = new Clint(harts, clock, lines);
  device.reset();
  return { device, lines, clock, reg: (o: number) => device.read(o, 4), set: (o: number, v: number) => device.write(o, 4, v) };
}

test('msip bit 0 drives the hart\'s MSIP line and reads back', () => {
  const { lines, reg, set } = clint();
  set(0x4, 0xffff_ffff);
  assert.equal(lines.level(1, MSIP), true);
  assert.equal(lines.level(0, MSIP), false);
  assert.equal(reg(0x4), 1);
  set(0x4, 2);
  assert.equal(lines.level(1, MSIP), false);
  assert.equal(reg(0x4), 0);
  set(0x8, 1); // hart 2 does not exist
  assert.equal(reg(0x8), 0);
});

test('mtimecmp is written and read as two 32-bit halves', () => {
  const { lines, reg, set } = clint();
  assert.equal(lines.getMtimecmp(1), 0xffff_ffff_ffff_ffffn, 'reset: no timer interrupt');
  set(0x4008, 0x89ab_cdef);
  set(0x400c, 0x0123_4567);
  assert.equal(lines.getMtimecmp(1), 0x0123_4567_89ab_cdefn);
  assert.equal(reg(0x4008), 0x89ab_cdef);
  assert.equal(reg(0x400c), 0x0123_4567);
  set(0x400c, 0);
  assert.equal(lines.getMtimecmp(1), 0x89ab_cdefn, 'a high-half write keeps the low half');
  assert.equal(lines.getMtimecmp(0), 0xffff_ffff_ffff_ffffn);
});

test('mtime reads guest time; writes are ignored; other widths fault', () => {
  const { device, clock, reg, set } = clint();
  clock.ticks = 0x1_2345_6789n;
  assert.equal(reg(0xbff8), 0x2345_6789);
  assert.equal(reg(0xbffc), 1);
  set(0xbff8, 0);
  assert.equal(reg(0xbff8), 0x2345_6789);
  assert.throws(() => device.read(0xbff8, 2), BusError);
  assert.throws(() => device.write(0x1, 4, 1), BusError);
});

test('save → reset → load: a pending software interrupt carries on', () => {
  const { device, lines, reg, set } = clint();
  set(0x0, 1);
  const saved = throughJson(device.saveState());
  device.reset();
  assert.equal(lines.level(0, MSIP), false);
  device.loadState(saved);
  assert.equal(lines.level(0, MSIP), true);
  assert.equal(reg(0x0), 1);
  set(0x0, 0);
  assert.equal(lines.level(0, MSIP), false);
  assert.throws(() => device.loadState({ version: 1, msipHarts: [5] }), /msipHarts/);
});
