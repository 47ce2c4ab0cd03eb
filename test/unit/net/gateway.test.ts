// The virtual gateway's own services, from real frames: ARP (RFC 826), DHCP (RFC 2131/2132,
// checked byte by byte as a client such as busybox udhcpc reads them), DNS through the host's
// resolver (RFC 1035), ICMP echo (RFC 792), and the checksums every frame carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import { NetStack } from '../../../engine/net/nat.ts';
import {
  ARP_REPLY, ARP_REQUEST, BROADCAST_MAC, buildArp, buildEthernet, buildIcmp, buildIpv4, buildUdp, checksum,
  ETHERTYPE_ARP, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, IP_PROTO_ICMP, parseArp, parseEthernet, parseIcmp, parseIp,
} from '../../../engine/net/frames.ts';
import { parseDnsQuery } from '../../../engine/net/dns.ts';
import { GATEWAY_MAC, GUEST_MAC, ipFor, TestGuest, udpTo } from './guest.ts';

const GATEWAY = parseIp('10.0.2.2');
const DNS = parseIp('10.0.2.3');
const GUEST = parseIp('10.0.2.15');

test('the Internet checksum is RFC 1071 §3\'s example', () => {
  assert.equal(checksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)), 0x220d);
  assert.equal(checksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x22, 0x0d)), 0);
});

test('ARP: who-has 10.0.2.2 and 10.0.2.3 get the gateway MAC; other addresses get nothing', async () => {
  const stack = new NetStack();
  const guest = new TestGuest(stack);
  const arpReply = (frame: Uint8Array) => {
    const eth = parseEthernet(frame);
    return eth && eth.type === ETHERTYPE_ARP ? { eth, arp: parseArp(eth.payload)! } : null;
  };
  for (const target of [GATEWAY, DNS]) {
    guest.sendFrame(buildEthernet(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP,
      buildArp({ op: ARP_REQUEST, senderMac: GUEST_MAC, senderIp: GUEST, targetMac: new Uint8Array(6), targetIp: target })));
    const { eth, arp } = await guest.waitFor(arpReply);
    assert.deepEqual([...eth.dst], [...GUEST_MAC]);
    assert.deepEqual([...eth.src], [...GATEWAY_MAC]);
    assert.equal(arp.op, ARP_REPLY);
    assert.deepEqual([...arp.senderMac], [...GATEWAY_MAC]);
    assert.equal(arp.senderIp, target);
    assert.deepEqual([...arp.targetMac], [...GUEST_MAC]);
    assert.equal(arp.targetIp, GUEST);
  }
  guest.sendFrame(buildEthernet(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP,
    buildArp({ op: ARP_REQUEST, senderMac: GUEST_MAC, senderIp: GUEST, targetMac: new Uint8Array(6), targetIp: parseIp('10.0.2.99') })));
  await guest.nothing(arpReply, 50, 'ARP reply for 10.0.2.99');
  stack.close();
});

/** A BOOTREQUEST as udhcpc sends it: chaddr, the magic cookie, message type and options. */
function dhcpRequest(type: number, options: number[] = [], flags = 0, ciaddr = 0): Uint8Array {
  const message = new Uint8Array(300);
  const v = new DataView(message.buffer);
  message.set([1, 1, 6, 0]);
  v.setUint32(4, 0x1234_5678);
  v.setUint16(10, flags);
  v.setUint32(12, ciaddr);
  message.set(GUEST_MAC, 28);
  v.setUint32(236, 0x6382_5363);
  message.set([53, 1, type, 55, 4, 1, 3, 6, 26, ...options, 255], 240);
  return buildEthernet(BROADCAST_MAC, GUEST_MAC, 0x0800, buildUdp(0, 0xffff_ffff, 68, 67, message));
}

/** The options of a DHCP reply: code → bytes. */
function dhcpOptions(message: Uint8Array): Map<number, number[]> {
  const options = new Map<number, number[]>();
  for (let at = 240; message[at] !== 255;) {
    if (message[at] === 0) { at++; continue; }
    options.set(message[at], [...message.subarray(at + 2, at + 2 + message[at + 1])]);
    at += 2 + message[at + 1];
  }
  return options;
}

