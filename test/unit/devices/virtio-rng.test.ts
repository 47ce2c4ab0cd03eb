// virtio-rng (virtio 1.2, §5.4): every device-writable byte of a request is filled with random
// bytes, and the used length says how many.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioRng } from '../../../engine/devices/virtio/rng.ts';
import { VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../engine/devices/virtio/virtio-device.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../engine/devices/virtio/queue.ts';
import { VirtioTestDriver } from './virtio-driver.ts';
import { throughJson } from './support.ts';

/** 64 random bytes are all zero with probability 2^-512: a zero buffer means nothing was written. */
const filled = (bytes: Uint8Array) => bytes.some((b) => b !== 0);

test('writable buffers are filled with random bytes', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16]);
  const head = requestq.add([{ writable: 64 }, { writable: 64 }]);
  requestq.notify();
  assert.deepEqual(requestq.takeUsed(), [{ id: head, len: 128 }]);
  const [a, b] = [requestq.bytes(head, 0), requestq.bytes(head, 1)];
  assert.ok(filled(a) && filled(b));
  assert.notDeepEqual(a, b);
});

test('an indirect request is filled too', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16], VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
  const table = driver.allocate(32);
  const first = driver.place({ writable: 64 });
  const second = driver.place({ writable: 64 });
  requestq.writeDescriptor(0, first.address, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1, table);
  requestq.writeDescriptor(1, second.address, 64, VIRTQ_DESC_F_WRITE, 0, table);
  requestq.writeDescriptor(3, table, 32, VIRTQ_DESC_F_INDIRECT);
  requestq.publish(3);
  requestq.notify();
  assert.deepEqual(requestq.takeUsed(), [{ id: 3, len: 128 }]);
  assert.ok(filled(driver.memory.read(first.address, 64)) && filled(driver.memory.read(second.address, 64)));
});

test('a request without writable buffers is returned with length 0', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16]);
  const head = requestq.add([new Uint8Array(8)]);
  requestq.notify();
  assert.deepEqual(requestq.takeUsed(), [{ id: head, len: 0 }]);
});

test('save → reset → load: requests keep being served', () => {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([4]);
  for (let i = 0; i < 3; i++) requestq.add([{ writable: 64 }]);
  requestq.notify();
  assert.equal(requestq.takeUsed().length, 3);
  const saved = throughJson(driver.transport.saveState());
  driver.transport.reset();
  driver.transport.loadState(saved);
  const heads = [requestq.add([{ writable: 64 }]), requestq.add([{ writable: 64 }])];
  requestq.notify();
  assert.deepEqual(requestq.takeUsed(), heads.map((id) => ({ id, len: 64 })), 'the used ring wraps on from entry 3');
  assert.ok(filled(requestq.bytes(heads[1], 0)));
});
