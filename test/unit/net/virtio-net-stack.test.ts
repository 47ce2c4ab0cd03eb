// End to end below the guest: frames a driver puts on virtio-net's transmit queue reach the
// user-mode stack, and its answers come back through the receive queue — DHCP, then a TCP
// connection to a loopback echo server, both through guest RAM and the virtio-mmio registers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NET_HEADER_BYTES, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF, VirtioNet } from '../../../engine/devices/virtio/net.ts';
import { VIRTIO_F_VERSION_1 } from '../../../engine/devices/virtio/virtio-device.ts';
import { NetStack } from '../../../engine/net/nat.ts';
import {
  BROADCAST_MAC, buildEthernet, buildTcp, buildUdp, ETHERTYPE_IPV4, parseIp, parseTcp, TcpFlag,
} from '../../../engine/net/frames.ts';
import { VirtioTestDriver, type TestQueue } from '../devices/virtio-driver.ts';
import { GATEWAY_MAC, GUEST_MAC, ipFor, udpTo } from './guest.ts';

const GATEWAY = parseIp('10.0.2.2');
const GUEST = parseIp('10.0.2.15');

class DriverSide {
  private readonly rx: TestQueue;
  private readonly tx: TestQueue;
  readonly driver: VirtioTestDriver;

  constructor(readonly stack: NetStack) {
    this.driver = new VirtioTestDriver(new VirtioNet(stack, { mac: '52:54:00:12:34:56' }));
    [this.rx, this.tx] = this.driver.start([64, 64], VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_MRG_RXBUF);
    for (let i = 0; i < 32; i++) this.rx.add([{ writable: 1526 }]);
    this.rx.notify();
  }

  send(frame: Uint8Array): void {
    this.tx.add([new Uint8Array(NET_HEADER_BYTES), frame]);
    this.tx.notify();
    this.tx.takeUsed();
  }

  /** The first received frame `parse` accepts within `timeoutMs`, polling the device as the machine loop does. */
  async waitFor<T>(parse: (frame: Uint8Array) => T | null, timeoutMs = 5000): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.driver.transport.poll();
      for (const { id, len } of this.rx.takeUsed()) {
        const bytes = this.rx.bytes(id, 0).subarray(0, len);
        this.rx.add([{ writable: 1526 }]); // give the ring its buffer back, as Linux refills
        this.rx.notify();
        assert.equal(bytes[10] | (bytes[11] << 8), 1, 'one buffer per frame');
        const parsed = parse(bytes.subarray(NET_HEADER_BYTES));
        if (parsed !== null) return parsed;
      }
      if (performance.now() > deadline) throw new Error('no frame');
      await sleep(2);
    }
  }
}

test('DHCP and a TCP echo through virtio-net queues and the stack', async () => {
  const server = createServer((socket) => socket.on('error', () => {}).pipe(socket)); // the guest ends with RST
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const stack = new NetStack({ allow: [{ address: '127.0.0.1', port }] });
  const side = new DriverSide(stack);

  const discover = new Uint8Array(300);
  discover.set([1, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef]);
  discover.set(GUEST_MAC, 28);
  discover.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255], 236);
  side.send(buildEthernet(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_IPV4, buildUdp(0, 0xffff_ffff, 68, 67, discover)));
  const offer = await side.waitFor(udpTo(68));
  assert.equal(new DataView(offer.payload.buffer, offer.payload.byteOffset).getUint32(16), GUEST, 'yiaddr');

  const ip = (flags: number, seq: number, ack: number, payload?: Uint8Array, mss?: number) => buildEthernet(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4,
    buildTcp({ src: GUEST, dst: GATEWAY, srcPort: 45000, dstPort: port, seq, ack, flags, window: 65535, mss, payload }));
  const tcp = (frame: Uint8Array) => {
    const packet = ipFor(frame);
    const seg = packet ? parseTcp(packet) : null;
    return seg?.dstPort === 45000 ? seg : null;
  };
  side.send(ip(TcpFlag.SYN, 7, 0, undefined, 1460));
  const synAck = await side.waitFor(tcp);
  assert.equal(synAck.flags, TcpFlag.SYN | TcpFlag.ACK);
  const ours = (synAck.seq + 1) >>> 0;
  side.send(ip(TcpFlag.ACK, 8, ours));
  side.send(ip(TcpFlag.ACK | TcpFlag.PSH, 8, ours, Buffer.from('through the rings')));
  const data = await side.waitFor((frame) => { const seg = tcp(frame); return seg?.payload.length ? seg : null; });
  assert.equal(Buffer.from(data.payload).toString(), 'through the rings');
  side.send(ip(TcpFlag.RST, 8 + 17, 0));
  stack.close();
  server.close();
});