test('DHCP: DISCOVER gets an OFFER and REQUEST an ACK a client accepts; another address gets a NAK', async () => {
  const stack = new NetStack({ mtu: 1400, leaseSeconds: 3600 });
  const guest = new TestGuest(stack);
  const reply = async () => {
    const udp = await guest.waitFor(udpTo(68));
    assert.equal(udp.srcPort, 67);
    assert.equal(udp.ip.src, GATEWAY);
    return { message: udp.payload, ip: udp.ip };
  };
  guest.sendFrame(dhcpRequest(1));
  const offer = await reply();
  const v = new DataView(offer.message.buffer, offer.message.byteOffset);
  assert.ok(offer.message.length >= 300, 'at least the 300 bytes of a BOOTP message');
  assert.deepEqual([offer.message[0], offer.message[1], offer.message[2]], [2, 1, 6]); // BOOTREPLY, Ethernet
  assert.equal(v.getUint32(4), 0x1234_5678, 'xid echoed');
  assert.equal(v.getUint32(16), GUEST, 'yiaddr');
  assert.deepEqual([...offer.message.subarray(28, 34)], [...GUEST_MAC], 'chaddr');
  assert.equal(v.getUint32(236), 0x6382_5363, 'magic cookie');
  assert.equal(offer.ip.dst, GUEST, 'unicast to yiaddr (no broadcast flag)');
  const options = dhcpOptions(offer.message);
  assert.deepEqual(options.get(53), [2], 'OFFER');
  assert.deepEqual(options.get(54), [10, 0, 2, 2], 'server identifier');
  assert.deepEqual(options.get(51), [0, 0, 0x0e, 0x10], 'lease 3600 s');
  assert.deepEqual(options.get(58), [0, 0, 0x07, 0x08], 'T1 1800 s');
  assert.deepEqual(options.get(59), [0, 0, 0x0c, 0x4e], 'T2 3150 s');
  assert.deepEqual(options.get(1), [255, 255, 255, 0], 'subnet mask');
  assert.deepEqual(options.get(3), [10, 0, 2, 2], 'router');
  assert.deepEqual(options.get(6), [10, 0, 2, 3], 'DNS server');
  assert.deepEqual(options.get(28), [10, 0, 2, 255], 'broadcast address');
  assert.deepEqual(options.get(26), [0x05, 0x78], 'MTU 1400');

  guest.sendFrame(dhcpRequest(3, [50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 2]));
  const ack = await reply();
  assert.deepEqual(dhcpOptions(ack.message).get(53), [5], 'ACK');
  assert.equal(new DataView(ack.message.buffer, ack.message.byteOffset).getUint32(16), GUEST);

  // RENEWING: ciaddr set, no option 50: ACK again, sent to ciaddr.
  guest.sendFrame(dhcpRequest(3, [], 0, GUEST));
  assert.deepEqual(dhcpOptions((await reply()).message).get(53), [5]);

  guest.sendFrame(dhcpRequest(3, [50, 4, 10, 0, 2, 77], 0x8000));
  const nak = await reply();
  assert.deepEqual(dhcpOptions(nak.message).get(53), [6], 'NAK');
  assert.equal(nak.ip.dst, 0xffff_ffff, 'a NAK is broadcast');
  assert.equal(dhcpOptions(nak.message).get(51), undefined, 'a NAK carries no lease');

  // Choosing another server: no answer.
  guest.sendFrame(dhcpRequest(3, [50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 9]));
  await guest.nothing(udpTo(68), 50, 'reply to a REQUEST for another server');
  stack.close();
});

function dnsQuery(name: string, type: number, id = 0x4242): Uint8Array {
  const labels = name.split('.').flatMap((label) => [label.length, ...Buffer.from(label)]);
  const query = new Uint8Array([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, type >> 8, type & 255, 0, 1]);
  return query;
}

async function askDns(guest: TestGuest, query: Uint8Array, port = 40000) {
  guest.sendIp(buildUdp(GUEST, DNS, port, 53, query));
  const answer = await guest.waitFor(udpTo(port));
  assert.equal(answer.srcPort, 53);
  assert.equal(answer.ip.src, DNS);
  const bytes = answer.payload;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { bytes, id: v.getUint16(0), flags: v.getUint16(2), rcode: v.getUint16(2) & 0xf, qd: v.getUint16(4), an: v.getUint16(6) };
}

