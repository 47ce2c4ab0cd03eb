// virtio-blk, device ID 2 (virtio 1.2, §5.2), over any BlockDevice (engine/storage): raw or
// qcow2 images. One request queue; requests complete before onNotify returns.
//
//   config (§5.2.4, little-endian):
//     0x00 capacity u64 (512-byte sectors)   0x24 max_discard_sectors u32
//     0x08 size_max u32                      0x28 max_discard_seg u32
//     0x0c seg_max u32                       0x2c discard_sector_alignment u32
//     0x10 geometry (not offered: 0)         0x30 max_write_zeroes_sectors u32
//     0x14 blk_size u32                      0x34 max_write_zeroes_seg u32
//     0x18 topology (not offered: 0)         0x38 write_zeroes_may_unmap u8
//     0x20 writeback u8, 0x22 num_queues u16 (CONFIG_WCE and MQ not offered: 0)
//
//   request (§5.2.6): device-readable header { type u32, reserved u32, sector u64 }, then data
//   (readable for OUT, DISCARD, WRITE_ZEROES; writable for IN, GET_ID), then one writable
//   status byte: OK 0, IOERR 1, UNSUPP 2.
//
// Every request is checked before anything is read or written: its layout (header, status
// byte, data a whole number of sectors, at most seg_max × size_max bytes of it, so that one
// request's work is bounded whatever lengths its descriptors claim), its sectors against the capacity, discard and write
// zeroes segments (count, flags, sizes), writes against a read-only disk. A bad request gets
// IOERR or UNSUPP as §5.2.6.2 says; an error of the image itself gets IOERR. Nothing the guest
// sends makes the device throw.
import type { AccessWidth, DeviceState } from '../device.ts';
import { StateReader } from '../state.ts';
import type { DescriptorChain } from './queue.ts';
import { readConfigBytes, VirtioDeviceId, type VirtioDevice, type VirtioQueues } from './virtio-device.ts';
import type { BlockDevice } from '../../storage/block-device.ts';

export const VIRTIO_BLK_F_SIZE_MAX = 1n << 1n;
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;
export const VIRTIO_BLK_F_DISCARD = 1n << 13n;
export const VIRTIO_BLK_F_WRITE_ZEROES = 1n << 14n;

export const enum BlkRequest { In = 0, Out = 1, Flush = 4, GetId = 8, Discard = 11, WriteZeroes = 13 }
export const enum BlkStatus { Ok = 0, IoErr = 1, Unsupp = 2 }

const REQUESTQ = 0;
const QUEUE_SIZE = 256;
const SECTOR = 512;
const HEADER_BYTES = 16;
const SEGMENT_BYTES = 16;
const SEGMENT_FLAG_UNMAP = 1;
/** As QEMU: the largest request its block layer takes, in sectors (2 GiB - 512). */
const MAX_ZERO_SECTORS = 0x3f_ffff;
const MAX_SEGMENTS = 16;
/** seg_max: data buffers per request (the header and status take two descriptors of the ring). */
const SEG_MAX = QUEUE_SIZE - 2;
/** size_max: the largest data buffer (Linux splits its requests' segments at this size). */
const SIZE_MAX = 128 * 1024;
/** A request's data at most (31.75 MiB); a bigger one breaks size_max and gets IOERR. */
export const MAX_DATA_BYTES = SEG_MAX * SIZE_MAX;
const ID_BYTES = 20;
const CONFIG_SIZE = 0x3c;

export interface VirtioBlkOptions {
  /** The device ID string GET_ID returns (at most 20 ASCII bytes; Linux shows it as the disk's serial). */
  serial?: string;
}

