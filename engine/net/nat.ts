// The user-mode network behind a virtio-net device (engine/devices/virtio/net.ts): a virtual
// gateway that answers ARP, DHCP, DNS and ICMP echo, and NATs the guest's TCP and UDP flows to
// host sockets — QEMU's slirp and gvisor-tap-vsock in TypeScript on Node's net, dgram and dns.
// It is the device's NetBackend: the guest's frames come in through send(), frames for the
// guest wait in a bounded queue that the device drains with receive() while the guest has
// receive buffers posted (past the bound, frames are dropped, as a full NIC ring drops them).
//
// Every frame from the guest is untrusted: frames that do not parse (frames.ts), that are not
// for our MAC or broadcast, IPv4 fragments (never reassembled), packets from a source address
// other than the guest's (after DHCP; before it, only DHCP), and flows the policy refuses are
// dropped or, for TCP, answered with RST. The flow tables are capped: past maxTcpFlows a new
// SYN gets RST; past maxUdpFlows the least recently used UDP flow is closed for the new one.
import { answerDhcp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, parseDhcp } from './dhcp.ts';
import { DnsServer } from './dns.ts';
import {
  ARP_REPLY, ARP_REQUEST, BROADCAST_MAC, buildArp, buildEthernet, buildIcmp, buildIpv4, buildTcp, buildUdp,
  ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IP_PROTO_ICMP, IP_PROTO_TCP,
  IP_PROTO_UDP, parseArp, parseEthernet, parseIcmp, parseIpv4, parseMac, parseTcp, parseUdp, TcpFlag,
  type Ipv4Packet, type TcpSegment,
} from './frames.ts';
import { NetworkPolicy, type NetworkOptions } from './policy.ts';
import { DEFAULT_TCP_TIMINGS, TcpFlow, TcpState, type FlowOutput, type TcpTimings } from './tcp-flow.ts';
import { UdpFlow } from './udp-flow.ts';
import type { NetBackend } from './backend.ts';

export interface NetStackOptions extends NetworkOptions {
  /** The guest link's MTU, given by DHCP (option 26) and the device (VIRTIO_NET_F_MTU). Default 1500. */
  mtu?: number;
  /** Default: 86,400 s. */
  leaseSeconds?: number;
  /** The gateway's MAC. Default 52:55:0a:00:02:02 (slirp's). */
  gatewayMac?: string;
  /** Default 256. */
  maxTcpFlows?: number;
  /** Default 128. */
  maxUdpFlows?: number;
  /** Frames waiting for the guest at most. Default 1024. */
  maxQueuedFrames?: number;
  /** Called when a frame is queued for the guest into an empty queue: the device should look. */
  onFrames?: () => void;
  tcpTimings?: Partial<TcpTimings>;
  /** Resolvers for DNS queries other than A and AAAA ("address[:port]"). Default: the host's. */
  dnsUpstream?: string[];
}

const UDP_DNS_PORT = 53;
const MIN_MTU = 576; // RFC 791: every host takes datagrams of 576 bytes

export class NetStack implements NetBackend {
  readonly policy: NetworkPolicy;
  readonly mtu: number;
  private readonly gatewayMac: Uint8Array;
  /** The guest's MAC, from its frames; the broadcast address until one arrives. */
  private guestMac: Uint8Array = BROADCAST_MAC;
  private readonly queue: Uint8Array[] = [];
  private readonly tcp = new Map<string, TcpFlow>();
  private readonly udp = new Map<number, UdpFlow>();
  private readonly dns: DnsServer;
  private readonly timings: TcpTimings;
  private readonly toGuest: FlowOutput;
  private closed = false;
  /** Frames from the guest that were dropped, and frames for the guest dropped on a full queue. */
  readonly dropped = { fromGuest: 0, toGuest: 0 };

