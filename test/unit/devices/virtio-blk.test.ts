// virtio-blk (virtio 1.2, §5.2) driven through the virtio-mmio transport with a driver-side
// queue in guest RAM, over real raw and qcow2 images: config space, every request type, and
// the status a malformed or hostile request gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, openSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BlkRequest, BlkStatus, MAX_DATA_BYTES, VirtioBlk, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_WRITE_ZEROES,
} from '../../../engine/devices/virtio/blk.ts';
import { VIRTIO_F_VERSION_1 } from '../../../engine/devices/virtio/virtio-device.ts';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../engine/devices/virtio/queue.ts';
import { DRAM_BASE } from '../../../engine/cpu/layout.ts';
import { VirtioStatus } from '../../../engine/devices/virtio/mmio.ts';
import { createQcow2, openDisk, type BlockDevice } from '../../../engine/storage/index.ts';
import { RAM_BYTES, Reg, VirtioTestDriver, type Buffer as Part, type TestQueue } from './virtio-driver.ts';
import { throughJson } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-virtio-blk-'));
let serial = 0;
const ALL = VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES | VIRTIO_BLK_F_FLUSH;

/** A raw disk of `sectors` sectors whose sector i is filled with byte i & 0xff. */
function rawDisk(sectors = 64, readOnly = false): { disk: BlockDevice; path: string } {
  const path = join(dir, `${serial++}.raw`);
  const bytes = new Uint8Array(sectors * 512);
  for (let i = 0; i < sectors; i++) bytes.fill(i & 0xff, i * 512, i * 512 + 512);
  writeFileSync(path, bytes);
  return { disk: openDisk(path, { readOnly }), path };
}

function header(type: number, sector: bigint | number): Uint8Array {
  const h = new DataView(new ArrayBuffer(16));
  h.setUint32(0, type, true);
  h.setBigUint64(8, BigInt(sector), true);
  return new Uint8Array(h.buffer);
}

function segment(sector: number | bigint, count: number, flags = 0): Uint8Array {
  const s = new DataView(new ArrayBuffer(16));
  s.setBigUint64(0, BigInt(sector), true);
  s.setUint32(8, count, true);
  s.setUint32(12, flags, true);
  return new Uint8Array(s.buffer);
}

function start(disk: BlockDevice, features = ALL, options = {}): { driver: VirtioTestDriver; queue: TestQueue } {
  const driver = new VirtioTestDriver(new VirtioBlk(disk, options));
  const [queue] = driver.start([16], features);
  return { driver, queue: queue! };
}

/** Sends one request; returns its used length and status byte (the last byte of the last buffer). */
function send(queue: TestQueue, parts: Part[]): { len: number; status: number; head: number } {
  const head = queue.add(parts);
  queue.notify();
  const used = queue.takeUsed();
  assert.equal(used.length, 1);
  assert.equal(used[0]!.id, head);
  const last = queue.bytes(head, parts.length - 1);
  return { len: used[0]!.len, status: last[last.length - 1]!, head };
}

test('config space and features: capacity, size_max, seg_max, blk_size, discard and write-zeroes limits; RO for read-only disks', () => {
  const { driver } = start(rawDisk(100).disk);
  assert.equal(driver.reg(Reg.DeviceId), 2);
  driver.set(Reg.DeviceFeaturesSel, 0);
  const low = BigInt(driver.reg(Reg.DeviceFeatures));
  const offered = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
  assert.equal(low & 0xff_ffffn, offered);
  const config = (offset: number) => driver.reg(Reg.Config + offset);
  assert.deepEqual([config(0x00), config(0x04)], [100, 0], 'capacity: 100 sectors');
  assert.equal(config(0x08), 128 * 1024, 'size_max');
  assert.equal(config(0x0c), 254, 'seg_max');
  assert.equal(config(0x14), 512, 'blk_size');
  assert.deepEqual([config(0x24), config(0x28), config(0x2c)], [0x3f_ffff, 16, 1], 'discard limits');
  assert.deepEqual([config(0x30), config(0x34), config(0x38) & 0xff], [0x3f_ffff, 16, 1], 'write zeroes limits, may unmap');

  const readOnly = start(rawDisk(8, true).disk).driver;
  readOnly.set(Reg.DeviceFeaturesSel, 0);
  assert.equal(BigInt(readOnly.reg(Reg.DeviceFeatures)) & VIRTIO_BLK_F_RO, VIRTIO_BLK_F_RO);
});

