// The guest side of the virtual network for unit tests: builds real frames from the guest's
// MAC and address into a NetStack, and takes the frames it sends back, parsed. GuestTcp is a
// hand-driven TCP endpoint, so tests choose every flag, sequence number and window.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildEthernet, buildTcp, ETHERTYPE_IPV4, IP_PROTO_TCP, IP_PROTO_UDP, parseEthernet, parseIpv4, parseMac, parseTcp,
  parseUdp, TcpFlag, type Ipv4Packet, type TcpSegment, type UdpDatagram,
} from '../../../engine/net/frames.ts';
import type { NetStack } from '../../../engine/net/nat.ts';

export const GATEWAY_MAC = parseMac('52:55:0a:00:02:02');
export const GUEST_MAC = parseMac('52:54:00:12:34:56');

export class TestGuest {
  private readonly inbox: Uint8Array[] = [];

  constructor(readonly stack: NetStack) {}

  get ip(): number {
    return this.stack.policy.guest;
  }

  sendFrame(frame: Uint8Array): void {
    this.stack.send(frame);
  }

  sendIp(packet: Uint8Array, dstMac = GATEWAY_MAC): void {
    this.stack.send(buildEthernet(dstMac, GUEST_MAC, ETHERTYPE_IPV4, packet));
  }

  /** The first frame (waiting or arriving within `timeoutMs`) that `parse` accepts; it is taken out. */
  async waitFor<T>(parse: (frame: Uint8Array) => T | null, timeoutMs = 5000, what = 'frame'): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (let frame; (frame = this.stack.receive());) this.inbox.push(frame);
      for (let i = 0; i < this.inbox.length; i++) {
        const parsed = parse(this.inbox[i]);
        if (parsed !== null) {
          this.inbox.splice(i, 1);
          return parsed;
        }
      }
      if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  /** Asserts that no frame `parse` accepts arrives within `ms`. */
  async nothing<T>(parse: (frame: Uint8Array) => T | null, ms: number, what = 'frame'): Promise<void> {
    const found = await this.waitFor(parse, ms).catch(() => null);
    assert.equal(found, null, `expected no ${what}`);
  }

  /** Frames for the guest, dropped (fuzz tests). */
  drain(): number {
    let n = this.inbox.length;
    this.inbox.length = 0;
    while (this.stack.receive()) n++;
    return n;
  }
}

/** An IPv4 packet to the guest's MAC, checked, or null. */
export function ipFor(frame: Uint8Array): Ipv4Packet | null {
  const eth = parseEthernet(frame);
  if (!eth || eth.type !== ETHERTYPE_IPV4) return null;
  return parseIpv4(eth.payload);
}

export function udpTo(port: number): (frame: Uint8Array) => (UdpDatagram & { ip: Ipv4Packet }) | null {
  return (frame) => {
    const ip = ipFor(frame);
    const udp = ip?.protocol === IP_PROTO_UDP ? parseUdp(ip) : null;
    return ip && udp && udp.dstPort === port ? { ...udp, ip } : null;
  };
}

export function tcpTo(port: number): (frame: Uint8Array) => (TcpSegment & { ip: Ipv4Packet }) | null {
  return (frame) => {
    const ip = ipFor(frame);
    const seg = ip?.protocol === IP_PROTO_TCP ? parseTcp(ip) : null;
    return ip && seg && seg.dstPort === port ? { ...seg, ip } : null;
  };
}

export class GuestTcp {
  /** Our next sequence number, and the next one we expect from the stack. */
  seq = 1000;
  ack = 0;
  window = 65535;

  constructor(readonly guest: TestGuest, readonly port: number, readonly dstIp: number, readonly dstPort: number) {}

  send(flags: number, payload?: Uint8Array, options: { seq?: number; mss?: number; window?: number } = {}): void {
    this.guest.sendIp(buildTcp({
      src: this.guest.ip, dst: this.dstIp, srcPort: this.port, dstPort: this.dstPort,
      seq: options.seq ?? this.seq, ack: flags & TcpFlag.ACK ? this.ack : 0, flags,
      window: options.window ?? this.window, mss: options.mss, payload,
    }));
  }

  next(timeoutMs = 5000): Promise<TcpSegment & { ip: Ipv4Packet }> {
    return this.guest.waitFor(tcpTo(this.port), timeoutMs, `TCP segment to port ${this.port}`);
  }

  /** SYN, the stack's SYN-ACK, our ACK. Returns the SYN-ACK. */
  async connect(mss = 1460): Promise<TcpSegment> {
    this.send(TcpFlag.SYN, undefined, { mss });
    const synAck = await this.next();
    assert.equal(synAck.flags, TcpFlag.SYN | TcpFlag.ACK, 'SYN-ACK');
    assert.equal(synAck.ack, this.seq + 1);
    this.seq += 1;
    this.ack = (synAck.seq + 1) >>> 0;
    this.send(TcpFlag.ACK);
    return synAck;
  }

  /** Sends data (one segment) and advances our sequence number. */
  write(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.send(TcpFlag.ACK | TcpFlag.PSH, bytes);
    this.seq = (this.seq + bytes.length) >>> 0;
  }

  /** Takes the stack's data segments in order, acknowledging each, until `length` bytes arrived. */
  async read(length: number, timeoutMs = 5000): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < length) {
      const seg = await this.next(timeoutMs);
      if (seg.payload.length === 0 || seg.seq !== this.ack) continue;
      parts.push(seg.payload);
      got += seg.payload.length;
      this.ack = (this.ack + seg.payload.length) >>> 0;
      this.send(TcpFlag.ACK);
    }
    return Buffer.concat(parts);
  }

  async untilFlags(flags: number, timeoutMs = 5000): Promise<TcpSegment> {
    for (;;) {
      const seg = await this.next(timeoutMs);
      if ((seg.flags & flags) === flags) return seg;
    }
  }
}
