// The gateway's DHCP server (RFC 2131, options RFC 2132): one lease, the guest address, for
// whichever client asks. DISCOVER gets an OFFER, a REQUEST for that address an ACK (a REQUEST
// for another address a NAK), INFORM an ACK without a lease; everything else is ignored.
// Replies carry what a client needs to come up (busybox udhcpc, systemd-networkd, dhclient):
// server identifier, lease time with T1/T2, subnet mask, router, DNS server, broadcast
// address and the interface MTU (option 26).
import type { NetworkPolicy } from './policy.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

const BOOTP_FIXED = 236;
const MAGIC_COOKIE = 0x6382_5363;
/** RFC 1542 §3.3: some clients drop BOOTP messages shorter than 300 bytes. */
const MIN_MESSAGE = 300;
const BROADCAST_FLAG = 0x8000;

export const enum DhcpType { Discover = 1, Offer = 2, Request = 3, Decline = 4, Ack = 5, Nak = 6, Release = 7, Inform = 8 }

const enum Option {
  Pad = 0, SubnetMask = 1, Router = 3, DnsServer = 6, InterfaceMtu = 26, BroadcastAddress = 28,
  RequestedIp = 50, LeaseTime = 51, MessageType = 53, ServerId = 54, RenewalTime = 58, RebindingTime = 59, End = 255,
}

export interface DhcpRequest {
  type: DhcpType;
  xid: number;
  flags: number;
  ciaddr: number;
  chaddr: Uint8Array;
  requestedIp: number | null;
  serverId: number | null;
}

/** A client's BOOTREQUEST (RFC 2131 §2, §3): Ethernet hardware, the magic cookie, a message type. */
export function parseDhcp(bytes: Uint8Array): DhcpRequest | null {
  if (bytes.length < BOOTP_FIXED + 4) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 1 || bytes[1] !== 1 || bytes[2] !== 6 || v.getUint32(BOOTP_FIXED) !== MAGIC_COOKIE) return null;
  const request: DhcpRequest = {
    type: 0 as DhcpType,
    xid: v.getUint32(4),
    flags: v.getUint16(10),
    ciaddr: v.getUint32(12),
    chaddr: bytes.slice(28, 34),
    requestedIp: null,
    serverId: null,
  };
  for (let at = BOOTP_FIXED + 4; at < bytes.length;) {
    const code = bytes[at];
    if (code === Option.End) break;
    if (code === Option.Pad) { at++; continue; }
    if (at + 1 >= bytes.length) return null;
    const length = bytes[at + 1];
    const data = at + 2;
    if (data + length > bytes.length) return null;
    if (code === Option.MessageType && length === 1) request.type = bytes[data] as DhcpType;
    if (code === Option.RequestedIp && length === 4) request.requestedIp = v.getUint32(data);
    if (code === Option.ServerId && length === 4) request.serverId = v.getUint32(data);
    at = data + length;
  }
  return request.type ? request : null;
}

export interface DhcpReply {
  message: Uint8Array;
  /** Send to 255.255.255.255 and the broadcast MAC (the client asked, or has no address yet to unicast to). */
  broadcast: boolean;
  /** The IP destination when unicast. */
  to: number;
}

export interface DhcpServerOptions {
  mtu: number;
  leaseSeconds: number;
}

/** The server's answer to `request`, or null when it sends none. */
export function answerDhcp(request: DhcpRequest, policy: NetworkPolicy, options: DhcpServerOptions): DhcpReply | null {
  switch (request.type) {
    case DhcpType.Discover:
      return reply(request, DhcpType.Offer, policy, options);
    case DhcpType.Request: {
      // §4.3.2: SELECTING names a server (another one: not for us); INIT-REBOOT asks for an
      // address (option 50); RENEWING/REBINDING have it in ciaddr.
      if (request.serverId !== null && request.serverId !== policy.gateway) return null;
      const wanted = request.requestedIp ?? request.ciaddr;
      return reply(request, wanted === policy.guest ? DhcpType.Ack : DhcpType.Nak, policy, options);
    }
    case DhcpType.Inform:
      return reply(request, DhcpType.Ack, policy, options, false);
    default:
      return null; // DECLINE, RELEASE: nothing to answer with a single fixed lease
  }
}

function reply(request: DhcpRequest, type: DhcpType, policy: NetworkPolicy, options: DhcpServerOptions, lease = true): DhcpReply {
  const message = new Uint8Array(MIN_MESSAGE + 64);
  const v = new DataView(message.buffer);
  message[0] = 2; // BOOTREPLY
  message[1] = 1;
  message[2] = 6;
  v.setUint32(4, request.xid);
  v.setUint16(10, request.flags & BROADCAST_FLAG);
  v.setUint32(12, request.ciaddr);
  if (type !== DhcpType.Nak && lease) v.setUint32(16, policy.guest); // yiaddr
  message.set(request.chaddr, 28);
  v.setUint32(BOOTP_FIXED, MAGIC_COOKIE);
  let at = BOOTP_FIXED + 4;
  const put = (code: number, data: number[]) => {
    message[at++] = code;
    message[at++] = data.length;
    message.set(data, at);
    at += data.length;
  };
  const u32 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  put(Option.MessageType, [type]);
  put(Option.ServerId, u32(policy.gateway));
  if (type !== DhcpType.Nak) {
    if (lease) {
      put(Option.LeaseTime, u32(options.leaseSeconds));
      put(Option.RenewalTime, u32(Math.floor(options.leaseSeconds / 2)));
      put(Option.RebindingTime, u32(Math.floor((options.leaseSeconds * 7) / 8)));
    }
    put(Option.SubnetMask, u32(policy.netmask));
    put(Option.Router, u32(policy.gateway));
    put(Option.DnsServer, u32(policy.dns));
    put(Option.BroadcastAddress, u32(policy.broadcast));
    put(Option.InterfaceMtu, [options.mtu >> 8, options.mtu & 255]);
  }
  message[at++] = Option.End;
  // §4.1: broadcast when the client asked to, or when a NAK must reach a client without an address.
  const broadcast = (request.flags & BROADCAST_FLAG) !== 0 || type === DhcpType.Nak;
  const to = request.ciaddr || policy.guest;
  return { message: message.subarray(0, Math.max(at, MIN_MESSAGE)), broadcast, to };
}
