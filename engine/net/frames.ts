// Wire formats of the frames the guest and the gateway exchange: Ethernet II, ARP (RFC 826),
// IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768), TCP (RFC 9293 §3.1), and the Internet checksum
// (RFC 1071). Parsers take untrusted bytes: every length is checked against the bytes present
// and every checksum verified; anything malformed parses to null. Builders compute checksums.
// IPv4 addresses are unsigned 32-bit numbers.

export const ETH_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
const IPV4_HEADER = 20;
const UDP_HEADER = 8;
const TCP_HEADER = 20;

export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** A dotted-quad IPv4 address as a number; throws RangeError for anything else. */
export function parseIp(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new RangeError(`"${text}" is not an IPv4 address`);
  }
  return parts.reduce((ip, p) => ip * 256 + Number(p), 0);
}

export const macToString = (mac: Uint8Array): string => [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** A MAC address written aa:bb:cc:dd:ee:ff; throws RangeError for anything else. */
export function parseMac(text: string): Uint8Array {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) throw new RangeError(`"${text}" is not a MAC address`);
  return Uint8Array.from(text.split(':'), (b) => parseInt(b, 16));
}

/** The ones'-complement sum of `bytes` folded into 16 bits (RFC 1071), continuing from `sum`. */
function sum16(bytes: Uint8Array, sum = 0): number {
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length & 1) sum += bytes[bytes.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum of `bytes` (0 when verifying bytes that carry a correct one). */
export function checksum(bytes: Uint8Array, initial = 0): number {
  return ~sum16(bytes, initial) & 0xffff;
}

/** The TCP/UDP pseudo-header sum (RFC 9293 §3.1, RFC 768). */
function pseudoSum(src: number, dst: number, protocol: number, length: number): number {
  return sum16(new Uint8Array(0), (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length);
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// ---- Ethernet ----

export interface EthernetFrame {
  dst: Uint8Array;
  src: Uint8Array;
  type: number;
  payload: Uint8Array;
}

export function parseEthernet(frame: Uint8Array): EthernetFrame | null {
  if (frame.length < ETH_HEADER) return null;
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    type: (frame[12] << 8) | frame[13],
    payload: frame.subarray(ETH_HEADER),
  };
}

export function buildEthernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETH_HEADER + payload.length);
  frame.set(dst, 0);
  frame.set(src, 6);
  frame[12] = type >> 8;
  frame[13] = type & 0xff;
  frame.set(payload, ETH_HEADER);
  return frame;
}

// ---- ARP (RFC 826), Ethernet/IPv4 only ----

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

export function parseArp(bytes: Uint8Array): ArpPacket | null {
  if (bytes.length < 28) return null;
  const v = view(bytes);
  // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4
  if (v.getUint16(0) !== 1 || v.getUint16(2) !== ETHERTYPE_IPV4 || bytes[4] !== 6 || bytes[5] !== 4) return null;
  return {
    op: v.getUint16(6),
    senderMac: bytes.slice(8, 14),
    senderIp: v.getUint32(14),
    targetMac: bytes.slice(18, 24),
    targetIp: v.getUint32(24),
  };
}

export function buildArp(p: ArpPacket): Uint8Array {
  const bytes = new Uint8Array(28);
  const v = view(bytes);
  v.setUint16(0, 1);
  v.setUint16(2, ETHERTYPE_IPV4);
  bytes[4] = 6;
  bytes[5] = 4;
  v.setUint16(6, p.op);
  bytes.set(p.senderMac, 8);
  v.setUint32(14, p.senderIp);
  bytes.set(p.targetMac, 18);
  v.setUint32(24, p.targetIp);
  return bytes;
}

// ---- IPv4 (RFC 791) ----

export interface Ipv4Packet {
  src: number;
  dst: number;
  protocol: number;
  /** More-fragments set or a non-zero fragment offset: this is a piece of a datagram. */
  fragment: boolean;
  payload: Uint8Array;
}

/** A checked IPv4 packet: version 4, header length and total length consistent, header checksum right. */
export function parseIpv4(bytes: Uint8Array): Ipv4Packet | null {
  if (bytes.length < IPV4_HEADER || bytes[0] >> 4 !== 4) return null;
  const headerLength = (bytes[0] & 0x0f) * 4;
  const v = view(bytes);
  const total = v.getUint16(2);
  // Ethernet pads short frames: the total length may be less than the bytes present, never more.
  if (headerLength < IPV4_HEADER || total < headerLength || total > bytes.length) return null;
  if (checksum(bytes.subarray(0, headerLength)) !== 0) return null;
  const fragmentField = v.getUint16(6);
  return {
    src: v.getUint32(12),
    dst: v.getUint32(16),
    protocol: bytes[9],
    fragment: (fragmentField & 0x2000) !== 0 || (fragmentField & 0x1fff) !== 0,
    payload: bytes.subarray(headerLength, total),
  };
}

let nextIpId = 1;

