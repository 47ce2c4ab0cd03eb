// virtio-net (virtio 1.2, §5.1) through the virtio-mmio transport: configuration space (MAC,
// link status, MTU), transmit (header stripped, partial checksums completed, hostile chains
// dropped), receive (one buffer, or several with VIRTIO_NET_F_MRG_RXBUF; frames wait for
// buffers), the link flap and its configuration change interrupt, and saved state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MAX_FRAME, NET_HEADER_BYTES, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS, VirtioNet,
} from '../../../engine/devices/virtio/net.ts';
import { VIRTIO_F_VERSION_1 } from '../../../engine/devices/virtio/virtio-device.ts';
import { VirtioStatus } from '../../../engine/devices/virtio/mmio.ts';
import { VIRTQ_DESC_F_NEXT } from '../../../engine/devices/virtio/queue.ts';
import type { NetBackend } from '../../../engine/net/backend.ts';
import { buildUdp, checksum } from '../../../engine/net/frames.ts';
import { Reg, VirtioTestDriver } from './virtio-driver.ts';
import { throughJson } from './support.ts';

/** A back-end that records what the guest sent and hands the guest what a test queues. */
class FrameQueue implements NetBackend {
  readonly sent: Uint8Array[] = [];
  readonly toGuest: Uint8Array[] = [];
  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }
  receive(): Uint8Array | null {
    return this.toGuest.shift() ?? null;
  }
}

const MAC = '52:54:00:ab:cd:ef';
const header = (fields: Partial<{ flags: number; gso: number; start: number; offset: number }> = {}) => {
  const h = new Uint8Array(NET_HEADER_BYTES);
  const v = new DataView(h.buffer);
  h[0] = fields.flags ?? 0;
  h[1] = fields.gso ?? 0;
  v.setUint16(6, fields.start ?? 0, true);
  v.setUint16(8, fields.offset ?? 0, true);
  return h;
};
const frameOf = (length: number, seed = 1) => new Uint8Array(length).map((_, i) => (i * seed + 3) & 0xff);

function start(features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MTU, mtu?: number) {
  const backend = new FrameQueue();
  const device = new VirtioNet(backend, { mac: MAC, mtu });
  const driver = new VirtioTestDriver(device);
  const [rx, tx] = driver.start([16, 16], features);
  return { backend, device, driver, rx, tx };
}

