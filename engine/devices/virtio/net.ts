// virtio-net, device ID 1 (virtio 1.2, §5.1): one receive and one transmit queue, connected to
// a NetBackend (engine/net: the user-mode stack). Linux's virtio_net makes it eth0.
//
//   queues: 0 receiveq1 (host → guest), 1 transmitq1 (guest → host); no control queue
//   features: VIRTIO_NET_F_CSUM (0: we complete the guest's partial checksums on transmit),
//     F_MTU (3), F_MAC (5), F_MRG_RXBUF (15: a frame may span several receive buffers),
//     F_STATUS (16: link status, with a configuration change interrupt when it changes)
//   config (§5.1.4, little-endian): 0x0 mac[6], 0x6 status u16 (LINK_UP 1),
//     0x8 max_virtqueue_pairs u16 (0: F_MQ not offered), 0xa mtu u16
//
// Every buffer starts with struct virtio_net_hdr (§5.1.6), 12 bytes under VIRTIO_F_VERSION_1
// (which the transport requires): flags u8, gso_type u8, hdr_len u16, gso_size u16,
// csum_start u16, csum_offset u16, num_buffers u16.
//
// The guest's buffers are untrusted. A transmitted chain shorter than the header, longer than
// the header and MAX_FRAME, asking for segmentation (no GSO feature is offered), or asking for
// a checksum outside the frame is dropped and completed; a receive buffer too small for the
// header (or, without F_MRG_RXBUF, for the frame) is returned unused and the frame dropped.
// The device holds at most one frame taken from the back-end (saved with it) until a receive
// buffer takes it; the rest wait in the back-end, which bounds its own queue.
import type { AccessWidth, DeviceState } from '../device.ts';
import { StateReader } from '../state.ts';
import type { DescriptorChain } from './queue.ts';
import { readConfigBytes, VirtioDeviceId, type VirtioDevice, type VirtioQueues } from './virtio-device.ts';
import type { NetBackend } from '../../net/backend.ts';
import { checksum, parseMac } from '../../net/frames.ts';

export const VIRTIO_NET_F_CSUM = 1n << 0n;
export const VIRTIO_NET_F_MTU = 1n << 3n;
export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_MRG_RXBUF = 1n << 15n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;

export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const NET_HEADER_BYTES = 12;
/** The largest frame taken from the guest (QEMU's limit: a 64 KiB IP packet and its headers). */
export const MAX_FRAME = 65550;

const RECEIVEQ = 0;
const TRANSMITQ = 1;
const QUEUE_SIZE = 256;
const CONFIG_SIZE = 12;
const MAX_MTU = 65535;
/** How long flapLink keeps the link down by default: long enough for the guest to see it. */
const FLAP_MS = 1000;

export interface VirtioNetOptions {
  /** The NIC's MAC address, aa:bb:cc:dd:ee:ff (vm.json names it). */
  mac: string;
  /** Offered with VIRTIO_NET_F_MTU. Default 1500. */
  mtu?: number;
}

export class VirtioNet implements VirtioDevice {
  readonly kind = 'virtio-net';
  readonly deviceId = VirtioDeviceId.Net;
  readonly features = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_MTU | VIRTIO_NET_F_MAC | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_STATUS;
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  /** Bumped when the link status changes (the transport interrupts the driver for it). */
  configGeneration = 0;
  private readonly mac: Uint8Array;
  private readonly mtu: number;
  private linkUp = true;
  /** performance.now() at which flapLink brings the link back up; null when no flap is under way. */
  private linkUpAt: number | null = null;
  /** A frame taken from the back-end that no receive buffer has taken yet. */
  private held: Uint8Array | null = null;
  /** Frames dropped, for logs and tests. */
  readonly dropped = { transmit: 0, receive: 0 };