  constructor(private readonly options: NetStackOptions = {}) {
    this.policy = new NetworkPolicy(options);
    this.mtu = options.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < MIN_MTU || this.mtu > 65535) throw new RangeError(`MTU ${this.mtu} is not in ${MIN_MTU}..65535`);
    this.gatewayMac = parseMac(options.gatewayMac ?? '52:55:0a:00:02:02');
    this.timings = { ...DEFAULT_TCP_TIMINGS, ...options.tcpTimings };
    this.dns = new DnsServer({ upstream: options.dnsUpstream, maxAnswer: this.mtu - 28 });
    const stack = this;
    this.toGuest = {
      send: (packet) => this.queueIp(packet),
      get room() { return stack.maxQueued - stack.queue.length; },
    };
  }

  private get maxQueued(): number {
    return this.options.maxQueuedFrames ?? 1024;
  }

  /** Flow counts and the bytes their buffers hold (the memory bound the tests check). */
  get usage(): { tcpFlows: number; udpFlows: number; queuedFrames: number; bufferedBytes: number } {
    let bufferedBytes = this.queue.reduce((sum, frame) => sum + frame.length, 0);
    for (const flow of this.tcp.values()) bufferedBytes += flow.buffered.toGuest + flow.buffered.toHost;
    return { tcpFlows: this.tcp.size, udpFlows: this.udp.size, queuedFrames: this.queue.length, bufferedBytes };
  }

  /** The TCP flow from the guest's `guestPort` (tests look at its state and buffers). */
  tcpFlow(guestPort: number): TcpFlow | undefined {
    for (const flow of this.tcp.values()) if (flow.ends.guestPort === guestPort) return flow;
    return undefined;
  }

  /** NetBackend: the next frame for the guest. */
  receive(): Uint8Array | null {
    const frame = this.queue.shift() ?? null;
    // The queue drained to half: flows held back by a full queue may send again.
    if (frame && this.queue.length === this.maxQueued >> 1) for (const flow of this.tcp.values()) flow.pump();
    return frame;
  }

  /** NetBackend: a frame the guest sent. */
  send(frame: Uint8Array): void {
    if (this.closed || !this.handle(frame)) this.dropped.fromGuest++;
  }

  /** Closes every flow and host socket; later frames are dropped. */
  close(): void {
    this.closed = true;
    this.dns.close();
    for (const flow of [...this.tcp.values()]) flow.close();
    for (const flow of [...this.udp.values()]) flow.close();
    this.queue.length = 0;
  }

  /** Serves one guest frame; false when it was dropped. */
  private handle(frame: Uint8Array): boolean {
    const eth = parseEthernet(frame);
    if (!eth || eth.src[0] & 1) return false; // a multicast source address is never a NIC's
    if (!sameMac(eth.dst, this.gatewayMac) && !sameMac(eth.dst, BROADCAST_MAC)) return false;
    if (eth.type === ETHERTYPE_ARP) return this.arp(eth.payload, eth.src);
    if (eth.type !== ETHERTYPE_IPV4) return false;
    const ip = parseIpv4(eth.payload);
    if (!ip || ip.fragment) return false;
    const udp = ip.protocol === IP_PROTO_UDP ? parseUdp(ip) : null;
    // DHCP comes before the guest has its address (from 0.0.0.0); everything else from that address only.
    if (udp && udp.dstPort === DHCP_SERVER_PORT && udp.srcPort === DHCP_CLIENT_PORT) return this.dhcp(udp.payload, eth.src);
    if (ip.src !== this.policy.guest) return false;
    if (!sameMac(eth.src, this.guestMac)) this.guestMac = eth.src.slice();
    switch (ip.protocol) {
      case IP_PROTO_UDP: {
        if (!udp) return false;
        if (ip.dst !== this.policy.dns || udp.dstPort !== UDP_DNS_PORT) return this.udpOut(ip, udp.srcPort, udp.dstPort, udp.payload);
        const port = udp.srcPort;
        this.dns.handle(udp.payload, (answer) => {
          if (!this.closed) this.queueIp(buildUdp(this.policy.dns, this.policy.guest, UDP_DNS_PORT, port, answer));
        });
        return true;
      }
      case IP_PROTO_TCP: {
        const seg = parseTcp(ip);
        return seg ? this.tcpIn(ip, seg) : false;
      }
      case IP_PROTO_ICMP:
        return this.icmp(ip);
      default:
        return false;
    }
  }

  /** RFC 826: who has the gateway's or the DNS address? (Both are the gateway's MAC.) */
  private arp(payload: Uint8Array, from: Uint8Array): boolean {
    const arp = parseArp(payload);
    if (!arp || arp.op !== ARP_REQUEST) return false;
    if (arp.targetIp !== this.policy.gateway && arp.targetIp !== this.policy.dns) return false;
    const reply = buildArp({ op: ARP_REPLY, senderMac: this.gatewayMac, senderIp: arp.targetIp, targetMac: arp.senderMac, targetIp: arp.senderIp });
    this.queueFrame(buildEthernet(from, this.gatewayMac, ETHERTYPE_ARP, reply));
    return true;
  }

  private dhcp(payload: Uint8Array, from: Uint8Array): boolean {
    const request = parseDhcp(payload);
    const reply = request && answerDhcp(request, this.policy, { mtu: this.mtu, leaseSeconds: this.options.leaseSeconds ?? 86_400 });
    if (!reply) return false;
    if (!sameMac(from, this.guestMac)) this.guestMac = from.slice();
    const dst = reply.broadcast ? 0xffff_ffff : reply.to;
    const packet = buildUdp(this.policy.gateway, dst, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, reply.message);
    this.queueFrame(buildEthernet(reply.broadcast ? BROADCAST_MAC : request.chaddr, this.gatewayMac, ETHERTYPE_IPV4, packet));
    return true;
  }

  /** ICMP echo to the gateway's addresses (RFC 792); nothing else is forwarded. */
  private icmp(ip: Ipv4Packet): boolean {
    const message = parseIcmp(ip.payload);
    if (!message || message.type !== ICMP_ECHO_REQUEST || message.code !== 0) return false;
    if (ip.dst !== this.policy.gateway && ip.dst !== this.policy.dns) return false;
    this.queueIp(buildIpv4(ip.dst, ip.src, IP_PROTO_ICMP, buildIcmp(ICMP_ECHO_REPLY, 0, message.body)));
    return true;
  }

  private udpOut(ip: Ipv4Packet, srcPort: number, dstPort: number, payload: Uint8Array): boolean {
    const route = this.policy.route('udp', ip.dst, dstPort);
    if ('refused' in route) return false;
    let flow = this.udp.get(srcPort);
    if (flow) {
      this.udp.delete(srcPort); // re-inserted last: the map's order is least recently used first
    } else {
      if (this.udp.size >= (this.options.maxUdpFlows ?? 128)) this.udp.values().next().value!.close();
      flow = new UdpFlow(this.policy.guest, srcPort, this.mtu, this.toGuest, (closed) => {
        if (this.udp.get(closed.guestPort) === closed) this.udp.delete(closed.guestPort);
      });
    }
    this.udp.set(srcPort, flow);
    flow.send(route, ip.dst, dstPort, payload);
    return true;
  }

  private tcpIn(ip: Ipv4Packet, seg: TcpSegment): boolean {
    const key = `${seg.srcPort}>${ip.dst}:${seg.dstPort}`;
    const flow = this.tcp.get(key);
    // A new SYN on a connection in TIME-WAIT starts a new one (RFC 9293 §3.10.7.4, as hosts do).
    if (flow?.state === TcpState.TimeWait && (seg.flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) flow.close();
    else if (flow) {
      flow.receive(seg);
      return true;
    }
    // A new connection is a SYN alone (§3.10.7.2); any other segment without a flow gets RST.
    if ((seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST | TcpFlag.FIN)) !== TcpFlag.SYN) {
      this.refuseTcp(ip, seg);
      return false;
    }
    const route = this.policy.route('tcp', ip.dst, seg.dstPort);
    if ('refused' in route || this.tcp.size >= (this.options.maxTcpFlows ?? 256)) {
      this.refuseTcp(ip, seg);
      return false;
    }
    const ends = { guestIp: ip.src, guestPort: seg.srcPort, remoteIp: ip.dst, remotePort: seg.dstPort };
    this.tcp.set(key, new TcpFlow(ends, seg, route, this.mtu - 40, this.toGuest, this.timings, (closed) => {
      if (this.tcp.get(key) === closed) this.tcp.delete(key);
    }));
    return true;
  }

  /** RFC 9293 §3.10.7.1: the RST answering a segment that has no connection (never one for a RST). */
  private refuseTcp(ip: Ipv4Packet, seg: TcpSegment): void {
    if (seg.flags & TcpFlag.RST) return;
    const length = seg.payload.length + (seg.flags & TcpFlag.SYN ? 1 : 0) + (seg.flags & TcpFlag.FIN ? 1 : 0);
    const [seq, ack, flags] = seg.flags & TcpFlag.ACK
      ? [seg.ack, 0, TcpFlag.RST]
      : [0, (seg.seq + length) >>> 0, TcpFlag.RST | TcpFlag.ACK];
    this.queueIp(buildTcp({ src: ip.dst, dst: ip.src, srcPort: seg.dstPort, dstPort: seg.srcPort, seq, ack, flags, window: 0 }));
  }

  private queueIp(packet: Uint8Array): boolean {
    return this.queueFrame(buildEthernet(this.guestMac, this.gatewayMac, ETHERTYPE_IPV4, packet));
  }

  private queueFrame(frame: Uint8Array): boolean {
    if (this.closed || this.queue.length >= this.maxQueued || frame.length > this.mtu + ETH_HEADER) {
      this.dropped.toGuest++;
      return false;
    }
    this.queue.push(frame);
    if (this.queue.length === 1) this.options.onFrames?.();
    return true;
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