export class VirtioBlk implements VirtioDevice {
  readonly kind = 'virtio-blk';
  readonly deviceId = VirtioDeviceId.Block;
  readonly features: bigint;
  readonly queueSizes = [QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly capacity: bigint;
  private readonly id: Uint8Array;
  /** The last error the image reported (shown to the guest as IOERR), for logs and tests. */
  lastError: string | null = null;

  /** The disk is a runtime handle: it is passed in, never saved. */
  constructor(private disk: BlockDevice, options: VirtioBlkOptions = {}) {
    this.features = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
      VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES | (disk.readOnly ? VIRTIO_BLK_F_RO : 0n);
    this.capacity = BigInt(Math.floor(disk.size / SECTOR));
    const serial = Buffer.from(options.serial ?? '', 'latin1');
    if (serial.length > ID_BYTES) throw new RangeError(`virtio-blk serial "${options.serial}" is longer than ${ID_BYTES} bytes`);
    this.id = new Uint8Array(ID_BYTES);
    this.id.set(serial);
    const view = new DataView(this.config.buffer);
    view.setBigUint64(0x00, this.capacity, true);
    view.setUint32(0x08, SIZE_MAX, true);
    view.setUint32(0x0c, SEG_MAX, true);
    view.setUint32(0x14, SECTOR, true);
    view.setUint32(0x24, MAX_ZERO_SECTORS, true);
    view.setUint32(0x28, MAX_SEGMENTS, true);
    view.setUint32(0x2c, 1, true);
    view.setUint32(0x30, MAX_ZERO_SECTORS, true);
    view.setUint32(0x34, MAX_SEGMENTS, true);
    this.config[0x38] = 1; // write zeroes may deallocate (qcow2 does)
  }

  /**
   * Serves `disk` from now on instead of the current image (a live snapshot's new overlay on the
   * image it had open): the guest sees the same disk, so it must have the same size and
   * writability. The caller flushes and closes the old image.
   */
  replaceDisk(disk: BlockDevice): void {
    if (disk.size !== this.disk.size || disk.readOnly !== this.disk.readOnly) {
      throw new RangeError(`virtio-blk: ${disk.path} (${disk.size} bytes${disk.readOnly ? ', read-only' : ''}) cannot replace ${this.disk.path} (${this.disk.size} bytes${this.disk.readOnly ? ', read-only' : ''})`);
    }
    this.disk = disk;
  }

  readConfig(offset: number, width: AccessWidth): number {
    return readConfigBytes(this.config, offset, width);
  }

  writeConfig(): void {} // nothing is writable without VIRTIO_BLK_F_CONFIG_WCE

  onNotify(queue: number, queues: VirtioQueues): void {
    const requestq = queue === REQUESTQ ? queues.queue(REQUESTQ) : null;
    if (!requestq) return;
    let chain;
    while ((chain = requestq.pop())) requestq.push(chain.head, this.handle(chain, queues.features));
  }

  /** Serves one request; returns the bytes written into the driver's buffers (data and status). */
  private handle(chain: DescriptorChain, negotiated: bigint): number {
    const writable = chain.writableViews();
    const statusView = lastByte(writable);
    // Without a header and a status byte there is nothing to answer with; complete it empty.
    if (!statusView || chain.readableLength < HEADER_BYTES) return 0;
    const header = new DataView(chain.read(HEADER_BYTES).buffer);
    const type = header.getUint32(0, true);
    const sector = header.getBigUint64(8, true);
    const dataIn = chain.writableLength - 1;
    let written = 0;
    let status: BlkStatus;
    try {
      switch (type) {
        case BlkRequest.In:
          status = dataIn > MAX_DATA_BYTES ? BlkStatus.IoErr : this.checkRange(sector, dataIn);
          if (status === BlkStatus.Ok) {
            let offset = Number(sector) * SECTOR;
            for (const view of chain.writableRange(0, dataIn)) {
              this.disk.read(offset, view);
              offset += view.length;
            }
            written = dataIn;
          }
          break;
        case BlkRequest.Out: {
          const dataOut = chain.readableLength - HEADER_BYTES;
          status = this.disk.readOnly || dataOut > MAX_DATA_BYTES ? BlkStatus.IoErr : this.checkRange(sector, dataOut);
          if (status === BlkStatus.Ok) {
            let offset = Number(sector) * SECTOR;
            for (const view of chain.readableRange(HEADER_BYTES, dataOut)) {
              this.disk.write(offset, view);
              offset += view.length;
            }
          }
          break;
        }
        case BlkRequest.Flush:
          this.disk.flush();
          status = BlkStatus.Ok;
          break;
        case BlkRequest.GetId:
          written = chain.write(this.id.subarray(0, Math.min(ID_BYTES, dataIn)));
          status = BlkStatus.Ok;
          break;
        case BlkRequest.Discard:
        case BlkRequest.WriteZeroes:
          status = this.zeroRanges(type, chain, negotiated);
          break;
        default:
          status = BlkStatus.Unsupp;
      }
    } catch (error) {
      // The image failed (damaged metadata, host I/O error): the guest sees an I/O error.
      this.lastError = error instanceof Error ? error.message : String(error);
      status = BlkStatus.IoErr;
      written = 0;
    }
    statusView[0] = status;
    return written + 1;
  }

  /** IOERR unless [sector, sector + bytes) is a whole number of sectors inside the disk. */
  private checkRange(sector: bigint, bytes: number): BlkStatus {
    if (bytes % SECTOR !== 0 || sector + BigInt(bytes / SECTOR) > this.capacity) return BlkStatus.IoErr;
    return BlkStatus.Ok;
  }

  /** DISCARD and WRITE_ZEROES: every segment is checked before any is carried out. */
  private zeroRanges(type: BlkRequest, chain: DescriptorChain, negotiated: bigint): BlkStatus {
    const feature = type === BlkRequest.Discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
    if (!(negotiated & feature)) return BlkStatus.Unsupp;
    const payload = chain.readableLength - HEADER_BYTES;
    if (payload === 0 || payload % SEGMENT_BYTES !== 0 || payload > MAX_SEGMENTS * SEGMENT_BYTES) return BlkStatus.IoErr;
    const segments = new DataView(chain.read(HEADER_BYTES + payload).buffer, HEADER_BYTES);
    const ranges: Array<[number, number]> = [];
    for (let at = 0; at < payload; at += SEGMENT_BYTES) {
      const sector = segments.getBigUint64(at, true);
      const count = segments.getUint32(at + 8, true);
      const flags = segments.getUint32(at + 12, true);
      if (flags & ~SEGMENT_FLAG_UNMAP || (type === BlkRequest.Discard && flags & SEGMENT_FLAG_UNMAP)) return BlkStatus.Unsupp;
      if (count > MAX_ZERO_SECTORS || this.checkRange(sector, count * SECTOR) !== BlkStatus.Ok) return BlkStatus.IoErr;
      ranges.push([Number(sector) * SECTOR, count * SECTOR]);
    }
    if (this.disk.readOnly) return BlkStatus.IoErr;
    for (const [offset, length] of ranges) {
      if (type === BlkRequest.Discard) this.disk.discard(offset, length);
      else this.disk.writeZeroes(offset, length);
    }
    return BlkStatus.Ok;
  }

  reset(): void {} // no request outlives onNotify

  saveState(): DeviceState {
    return { version: 1 };
  }

  loadState(state: DeviceState): void {
    StateReader.open(state, this.kind, 1);
  }
}

/** The final byte of the last non-empty buffer (the status byte), or null. */
function lastByte(views: Uint8Array[]): Uint8Array | null {
  for (let i = views.length - 1; i >= 0; i--) if (views[i]!.length) return views[i]!.subarray(views[i]!.length - 1);
  return null;
}