  /** The back-end is a runtime handle: it is passed in, never saved. */
  constructor(private readonly backend: NetBackend, options: VirtioNetOptions) {
    this.mac = parseMac(options.mac);
    if (this.mac[0] & 1) throw new RangeError(`virtio-net MAC ${options.mac} is a multicast address`);
    this.mtu = options.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < 68 || this.mtu > MAX_MTU) throw new RangeError(`virtio-net MTU ${this.mtu} is not in 68..${MAX_MTU}`);
  }

  get link(): boolean {
    return this.linkUp;
  }

  /** Sets the link status the driver sees (VIRTIO_NET_F_STATUS); a change interrupts it. */
  setLink(up: boolean): void {
    this.linkUpAt = null;
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.configGeneration = (this.configGeneration + 1) >>> 0;
  }

  /**
   * Takes the link down and, `downMs` later (at a poll), up again: after a restore, so that the
   * guest's network manager sees a new carrier and its DHCP client renews the lease.
   */
  flapLink(downMs = FLAP_MS): void {
    this.setLink(false);
    this.linkUpAt = performance.now() + downMs;
  }

  readConfig(offset: number, width: AccessWidth): number {
    const config = new Uint8Array(CONFIG_SIZE);
    config.set(this.mac, 0);
    config[6] = this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    config[10] = this.mtu & 0xff;
    config[11] = this.mtu >> 8;
    return readConfigBytes(config, offset, width);
  }

  writeConfig(): void {} // §5.1.4.2: the driver does not write the MAC of a modern device

  onNotify(queue: number, queues: VirtioQueues): void {
    if (queue === TRANSMITQ) this.transmit(queues);
    else if (queue === RECEIVEQ) this.receive(queues);
  }

  poll(queues: VirtioQueues): void {
    if (this.linkUpAt !== null && performance.now() >= this.linkUpAt) this.setLink(true);
    this.receive(queues);
  }

  private transmit(queues: VirtioQueues): void {
    const transmitq = queues.queue(TRANSMITQ);
    if (!transmitq) return;
    let chain;
    while ((chain = transmitq.pop())) {
      const frame = this.linkUp ? this.transmitted(chain, queues.features) : null;
      transmitq.push(chain.head, 0);
      if (frame) this.backend.send(frame);
      else this.dropped.transmit++;
    }
  }

  /** The frame a transmit chain carries, its checksum completed, or null when it is dropped (§5.1.6.2). */
  private transmitted(chain: DescriptorChain, negotiated: bigint): Uint8Array | null {
    const length = chain.readableLength;
    if (length < NET_HEADER_BYTES || length > NET_HEADER_BYTES + MAX_FRAME) return null;
    const bytes = chain.read(length);
    const header = new DataView(bytes.buffer, 0, NET_HEADER_BYTES);
    const frame = bytes.subarray(NET_HEADER_BYTES);
    if (header.getUint8(1) !== VIRTIO_NET_HDR_GSO_NONE) return null;
    if (header.getUint8(0) & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      if (!(negotiated & VIRTIO_NET_F_CSUM)) return null;
      // The driver summed the pseudo-header into the field; the device sums from csum_start on
      // and stores the result at csum_start + csum_offset (§5.1.6.2).
      const start = header.getUint16(6, true);
      const at = start + header.getUint16(8, true);
      if (at + 2 > frame.length) return null;
      const sum = checksum(frame.subarray(start));
      frame[at] = sum >> 8;
      frame[at + 1] = sum & 0xff;
    }
    return frame;
  }

  /** Gives frames from the back-end to waiting receive buffers (§5.1.6.3, §5.1.6.4). */
  private receive(queues: VirtioQueues): void {
    const receiveq = queues.queue(RECEIVEQ);
    if (!receiveq || !this.linkUp) return;
    const mergeable = (queues.features & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
    for (;;) {
      this.held ??= this.backend.receive();
      if (!this.held) return;
      const first = receiveq.pop();
      if (!first) return;
      if (first.writableLength < NET_HEADER_BYTES) {
        receiveq.push(first.head, 0); // unusable: the frame waits for the next buffer
        continue;
      }
      const frame = this.held;
      this.held = null;
      const packet = new Uint8Array(NET_HEADER_BYTES + frame.length);
      packet.set(frame, NET_HEADER_BYTES);
      const chains = [first];
      let room = first.writableLength;
      while (mergeable && room < packet.length) {
        const next = receiveq.pop();
        if (!next) break;
        chains.push(next);
        room += next.writableLength;
      }
      if (room < packet.length) {
        // Too small (or the driver posted too little): the buffers go back unused, the frame is lost.
        for (const chain of chains) receiveq.push(chain.head, 0);
        this.dropped.receive++;
        continue;
      }
      packet[10] = chains.length & 0xff; // num_buffers (§5.1.6.4: 1 without F_MRG_RXBUF)
      packet[11] = chains.length >> 8;
      let written = 0;
      for (const chain of chains) {
        const n = chain.write(packet.subarray(written));
        receiveq.push(chain.head, n);
        written += n;
      }
    }
  }

  /** The link is the cable, not device state: it stays as it is. A held frame is dropped. */
  reset(): void {
    this.held = null;
  }

  saveState(): DeviceState {
    return {
      version: 1,
      linkUp: this.linkUp,
      flapping: this.linkUpAt !== null,
      configGeneration: this.configGeneration,
      heldFrame: [...(this.held ?? [])],
    };
  }

  loadState(state: DeviceState): void {
    const s = StateReader.open(state, this.kind, 1);
    this.linkUp = s.bool('linkUp');
    this.linkUpAt = s.bool('flapping') ? performance.now() + FLAP_MS : null;
    this.configGeneration = s.uint('configGeneration');
    const held = s.bytes('heldFrame', MAX_FRAME);
    this.held = held.length ? held : null;
  }
}