test('DNS: an A query for localhost is answered 127.0.0.1 through dns.lookup', async () => {
  const stack = new NetStack();
  const guest = new TestGuest(stack);
  const query = dnsQuery('localhost', 1);
  const answer = await askDns(guest, query);
  assert.equal(answer.id, 0x4242);
  assert.equal(answer.flags & 0x8000, 0x8000, 'QR');
  assert.equal(answer.flags & 0x0100, 0x0100, 'RD echoed');
  assert.equal(answer.rcode, 0);
  assert.equal(answer.qd, 1);
  assert.ok(answer.an >= 1);
  const record = answer.bytes.subarray(query.length, query.length + 16);
  assert.deepEqual([...record], [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
  stack.close();
});

test('DNS: other types are forwarded to the host resolver, with our id, and answered with the guest\'s', async () => {
  const upstream = createSocket('udp4');
  const asked: Array<{ id: number; name: string }> = [];
  upstream.on('message', (query, from) => {
    asked.push({ id: query.readUInt16BE(0), name: query.subarray(12, 29).toString('latin1') });
    const answer = Buffer.from(query);
    answer[2] = 0x81; // QR, RD
    answer[3] = 0x80; // RA, NOERROR
    upstream.send(answer, from.port, from.address);
  });
  upstream.bind(0, '127.0.0.1');
  await once(upstream, 'listening');
  const stack = new NetStack({ dnsUpstream: ['::1', `127.0.0.1:${upstream.address().port}`] });
  const guest = new TestGuest(stack);
  const answer = await askDns(guest, dnsQuery('example.com', 15, 0x1111));
  assert.equal(answer.id, 0x1111, 'the guest\'s id');
  assert.equal(answer.flags, 0x8180);
  assert.equal(asked.length, 1);
  assert.ok(asked[0].name.includes('example'), 'the query as the guest sent it');
  assert.equal((await askDns(guest, dnsQuery('example.com', 15, 0x1111), 40002)).id, 0x1111);
  stack.close();
  upstream.close();
  // Without an IPv4 resolver: SERVFAIL.
  const lonely = new NetStack({ dnsUpstream: ['::1'] });
  assert.equal((await askDns(new TestGuest(lonely), dnsQuery('example.com', 16))).rcode, 2);
  lonely.close();
});

test('DNS: NXDOMAIN, empty AAAA, NOTIMP for other classes and opcodes, FORMERR for malformed, nothing for responses', async () => {
  const stack = new NetStack();
  const guest = new TestGuest(stack);
  assert.equal((await askDns(guest, dnsQuery('no-such-name.invalid', 1))).rcode, 3, 'NXDOMAIN');
  const aaaa = await askDns(guest, dnsQuery('localhost', 28));
  assert.deepEqual([aaaa.rcode, aaaa.an], [0, 0], 'AAAA: NOERROR, no records');
  const chaos = dnsQuery('version.bind', 16);
  chaos[chaos.length - 1] = 3; // class CH
  assert.equal((await askDns(guest, chaos)).rcode, 4, 'class CH: NOTIMP');
  const status = dnsQuery('localhost', 1);
  status[2] = 0x10; // opcode 2 (STATUS)
  assert.equal((await askDns(guest, status)).rcode, 4, 'opcode STATUS: NOTIMP');
  const pointer = dnsQuery('localhost', 1);
  pointer[12] = 0xc0; // a compression pointer in the question
  assert.equal((await askDns(guest, pointer)).rcode, 1, 'FORMERR');
  assert.equal((await askDns(guest, dnsQuery('localhost', 1).subarray(0, 20))).rcode, 1, 'truncated question: FORMERR');
  const two = dnsQuery('localhost', 1);
  two[5] = 2;
  assert.equal((await askDns(guest, two)).rcode, 1, 'two questions: FORMERR');
  const response = dnsQuery('localhost', 1);
  response[2] |= 0x80;
  guest.sendIp(buildUdp(GUEST, DNS, 40001, 53, response));
  await guest.nothing(udpTo(40001), 100, 'answer to a response');
  assert.equal(parseDnsQuery(new Uint8Array(5)), null, 'shorter than a header: dropped');
  stack.close();
});

test('ICMP echo to the gateway is answered with the same identifier, sequence and data', async () => {
  const stack = new NetStack();
  const guest = new TestGuest(stack);
  const body = Uint8Array.of(0x12, 0x34, 0x00, 0x07, ...Buffer.from('ping data'));
  guest.sendIp(buildIpv4(GUEST, GATEWAY, IP_PROTO_ICMP, buildIcmp(ICMP_ECHO_REQUEST, 0, body)));
  const reply = await guest.waitFor((frame) => {
    const ip = ipFor(frame);
    return ip?.protocol === IP_PROTO_ICMP ? { ip, icmp: parseIcmp(ip.payload)! } : null;
  });
  assert.equal(reply.ip.src, GATEWAY);
  assert.equal(reply.ip.dst, GUEST);
  assert.equal(reply.icmp.type, ICMP_ECHO_REPLY);
  assert.deepEqual([...reply.icmp.body], [...body]);
  // A bad checksum is dropped.
  const bad = buildIcmp(ICMP_ECHO_REQUEST, 0, body);
  bad[2] ^= 1;
  guest.sendIp(buildIpv4(GUEST, GATEWAY, IP_PROTO_ICMP, bad));
  await guest.nothing((frame) => ipFor(frame), 50, 'reply to a bad checksum');
  stack.close();
});
