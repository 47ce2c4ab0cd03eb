// The SiFive test finisher's commands (QEMU's sifive_test.c): PASS, FAIL with a code, RESET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SifiveTest } from '../../../engine/devices/sifive-test.ts';
import { BusError } from '../../../engine/devices/device.ts';
import { throughJson } from './support.ts';

function finisher() {
  const events: string[] = [];
  const device = new SifiveTest({
    powerOff: (status) => events.push(`off ${status}`),
    reset: () => events.push('reset'),
  });
  return { device, events };
}

test('0x5555 powers off with 0, 0x3333 with the code in bits 31..16, 0x7777 resets', () => {
  const { device, events } = finisher();
  device.write(0, 4, 0x5555);
  device.write(0, 4, (42 << 16) | 0x3333);
  device.write(0, 4, 0x7777);
  device.write(0, 2, 0x5555);
  assert.deepEqual(events, ['off 0', 'off 42', 'reset', 'off 0']);
});

test('other values and offsets do nothing; reads are 0; byte accesses fault', () => {
  const { device, events } = finisher();
  device.write(0, 4, 0x1234);
  device.write(4, 4, 0x5555);
  assert.deepEqual(events, []);
  assert.equal(device.read(0, 4), 0);
  assert.throws(() => device.write(0, 1, 0x55), BusError);
});

test('save → reset → load: the finisher still powers off', () => {
  const { device, events } = finisher();
  const saved = throughJson(device.saveState());
  device.reset();
  device.loadState(saved);
  device.write(0, 4, 0x5555);
  assert.deepEqual(events, ['off 0']);
  assert.throws(() => device.loadState({ version: 2 }), /unsupported saved state version 2/);
});