test('OUT then IN: data scattered over several descriptors, header and data sharing one', () => {
  const { disk, path } = rawDisk();
  const { queue } = start(disk);
  const data = new Uint8Array(1024).map((_, i) => (i * 13) & 0xff);
  const out = send(queue, [header(BlkRequest.Out, 3), data.subarray(0, 100), data.subarray(100), { writable: 1 }]);
  assert.deepEqual([out.len, out.status], [1, BlkStatus.Ok], 'only the status byte is written');
  assert.deepEqual(readFileSync(path).subarray(3 * 512, 5 * 512), Buffer.from(data));

  const merged = new Uint8Array(16 + 512);
  merged.set(header(BlkRequest.Out, 10));
  merged.fill(0xee, 16);
  assert.equal(send(queue, [merged, { writable: 1 }]).status, BlkStatus.Ok);
  assert.ok(readFileSync(path).subarray(10 * 512, 11 * 512).every((b) => b === 0xee));

  // IN with the data split 700 + (324 + status) so the status byte shares the last buffer.
  const read = send(queue, [header(BlkRequest.In, 3), { writable: 700 }, { writable: 325 }]);
  assert.deepEqual([read.len, read.status], [1025, BlkStatus.Ok], 'data and status byte');
  const back = new Uint8Array(1024);
  back.set(queue.bytes(read.head, 1));
  back.set(queue.bytes(read.head, 2).subarray(0, 324), 700);
  assert.deepEqual(back, data);
});

test('a qcow2 disk behind the device; FLUSH makes writes durable; GET_ID returns the serial', () => {
  const path = join(dir, 'disk.qcow2');
  createQcow2(path, 1 << 20);
  const { queue } = start(openDisk(path), ALL, { serial: 'hangar-0001' });
  assert.equal(send(queue, [header(BlkRequest.Out, 128), new Uint8Array(4096).fill(7), { writable: 1 }]).status, BlkStatus.Ok);
  assert.equal(send(queue, [header(BlkRequest.Flush, 0), { writable: 1 }]).status, BlkStatus.Ok);
  const copy = openDisk(path, { readOnly: true });
  const back = new Uint8Array(4096);
  copy.read(128 * 512, back);
  copy.close();
  assert.ok(back.every((b) => b === 7), 'another opener sees the flushed write');

  const id = send(queue, [header(BlkRequest.GetId, 0), { writable: 21 }]);
  assert.deepEqual([id.len, id.status], [21, BlkStatus.Ok]);
  assert.equal(Buffer.from(queue.bytes(id.head, 1).subarray(0, 20)).toString('latin1'), 'hangar-0001\0\0\0\0\0\0\0\0\0');
  assert.throws(() => new VirtioBlk(rawDisk().disk, { serial: 'x'.repeat(21) }), /longer than 20 bytes/);
});

