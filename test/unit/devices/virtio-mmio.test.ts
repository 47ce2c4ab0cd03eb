// The virtio-mmio v2 transport's registers (virtio 1.2, §4.2.2) and the device initialisation
// of §3.1.1: identification, feature negotiation, queue setup, interrupts, reset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioStatus } from '../../../engine/devices/virtio/mmio.ts';
import { VirtioConsole } from '../../../engine/devices/virtio/console.ts';
import { VirtioRng } from '../../../engine/devices/virtio/rng.ts';
import {
  VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
} from '../../../engine/devices/virtio/virtio-device.ts';
import { VIRTQ_AVAIL_F_NO_INTERRUPT } from '../../../engine/devices/virtio/queue.ts';
import { Reg, VirtioTestDriver } from './virtio-driver.ts';
import { TestConsole, throughJson } from './support.ts';

const text = (s: string) => new TextEncoder().encode(s);

test('identification registers: magic, version 2, device and vendor ids', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  assert.equal(driver.reg(Reg.MagicValue), 0x74726976);
  assert.equal(driver.reg(Reg.Version), 2);
  assert.equal(driver.reg(Reg.DeviceId), 4);
  assert.equal(driver.reg(Reg.VendorId), 0x554d4551);
  assert.equal(new VirtioTestDriver(new VirtioConsole(new TestConsole())).reg(Reg.DeviceId), 3);
});

test('an empty slot reads DeviceID 0 and ignores writes', () => {
  const driver = new VirtioTestDriver(null);
  assert.equal(driver.reg(Reg.MagicValue), 0x74726976);
  assert.equal(driver.reg(Reg.Version), 2);
  assert.equal(driver.reg(Reg.DeviceId), 0);
  driver.set(Reg.Status, VirtioStatus.Acknowledge);
  assert.equal(driver.status, 0);
  assert.equal(driver.reg(Reg.QueueNumMax), 0);
});

test('device features: the device type\'s bits plus VERSION_1, INDIRECT_DESC and EVENT_IDX', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const word = (sel: number) => { driver.set(Reg.DeviceFeaturesSel, sel); return BigInt(driver.reg(Reg.DeviceFeatures)); };
  const offered = word(0) | (word(1) << 32n);
  assert.equal(offered, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX);
  assert.equal(word(2), 0n);
});

test('FEATURES_OK sticks only for offered features that include VERSION_1', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  assert.equal(driver.negotiate(0n), false, 'a legacy driver (no VERSION_1) is refused');
  assert.equal(driver.negotiate(VIRTIO_F_VERSION_1 | (1n << 5n)), false, 'bit 5 was not offered');
  assert.equal(driver.negotiate(VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX), true);
  driver.set(Reg.DriverFeaturesSel, 1);
  driver.set(Reg.DriverFeatures, 0);
  driver.set(Reg.Status, driver.status | VirtioStatus.DriverOk);
  assert.equal(driver.status & VirtioStatus.FeaturesOk, VirtioStatus.FeaturesOk, 'features are fixed after FEATURES_OK');
});

test('queue registers: QueueNumMax per queue, none beyond the device\'s queues', () => {
  const driver = new VirtioTestDriver(new VirtioConsole(new TestConsole()));
  driver.set(Reg.QueueSel, 1);
  assert.equal(driver.reg(Reg.QueueNumMax), 128);
  assert.equal(driver.reg(Reg.QueueReady), 0);
  driver.set(Reg.QueueSel, 2);
  assert.equal(driver.reg(Reg.QueueNumMax), 0);
  driver.set(Reg.QueueReady, 1);
  assert.equal(driver.reg(Reg.QueueReady), 0);
});

test('a queue size that is not a power of two, or a ring outside RAM, sets NEEDS_RESET', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  driver.negotiate(VIRTIO_F_VERSION_1);
  driver.setupQueue(0, 48);
  assert.equal(driver.reg(Reg.QueueReady), 0);
  assert.equal(driver.status & VirtioStatus.NeedsReset, VirtioStatus.NeedsReset);
  assert.equal(driver.reg(Reg.InterruptStatus), 2, 'a configuration change interrupt');
  assert.equal(driver.irq.level, true);

  driver.set(Reg.Status, 0);
  assert.equal(driver.status, 0);
  assert.equal(driver.irq.level, false);
  driver.negotiate(VIRTIO_F_VERSION_1);
  driver.set(Reg.QueueSel, 0);
  driver.set(Reg.QueueNum, 64);
  driver.writeAddress(Reg.QueueDescLow, 0x1000n); // below DRAM
  driver.writeAddress(Reg.QueueDriverLow, 0x8000_0000n);
  driver.writeAddress(Reg.QueueDeviceLow, 0x8000_1000n);
  driver.set(Reg.QueueReady, 1);
  assert.equal(driver.reg(Reg.QueueReady), 0);
  assert.match(driver.transport.failure ?? '', /descriptor table/);
});