/** An IPv4 packet with a 20-byte header, DF set (we never fragment), TTL 64. */
export function buildIpv4(src: number, dst: number, protocol: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(IPV4_HEADER + payload.length);
  const v = view(bytes);
  bytes[0] = 0x45;
  v.setUint16(2, bytes.length);
  v.setUint16(4, nextIpId);
  nextIpId = (nextIpId + 1) & 0xffff;
  v.setUint16(6, 0x4000);
  bytes[8] = 64;
  bytes[9] = protocol;
  v.setUint32(12, src);
  v.setUint32(16, dst);
  v.setUint16(10, checksum(bytes.subarray(0, IPV4_HEADER)));
  bytes.set(payload, IPV4_HEADER);
  return bytes;
}

// ---- ICMP (RFC 792) ----

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;

export interface IcmpMessage {
  type: number;
  code: number;
  /** Bytes after the checksum: identifier, sequence and data for an echo. */
  body: Uint8Array;
}

export function parseIcmp(bytes: Uint8Array): IcmpMessage | null {
  if (bytes.length < 8 || checksum(bytes) !== 0) return null;
  return { type: bytes[0], code: bytes[1], body: bytes.subarray(4) };
}

export function buildIcmp(type: number, code: number, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + body.length);
  bytes[0] = type;
  bytes[1] = code;
  bytes.set(body, 4);
  view(bytes).setUint16(2, checksum(bytes));
  return bytes;
}

// ---- UDP (RFC 768) ----

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** A UDP datagram inside `ip`: its length field fits, and its checksum is right (or 0: none sent). */
export function parseUdp(ip: Ipv4Packet): UdpDatagram | null {
  const bytes = ip.payload;
  if (bytes.length < UDP_HEADER) return null;
  const v = view(bytes);
  const length = v.getUint16(4);
  if (length < UDP_HEADER || length > bytes.length) return null;
  const datagram = bytes.subarray(0, length);
  if (v.getUint16(6) !== 0 && checksum(datagram, pseudoSum(ip.src, ip.dst, IP_PROTO_UDP, length)) !== 0) return null;
  return { srcPort: v.getUint16(0), dstPort: v.getUint16(2), payload: datagram.subarray(UDP_HEADER) };
}

/** An IPv4 packet carrying a UDP datagram, checksummed. */
export function buildUdp(src: number, dst: number, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(UDP_HEADER + payload.length);
  const v = view(bytes);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, bytes.length);
  bytes.set(payload, UDP_HEADER);
  // A computed 0 is sent as 0xffff: 0 means "no checksum" (RFC 768).
  v.setUint16(6, checksum(bytes, pseudoSum(src, dst, IP_PROTO_UDP, bytes.length)) || 0xffff);
  return buildIpv4(src, dst, IP_PROTO_UDP, bytes);
}

// ---- TCP (RFC 9293 §3.1) ----

const TCP_OPTION_END = 0;
const TCP_OPTION_NOP = 1;
const TCP_OPTION_MSS = 2;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The MSS option (SYN segments), or null when absent. */
  mss: number | null;
  payload: Uint8Array;
}

/** A TCP segment inside `ip`: data offset within the bytes, checksum right, options well-formed enough. */
export function parseTcp(ip: Ipv4Packet): TcpSegment | null {
  const bytes = ip.payload;
  if (bytes.length < TCP_HEADER) return null;
  const offset = (bytes[12] >> 4) * 4;
  if (offset < TCP_HEADER || offset > bytes.length) return null;
  if (checksum(bytes, pseudoSum(ip.src, ip.dst, IP_PROTO_TCP, bytes.length)) !== 0) return null;
  const v = view(bytes);
  let mss: number | null = null;
  for (let at = TCP_HEADER; at < offset;) {
    const kind = bytes[at];
    if (kind === TCP_OPTION_END) break;
    if (kind === TCP_OPTION_NOP) { at++; continue; }
    const length = bytes[at + 1];
    if (at + 1 >= offset || length < 2 || at + length > offset) return null;
    if (kind === TCP_OPTION_MSS && length === 4) mss = v.getUint16(at + 2);
    at += length;
  }
  return {
    srcPort: v.getUint16(0),
    dstPort: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    flags: bytes[13] & 0x3f,
    window: v.getUint16(14),
    mss,
    payload: bytes.subarray(offset),
  };
}

export interface TcpSegmentToSend {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  payload?: Uint8Array;
}

/** An IPv4 packet carrying a TCP segment, checksummed. */
export function buildTcp(s: TcpSegmentToSend): Uint8Array {
  const optionBytes = s.mss === undefined ? 0 : 4;
  const payload = s.payload ?? new Uint8Array(0);
  const bytes = new Uint8Array(TCP_HEADER + optionBytes + payload.length);
  const v = view(bytes);
  v.setUint16(0, s.srcPort);
  v.setUint16(2, s.dstPort);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, s.ack >>> 0);
  bytes[12] = ((TCP_HEADER + optionBytes) / 4) << 4;
  bytes[13] = s.flags;
  v.setUint16(14, s.window);
  if (s.mss !== undefined) {
    bytes[20] = TCP_OPTION_MSS;
    bytes[21] = 4;
    v.setUint16(22, s.mss);
  }
  bytes.set(payload, TCP_HEADER + optionBytes);
  v.setUint16(16, checksum(bytes, pseudoSum(s.src, s.dst, IP_PROTO_TCP, bytes.length)));
  return buildIpv4(s.src, s.dst, IP_PROTO_TCP, bytes);
}