test('DISCARD and WRITE_ZEROES zero their segments; bad segments get UNSUPP or IOERR and change nothing', () => {
  const { disk, path } = rawDisk(64);
  const { queue } = start(disk);
  const sectorByte = (i: number) => readFileSync(path)[i * 512];
  assert.equal(send(queue, [header(BlkRequest.WriteZeroes, 0), segment(2, 2), segment(10, 1, 1), { writable: 1 }]).status, BlkStatus.Ok);
  assert.deepEqual([1, 2, 3, 4, 9, 10, 11].map(sectorByte), [1, 0, 0, 4, 9, 0, 11]);
  assert.equal(send(queue, [header(BlkRequest.Discard, 0), segment(20, 3), { writable: 1 }]).status, BlkStatus.Ok);
  assert.deepEqual([20, 22, 23].map(sectorByte), [0, 0, 23]);

  const before = readFileSync(path);
  const bad: Array<[Uint8Array[], BlkStatus, string]> = [
    [[header(BlkRequest.Discard, 0), segment(30, 1, 1)], BlkStatus.Unsupp, 'unmap flag on a discard'],
    [[header(BlkRequest.WriteZeroes, 0), segment(30, 1, 2)], BlkStatus.Unsupp, 'unknown flag'],
    [[header(BlkRequest.WriteZeroes, 0), segment(30, 1), segment(63, 2)], BlkStatus.IoErr, 'second segment past the end: the first is not applied'],
    [[header(BlkRequest.WriteZeroes, 0), segment(2n ** 63n, 1)], BlkStatus.IoErr, 'sector far past the end'],
    [[header(BlkRequest.WriteZeroes, 0), segment(0, 0x40_0000)], BlkStatus.IoErr, 'more sectors than max_write_zeroes_sectors'],
    [[header(BlkRequest.WriteZeroes, 0), new Uint8Array(17)], BlkStatus.IoErr, 'payload not a whole number of segments'],
    [[header(BlkRequest.WriteZeroes, 0)], BlkStatus.IoErr, 'no segment'],
    [[header(BlkRequest.Discard, 0), Buffer.concat(Array.from({ length: 17 }, () => segment(30, 1)))], BlkStatus.IoErr, 'more than max_discard_seg segments'],
  ];
  for (const [parts, status, why] of bad) assert.equal(send(queue, [...parts, { writable: 1 }]).status, status, why);
  assert.deepEqual(readFileSync(path), before, 'nothing written by the refused requests');

  const plain = start(rawDisk().disk, VIRTIO_F_VERSION_1).queue;
  assert.equal(send(plain, [header(BlkRequest.Discard, 0), segment(1, 1), { writable: 1 }]).status, BlkStatus.Unsupp, 'feature not negotiated');
});

test('malformed and hostile requests: IOERR or UNSUPP, never a throw, nothing written', () => {
  const { disk, path } = rawDisk(64);
  const { driver, queue } = start(disk);
  const before = readFileSync(path);
  const cases: Array<[Part[], BlkStatus, string]> = [
    [[header(BlkRequest.In, 64), { writable: 513 }], BlkStatus.IoErr, 'read past the last sector'],
    [[header(BlkRequest.In, 63), { writable: 1025 }], BlkStatus.IoErr, 'read running past the end'],
    [[header(BlkRequest.In, 2n ** 64n - 1n), { writable: 513 }], BlkStatus.IoErr, 'sector that wraps around'],
    [[header(BlkRequest.In, 0), { writable: 100 }], BlkStatus.IoErr, 'read of a partial sector'],
    [[header(BlkRequest.Out, 64), new Uint8Array(512), { writable: 1 }], BlkStatus.IoErr, 'write past the end'],
    [[header(BlkRequest.Out, 0), new Uint8Array(300), { writable: 1 }], BlkStatus.IoErr, 'write of a partial sector'],
    [[header(99, 0), { writable: 1 }], BlkStatus.Unsupp, 'unknown request type'],
    [[header(2, 0), { writable: 1 }], BlkStatus.Unsupp, 'legacy SCSI command'],
  ];
  for (const [parts, status, why] of cases) {
    const result = send(queue, parts);
    assert.equal(result.status, status, why);
    assert.equal(result.len, 1, `${why}: only the status byte`);
  }
  // No status byte, or a header shorter than 16 bytes: completed empty, the device stays live.
  assert.equal(send(queue, [header(BlkRequest.In, 0), new Uint8Array(512)]).len, 0);
  assert.equal(send(queue, [new Uint8Array(8), { writable: 1 }]).len, 0);
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
  assert.deepEqual(readFileSync(path), before);

  const { disk: roDisk, path: roPath } = rawDisk(8, true);
  const ro = start(roDisk).queue;
  assert.equal(send(ro, [header(BlkRequest.Out, 0), new Uint8Array(512), { writable: 1 }]).status, BlkStatus.IoErr);
  assert.equal(send(ro, [header(BlkRequest.WriteZeroes, 0), segment(0, 1), { writable: 1 }]).status, BlkStatus.IoErr);
  assert.equal(send(ro, [header(BlkRequest.Flush, 0), { writable: 1 }]).status, BlkStatus.Ok);
  assert.equal(readFileSync(roPath)[0], 0);
  assert.equal(readFileSync(roPath)[512], 1);
});