test('used buffers raise the interrupt; InterruptACK lowers it', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16]);
  requestq.add([{ writable: 8 }]);
  requestq.notify();
  assert.equal(driver.irq.level, true);
  assert.equal(driver.acknowledge(), 1);
  assert.equal(driver.irq.level, false);
  assert.equal(driver.reg(Reg.InterruptStatus), 0);
});

test('VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the used-buffer interrupt', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16]);
  requestq.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
  requestq.add([{ writable: 8 }]);
  requestq.notify();
  assert.deepEqual(requestq.takeUsed().map((e) => e.len), [8]);
  assert.equal(driver.irq.level, false);
});

test('with EVENT_IDX, used_event says when to interrupt and avail_event follows the device', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16], VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
  requestq.setUsedEvent(1); // interrupt once used.idx passes 1, i.e. after the second buffer
  requestq.add([{ writable: 4 }]);
  requestq.notify();
  assert.equal(requestq.usedIdx(), 1);
  assert.equal(driver.irq.level, false);
  assert.equal(requestq.availEvent(), 1, 'the device asks to hear about request 1 next');
  requestq.add([{ writable: 4 }]);
  requestq.notify();
  assert.equal(requestq.usedIdx(), 2);
  assert.equal(driver.irq.level, true);
});

test('notifications before DRIVER_OK are not processed', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  driver.negotiate(VIRTIO_F_VERSION_1);
  const requestq = driver.setupQueue(0, 16);
  requestq.add([{ writable: 4 }]);
  requestq.notify();
  assert.equal(requestq.usedIdx(), 0);
  driver.set(Reg.Status, driver.status | VirtioStatus.DriverOk);
  requestq.notify();
  assert.equal(requestq.usedIdx(), 1);
});

test('a status write of 0 resets queues, features and interrupts', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16]);
  requestq.add([{ writable: 4 }]);
  requestq.notify();
  driver.set(Reg.Status, 0);
  assert.equal(driver.status, 0);
  assert.equal(driver.reg(Reg.InterruptStatus), 0);
  assert.equal(driver.irq.level, false);
  driver.set(Reg.QueueSel, 0);
  assert.equal(driver.reg(Reg.QueueReady), 0);
  assert.equal(driver.reg(Reg.QueueDescLow), 0);
});

test('config space: the console\'s 12 bytes read 0; beyond it reads 0', () => {
  const driver = new VirtioTestDriver(new VirtioConsole(new TestConsole()));
  assert.equal(driver.transport.read(Reg.Config, 2), 0);
  assert.equal(driver.transport.read(Reg.Config + 4, 4), 0);
  assert.equal(driver.transport.read(Reg.Config + 12, 4), 0);
  assert.equal(driver.reg(Reg.ConfigGeneration), 0);
});

test('save → reset → load: live queues continue where they were', () => {
  const console = new TestConsole();
  const driver = new VirtioTestDriver(new VirtioConsole(console));
  const [, transmitq] = driver.start([8, 8], VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
  for (const word of ['one ', 'two ', 'three ']) {
    transmitq.add([text(word)]);
    transmitq.notify();
  }
  assert.equal(console.take(), 'one two three ');
  assert.equal(driver.acknowledge(), 1);
  const saved = throughJson(driver.transport.saveState());

  driver.transport.reset();
  assert.equal(driver.status, 0);
  driver.transport.loadState(saved);
  assert.equal(driver.status & VirtioStatus.DriverOk, VirtioStatus.DriverOk);
  driver.set(Reg.QueueSel, 1);
  assert.equal(driver.reg(Reg.QueueReady), 1);
  transmitq.takeUsed();
  transmitq.setUsedEvent(3);
  const head = transmitq.add([text('four')]);
  transmitq.notify();
  assert.equal(console.take(), 'four');
  assert.deepEqual(transmitq.takeUsed(), [{ id: head, len: 0 }]);
  assert.equal(transmitq.usedIdx(), 4, 'the used index carries on from 3');
  assert.equal(driver.irq.level, true);
});

test('the state of an empty slot loads into a device there: reset, waiting for the guest\'s next boot', () => {
  const empty = new VirtioTestDriver(null);
  const rng = new VirtioTestDriver(new VirtioRng());
  rng.transport.loadState(throughJson(empty.transport.saveState()));
  assert.equal(rng.reg(Reg.DeviceId), 4);
  assert.equal(rng.status, 0);
  assert.throws(() => empty.transport.loadState(throughJson(rng.transport.saveState())), /device 4/);
});

test('a saved state of another device type, or with a ring outside RAM, is refused', () => {
  const rng = new VirtioTestDriver(new VirtioRng());
  const consoleDriver = new VirtioTestDriver(new VirtioConsole(new TestConsole()));
  assert.throws(() => consoleDriver.transport.loadState(rng.transport.saveState()), /device 4/);
  rng.start([16]);
  const state = throughJson(rng.transport.saveState());
  (state.queues as { descAddr: string }[])[0].descAddr = '4096';
  assert.throws(() => rng.transport.loadState(state), /saved queue 0/);
});
