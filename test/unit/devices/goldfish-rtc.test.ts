// Goldfish RTC registers (as QEMU's goldfish_rtc.c and Linux's rtc-goldfish use them): the
// TIME_LOW read latches TIME_HIGH, time follows guest time from the wall clock at first look,
// the alarm fires once, gated by IRQ_ENABLED, acknowledged by CLEAR_INTERRUPT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoldfishRtc } from '../../../engine/devices/goldfish-rtc.ts';
import { ManualClock, recordingIrq, throughJson } from './support.ts';

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;
const NS_PER_TICK = 100n;

function rtc(wallNs = 1_700_000_000_000_000_000n) {
  const clock = new ManualClock();
  const irq = recordingIrq();
  const wall = { ns: wallNs };
  const device = new GoldfishRtc(irq.line, clock, () => wall.ns);
  device.reset();
  const reg = (o: number) => device.read(o, 4);
  const set = (o: number, v: number) => device.write(o, 4, v);
  const time = (): bigint => BigInt(reg(TIME_LOW)) | (BigInt(reg(TIME_HIGH)) << 32n);
  const setAlarm = (ns: bigint) => {
    set(ALARM_HIGH, Number(ns >> 32n));
    set(ALARM_LOW, Number(ns & 0xffff_ffffn));
  };
  /** Advances guest time and the host's wall clock together. */
  const elapse = (ns: bigint) => { clock.ticks += ns / NS_PER_TICK; wall.ns += ns; };
  return { device, clock, irq, wall, reg, set, time, setAlarm, elapse };
}

test('time is the wall clock at first look plus guest time since', () => {
  const { clock, wall, time } = rtc();
  clock.ticks = 50n; // 5 µs of guest time before the guest first reads the clock
  assert.equal(time(), wall.ns);
  clock.ticks += 10_000_000n; // one guest second
  wall.ns += 3_600_000_000_000n; // an hour of host time (the guest was paused for most of it)
  assert.equal(time(), 1_700_000_000_000_000_000n + 1_000_000_000n);
});

test('reading TIME_LOW latches TIME_HIGH', () => {
  const { clock, reg } = rtc(0xffff_ff00n);
  assert.equal(reg(TIME_LOW), 0xffff_ff00);
  clock.ticks = 10n; // +1000 ns: the high half of the time is now 1
  assert.equal(reg(TIME_HIGH), 0, 'the half latched by the last TIME_LOW read');
  assert.equal(reg(TIME_LOW), 0x2e8);
  assert.equal(reg(TIME_HIGH), 1);
});

test('the guest can set the time; it then runs on with guest time', () => {
  const { set, time, elapse } = rtc();
  set(TIME_HIGH, 0);
  set(TIME_LOW, 1000);
  assert.equal(time(), 1000n);
  elapse(500n);
  assert.equal(time(), 1500n);
});

test('the alarm fires at its time, once, when enabled; CLEAR_INTERRUPT lowers the line', () => {
  const { device, irq, reg, set, time, setAlarm, elapse } = rtc();
  setAlarm(time() + 1_000_000n);
  set(IRQ_ENABLED, 1);
  assert.equal(reg(ALARM_STATUS), 1);
  elapse(999_900n);
  device.poll();
  assert.equal(irq.level, false);
  elapse(100n);
  device.poll();
  assert.equal(irq.level, true);
  assert.equal(reg(ALARM_STATUS), 0);
  set(CLEAR_INTERRUPT, 1);
  assert.equal(irq.level, false);
  elapse(1_000_000n);
  device.poll();
  assert.equal(irq.level, false, 'a fired alarm does not fire again');
});

test('an alarm in the past fires on the ALARM_LOW write; IRQ_ENABLED gates the line', () => {
  const { irq, reg, set, time, setAlarm } = rtc();
  setAlarm(time() - 1n);
  assert.equal(reg(ALARM_STATUS), 0);
  assert.equal(irq.level, false, 'interrupt not enabled');
  set(IRQ_ENABLED, 1);
  assert.equal(irq.level, true, 'the pending interrupt reaches the line once enabled');
  set(IRQ_ENABLED, 0);
  assert.equal(irq.level, false);
});

test('CLEAR_ALARM disarms the alarm', () => {
  const { device, irq, reg, set, time, setAlarm, elapse } = rtc();
  set(IRQ_ENABLED, 1);
  setAlarm(time() + 10n);
  set(CLEAR_ALARM, 1);
  assert.equal(reg(ALARM_STATUS), 0);
  elapse(1000n);
  device.poll();
  assert.equal(irq.level, false);
});

test('save → reset → load: the clock continues from guest time and an armed alarm still fires', () => {
  const { device, irq, reg, wall, set, time, setAlarm, elapse } = rtc();
  set(IRQ_ENABLED, 1);
  const start = time();
  setAlarm(start + 2000n);
  elapse(1000n);
  const saved = throughJson(device.saveState());

  device.reset();
  assert.equal(reg(ALARM_STATUS), 0);
  device.loadState(saved);
  wall.ns += 86_400_000_000_000n; // restored a day later: the guest sees no jump
  assert.equal(time(), start + 1000n);
  assert.equal(reg(ALARM_STATUS), 1);
  elapse(1000n);
  device.poll();
  assert.equal(irq.level, true);
  assert.equal(reg(ALARM_HIGH) * 2 ** 32 + reg(ALARM_LOW), Number(start + 2000n));
});