test('a damaged image gives IOERR for the requests it cannot serve, and the device stays live', () => {
  const path = join(dir, 'damaged.qcow2');
  createQcow2(path, 1 << 20);
  const setup = openDisk(path);
  setup.write(0, new Uint8Array(65536).fill(5));
  setup.close();
  // L2 entry of guest cluster 1 → far beyond the end of the file.
  const fd = openSync(path, 'r+');
  const entry = Buffer.alloc(8);
  entry.writeBigUInt64BE((1n << 63n) | 0x7000_0000n);
  writeSync(fd, entry, 0, 8, 0x40000 + 8);
  closeSync(fd);
  const device = new VirtioBlk(openDisk(path));
  const driver = new VirtioTestDriver(device);
  const [queue] = driver.start([16], ALL);
  assert.equal(send(queue!, [header(BlkRequest.In, 128), { writable: 513 }]).status, BlkStatus.IoErr);
  assert.match(device.lastError ?? '', /guest offset 0x10000 points at 0x70000000, beyond the end of the file/);
  const fine = send(queue!, [header(BlkRequest.In, 0), { writable: 513 }]);
  assert.equal(fine.status, BlkStatus.Ok);
  assert.equal(queue!.bytes(fine.head, 1)[0], 5);
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
});

test('save → reset → load: requests keep being served', () => {
  const { disk } = rawDisk();
  const { driver, queue } = start(disk);
  assert.equal(send(queue, [header(BlkRequest.In, 1), { writable: 513 }]).status, BlkStatus.Ok);
  const saved = throughJson(driver.transport.saveState());
  driver.transport.reset();
  driver.transport.loadState(saved);
  const again = send(queue, [header(BlkRequest.In, 2), { writable: 513 }]);
  assert.equal(again.status, BlkStatus.Ok);
  assert.equal(queue.bytes(again.head, 1)[0], 2);
});

test('replaceDisk: the same queue serves the new image from the next request; an image of another size or writability is refused', () => {
  const device = new VirtioBlk(rawDisk(64).disk);
  const driver = new VirtioTestDriver(device);
  const [queue] = driver.start([16], ALL) as [TestQueue];
  assert.equal(queue.bytes(send(queue, [header(BlkRequest.In, 3), { writable: 513 }]).head, 1)[0], 3);
  const second = rawDisk(64);
  writeFileSync(second.path, new Uint8Array(64 * 512).fill(0xee));
  assert.throws(() => device.replaceDisk(rawDisk(32).disk), /cannot replace/);
  assert.throws(() => device.replaceDisk(rawDisk(64, true).disk), /cannot replace/);
  device.replaceDisk(openDisk(second.path, { readOnly: false }));
  const after = send(queue, [header(BlkRequest.In, 3), { writable: 513 }]);
  assert.equal(after.status, BlkStatus.Ok);
  assert.equal(queue.bytes(after.head, 1)[0], 0xee);
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
});

test('a request of more data than seg_max × size_max (31.75 MiB) gets IOERR and moves nothing', () => {
  // A sparse 64 MiB disk whose first 4 MiB are 0xaa: the request fits the disk, only the bound refuses it.
  const path = join(dir, `${serial++}.raw`);
  writeFileSync(path, new Uint8Array(RAM_BYTES).fill(0xaa));
  truncateSync(path, 64 << 20);
  const { driver, queue } = start(openDisk(path, {}));
  const readHeader = driver.place(header(BlkRequest.In, 0));
  const status = driver.allocate(1);
  // Nine writable descriptors that each cover all of RAM (4 MiB): 36 MiB of data, then the status.
  queue.writeDescriptor(0, readHeader.address, 16, VIRTQ_DESC_F_NEXT, 1);
  for (let i = 1; i <= 9; i++) queue.writeDescriptor(i, BigInt(DRAM_BASE), RAM_BYTES, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, i + 1);
  queue.writeDescriptor(10, status, 1, VIRTQ_DESC_F_WRITE);
  queue.publish(0);
  queue.notify();
  assert.ok(9 * RAM_BYTES > MAX_DATA_BYTES);
  assert.deepEqual(queue.takeUsed(), [{ id: 0, len: 1 }]);
  assert.equal(driver.memory.read(status, 1)[0], BlkStatus.IoErr);
  assert.ok(driver.memory.read(BigInt(DRAM_BASE + RAM_BYTES / 2), 4096).every((b) => b === 0), 'nothing read into RAM');
});