test('configuration space: MAC, link up, MTU; the offered features', () => {
  const { driver } = start(VIRTIO_F_VERSION_1, 9000);
  assert.equal(driver.reg(Reg.DeviceId), 1);
  driver.set(Reg.DeviceFeaturesSel, 0);
  const low = BigInt(driver.reg(Reg.DeviceFeatures));
  for (const bit of [VIRTIO_NET_F_CSUM, VIRTIO_NET_F_MTU, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS]) {
    assert.ok(low & bit, `feature ${bit} offered`);
  }
  const config = [...Array(12)].map((_, i) => driver.transport.read(Reg.Config + i, 1));
  assert.deepEqual(config.slice(0, 6), [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
  assert.equal(driver.transport.read(Reg.Config + 6, 2), 1, 'VIRTIO_NET_S_LINK_UP');
  assert.equal(driver.transport.read(Reg.Config + 10, 2), 9000, 'mtu');
  assert.throws(() => new VirtioNet(new FrameQueue(), { mac: 'nope' }), RangeError);
  assert.throws(() => new VirtioNet(new FrameQueue(), { mac: '01:00:5e:00:00:01' }), RangeError);
  assert.throws(() => new VirtioNet(new FrameQueue(), { mac: MAC, mtu: 70_000 }), RangeError);
});

test('transmit: the frame without its header reaches the back-end, gathered from several buffers', () => {
  const { backend, tx } = start();
  const frame = frameOf(1514);
  const head = tx.add([header(), frame.subarray(0, 100), frame.subarray(100)]);
  tx.notify();
  assert.deepEqual(tx.takeUsed(), [{ id: head, len: 0 }]);
  assert.deepEqual(backend.sent, [frame]);
});

test('transmit: a partial checksum (NEEDS_CSUM) is completed when VIRTIO_NET_F_CSUM was negotiated', () => {
  const { backend, tx } = start(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_CSUM);
  // A UDP datagram whose checksum field holds the pseudo-header sum, as Linux leaves it.
  const packet = buildUdp(0x0a00_020f, 0x0a00_0202, 1234, 5678, Buffer.from('checksum me'));
  const frame = new Uint8Array(14 + packet.length);
  frame.set(packet, 14);
  frame[12] = 0x08;
  const expected = frame.slice();
  const udpAt = 14 + 20;
  const pseudo = new Uint8Array([10, 0, 2, 15, 10, 0, 2, 2, 0, 17, 0, packet.length - 20]);
  const partial = (~checksum(pseudo)) & 0xffff;
  frame[udpAt + 6] = partial >> 8;
  frame[udpAt + 7] = partial & 0xff;
  tx.add([header({ flags: 1, start: udpAt, offset: 6 }), frame]);
  tx.notify();
  assert.deepEqual(backend.sent, [expected]);
});

test('transmit: chains shorter than the header, longer than 65,550 bytes, GSO, or a checksum outside the frame are dropped', () => {
  const { backend, device, driver, tx } = start();
  tx.add([new Uint8Array(NET_HEADER_BYTES - 1)]);
  tx.add([header(), new Uint8Array(MAX_FRAME + 1)]);
  tx.add([header({ gso: 1 }), frameOf(100)]);
  tx.add([header({ flags: 1, start: 90, offset: 9 }), frameOf(100)]); // CSUM not negotiated
  tx.notify();
  assert.equal(tx.takeUsed().length, 4, 'every chain completed');
  assert.deepEqual(backend.sent, []);
  assert.equal(device.dropped.transmit, 4);
  // A descriptor pointing outside guest RAM: DEVICE_NEEDS_RESET, no host exception.
  tx.writeDescriptor(5, 0x10n, 64, 0);
  tx.publish(5);
  tx.notify();
  assert.ok(driver.status & VirtioStatus.NeedsReset);
  assert.deepEqual(backend.sent, []);
});

test('transmit: a chain looping through NEXT puts the device in NEEDS_RESET', () => {
  const { driver, tx } = start();
  const buffer = driver.place(header());
  tx.writeDescriptor(0, buffer.address, buffer.length, VIRTQ_DESC_F_NEXT, 1);
  tx.writeDescriptor(1, buffer.address, buffer.length, VIRTQ_DESC_F_NEXT, 0);
  tx.publish(0);
  tx.notify();
  assert.ok(driver.status & VirtioStatus.NeedsReset);
});

test('receive: one frame per buffer with num_buffers 1; frames wait for buffers', () => {
  const { backend, driver, rx } = start();
  const frames = [frameOf(60, 3), frameOf(1514, 5)];
  backend.toGuest.push(...frames);
  driver.transport.poll();
  assert.deepEqual(rx.takeUsed(), [], 'no buffers: nothing delivered');
  assert.equal(backend.toGuest.length, 1, 'the device holds one frame at most; the rest wait in the back-end');
  const heads = [rx.add([{ writable: 1526 }]), rx.add([{ writable: 1526 }])];
  rx.notify();
  const used = rx.takeUsed();
  assert.deepEqual(used, [{ id: heads[0], len: 72 }, { id: heads[1], len: 1526 }]);
  assert.ok(driver.acknowledge() & 1, 'used-buffer interrupt');
  frames.forEach((frame, i) => {
    const bytes = rx.bytes(heads[i], 0);
    assert.equal(bytes[10] | (bytes[11] << 8), 1, 'num_buffers');
    assert.deepEqual(bytes.subarray(NET_HEADER_BYTES, NET_HEADER_BYTES + frame.length), frame);
  });
});

test('receive: without MRG_RXBUF a too-small buffer goes back unused and the frame is dropped', () => {
  const { backend, device, rx } = start();
  backend.toGuest.push(frameOf(1000));
  const small = rx.add([{ writable: 500 }]);
  rx.notify();
  assert.deepEqual(rx.takeUsed(), [{ id: small, len: 0 }]);
  assert.equal(device.dropped.receive, 1);
  // A buffer too small for even the header is returned and the frame kept for the next buffer.
  backend.toGuest.push(frameOf(100));
  const tiny = rx.add([{ writable: 4 }]);
  rx.notify();
  assert.deepEqual(rx.takeUsed(), [{ id: tiny, len: 0 }]);
  const good = rx.add([{ writable: 200 }]);
  rx.notify();
  assert.deepEqual(rx.takeUsed(), [{ id: good, len: 112 }]);
});

test('receive: with MRG_RXBUF a frame spans buffers and num_buffers counts them', () => {
  const { backend, rx } = start(VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF);
  const frame = frameOf(1514, 7);
  const heads = [rx.add([{ writable: 600 }]), rx.add([{ writable: 600 }]), rx.add([{ writable: 600 }])];
  backend.toGuest.push(frame);
  rx.notify();
  assert.deepEqual(rx.takeUsed(), [{ id: heads[0], len: 600 }, { id: heads[1], len: 600 }, { id: heads[2], len: 326 }]);
  const joined = Buffer.concat([rx.bytes(heads[0], 0), rx.bytes(heads[1], 0), rx.bytes(heads[2], 0).subarray(0, 326)]);
  assert.equal(joined[10] | (joined[11] << 8), 3, 'num_buffers');
  assert.deepEqual(joined.subarray(NET_HEADER_BYTES), Buffer.from(frame));
});

test('flapLink: the link goes down with a configuration change interrupt, and comes back up at a later poll', async () => {
  const { device, driver } = start();
  const generation = driver.reg(Reg.ConfigGeneration);
  device.flapLink(30);
  driver.transport.poll();
  assert.ok(driver.acknowledge() & 2, 'configuration change interrupt');
  assert.equal(driver.transport.read(Reg.Config + 6, 2), 0, 'link down');
  assert.notEqual(driver.reg(Reg.ConfigGeneration), generation);
  driver.transport.poll();
  assert.equal(driver.acknowledge() & 2, 0, 'no second interrupt while down');
  await sleep(40);
  driver.transport.poll();
  assert.ok(driver.acknowledge() & 2, 'interrupt again');
  assert.equal(driver.transport.read(Reg.Config + 6, 2), 1, 'link up');
});

test('saved state round-trips through JSON with a held frame and the link state', () => {
  const a = start();
  a.backend.toGuest.push(frameOf(100, 9));
  a.rx.add([{ writable: 4 }]); // unusable: the frame is held
  a.rx.notify();
  a.device.setLink(false);
  a.driver.transport.poll();
  const state = throughJson(a.driver.transport.saveState());
  const b = start();
  b.rx.add([{ writable: 4 }]); // b's driver keeps its ring where a's was
  b.driver.transport.loadState(state);
  assert.equal(b.device.link, false);
  assert.deepEqual(throughJson(b.driver.transport.saveState()), state);
  b.device.setLink(true);
  const head = b.rx.add([{ writable: 200 }]);
  b.rx.notify();
  assert.deepEqual(b.rx.takeUsed().at(-1), { id: head, len: 112 });
  assert.deepEqual(b.rx.bytes(head, 0).subarray(NET_HEADER_BYTES, 112), frameOf(100, 9));
  assert.throws(() => b.device.loadState({ version: 1, linkUp: true, flapping: false, configGeneration: 0, heldFrame: [256] }));
});
