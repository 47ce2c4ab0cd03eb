// Fuzz: a hostile guest's frames into the NAT for a fixed time from a fixed seed — random bytes,
// well-formed frames with bytes flipped or lengths changed (checksums recomputed, so that the
// inner parsers see them), IPv4 fragments, TCP segments with every flag combination, SYN
// floods, UDP-flow floods, DHCP and DNS noise. The stack must never throw, its flow tables and
// buffers must stay inside their caps, and afterwards it must still serve a new TCP connection
// and a DNS query (the canary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import { NetStack } from '../../../engine/net/nat.ts';
import {
  BROADCAST_MAC, buildArp, buildEthernet, buildIcmp, buildIpv4, buildTcp, buildUdp, checksum, ETHERTYPE_ARP, ETHERTYPE_IPV4,
  IP_PROTO_ICMP, parseIp,
} from '../../../engine/net/frames.ts';
import { BUFFER_CAP } from '../../../engine/net/tcp-flow.ts';
import { GATEWAY_MAC, GUEST_MAC, GuestTcp, TestGuest, udpTo } from './guest.ts';
import { Random } from '../../support/random.ts';

const SEED = 0x6e65_7421;
const DURATION_MS = 10_000;
const MAX_TCP = 48;
const MAX_UDP = 24;
const MAX_QUEUED = 256;
const GATEWAY = parseIp('10.0.2.2');
const DNS = parseIp('10.0.2.3');
const GUEST = parseIp('10.0.2.15');

test(`fuzz net: random and malformed guest frames for ${DURATION_MS / 1000} s`, async () => {
  const echo = createServer((socket) => socket.on('error', () => {}).pipe(socket)); // guests reset connections
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const tcpPort = (echo.address() as AddressInfo).port;
  const udpEcho = createSocket('udp4');
  udpEcho.on('message', (message, from) => udpEcho.send(message, from.port, from.address));
  udpEcho.bind(0, '127.0.0.1');
  await once(udpEcho, 'listening');
  const udpPort = udpEcho.address().port;

  const stack = new NetStack({
    allow: [{ address: '127.0.0.1', port: tcpPort }, { address: '127.0.0.1', port: udpPort }],
    maxTcpFlows: MAX_TCP, maxUdpFlows: MAX_UDP, maxQueuedFrames: MAX_QUEUED,
    dnsUpstream: [`127.0.0.1:${udpPort}`], // forwarded noise is echoed back as a query: dropped
    tcpTimings: { rtoMs: 200, maxRetries: 2, maxSynAckRetries: 2, timeWaitMs: 200 },
  });
  const guest = new TestGuest(stack);
  const rng = new Random(SEED);
  const dsts = [GATEWAY, DNS, GUEST, parseIp('127.0.0.1'), parseIp('10.0.2.77'), parseIp('224.0.0.1'), 0xffff_ffff, 0];
  const ports = [tcpPort, udpPort, 53, 67, 68, 0, 1, 65535];
  const tcpSegment = () => buildTcp({
    src: GUEST, dst: rng.pick([GATEWAY, GATEWAY, parseIp('127.0.0.1'), DNS]), srcPort: 30000 + rng.int(200), dstPort: rng.pick(ports),
    seq: rng.int(2 ** 32), ack: rng.int(2 ** 32), flags: rng.int(64), window: rng.pick([0, 1, 536, 65535]),
    mss: rng.int(2) ? rng.pick([0, 1, 536, 1460, 65535]) : undefined, payload: rng.bytes(rng.pick([0, 0, 1, 100, 1460])),
  });
  const generators: Array<[string, () => Uint8Array]> = [
    ['random bytes', () => rng.bytes(rng.int(1600))],
    ['random after an Ethernet header', () => buildEthernet(GATEWAY_MAC, GUEST_MAC, rng.pick([ETHERTYPE_IPV4, ETHERTYPE_ARP, rng.int(65536)]), rng.bytes(rng.int(1500)))],
    ['ARP', () => buildEthernet(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, rng.int(2)
      ? buildArp({ op: rng.int(4), senderMac: rng.bytes(6), senderIp: rng.int(2 ** 32), targetMac: rng.bytes(6), targetIp: rng.pick(dsts) })
      : rng.bytes(rng.int(60)))],
    ['TCP, any flags', () => ip(tcpSegment())],
    ['SYN flood', () => ip(buildTcp({ src: GUEST, dst: GATEWAY, srcPort: 1024 + rng.int(60000), dstPort: rng.pick([tcpPort, tcpPort, 22]), seq: rng.int(2 ** 32), ack: 0, flags: 0x02, window: 65535, mss: 1460 }))],
    ['UDP-flow flood', () => ip(buildUdp(GUEST, rng.pick([GATEWAY, GATEWAY, DNS, parseIp('127.0.0.1')]), 1024 + rng.int(60000), rng.pick([udpPort, udpPort, 53]), rng.bytes(rng.int(600))))],
    ['UDP to odd places', () => ip(buildUdp(rng.int(2) ? GUEST : 0, rng.pick(dsts), rng.pick(ports), rng.pick(ports), rng.bytes(rng.int(400))))],
    ['DHCP noise', () => ip(buildUdp(0, 0xffff_ffff, 68, 67, (() => { const m = rng.bytes(240 + rng.int(100)); m.set([1, 1, 6], 0); m.set([0x63, 0x82, 0x53, 0x63], 236); return m; })()))],
    ['DNS noise', () => ip(buildUdp(GUEST, DNS, 1024 + rng.int(100), 53, (() => { const q = rng.bytes(12 + rng.int(60)); q[2] &= 0x7f; q[4] = 0; q[5] = 1; return q; })()))],
    ['ICMP', () => ip(buildIpv4(GUEST, rng.pick(dsts), IP_PROTO_ICMP, buildIcmp(rng.pick([8, 8, 0, 3, rng.int(256)]), rng.int(3), rng.bytes(rng.int(100)))))],
    ['IPv4 fragment', () => { const p = tcpSegment(); p[6] = 0x20 | rng.int(32); fixIpChecksum(p); return ip(p); }],
    ['IPv4 header lengths', () => { const p = tcpSegment(); p[0] = 0x40 | rng.int(16); p[2] = rng.int(256); p[3] = rng.int(256); fixIpChecksum(p); return ip(p); }],
    ['truncated or padded', () => { const f = ip(tcpSegment()); return rng.int(2) ? f.subarray(0, rng.int(f.length)) : Buffer.concat([f, rng.bytes(rng.int(64))]); }],
    ['bit flips', () => { const f = ip(rng.int(2) ? tcpSegment() : buildUdp(GUEST, GATEWAY, 40000, udpPort, rng.bytes(50))); for (let n = 1 + rng.int(4); n--;) f[rng.int(f.length)] ^= 1 << rng.int(8); return f; }],
  ];
  const tried = new Map<string, number>();
  let inputs = 0;
  let failures = 0;
  let peak = { tcpFlows: 0, udpFlows: 0, queuedFrames: 0, bufferedBytes: 0 };
  const started = performance.now();
  while (performance.now() - started < DURATION_MS) {
    const [name, make] = rng.pick(generators);
    const frame = make();
    try {
      stack.send(frame);
    } catch (error) {
      failures++;
      if (failures <= 5) console.log(`fuzz net: ${name} threw: ${(error as Error).stack}`);
    }
    tried.set(name, (tried.get(name) ?? 0) + 1);
    inputs++;
    const usage = stack.usage;
    peak = {
      tcpFlows: Math.max(peak.tcpFlows, usage.tcpFlows), udpFlows: Math.max(peak.udpFlows, usage.udpFlows),
      queuedFrames: Math.max(peak.queuedFrames, usage.queuedFrames), bufferedBytes: Math.max(peak.bufferedBytes, usage.bufferedBytes),
    };
    // Let host sockets make progress, and let the "device" take frames now and then (not always: full queues too).
    if (inputs % 64 === 0) {
      if (rng.int(3)) guest.drain();
      await yieldToIo();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`fuzz net: ${inputs} inputs in ${seconds.toFixed(1)} s, ${failures} failures (seed 0x${SEED.toString(16)})`);
  console.log(`fuzz net: per kind ${[...tried].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  console.log(`fuzz net: peak ${JSON.stringify(peak)}; dropped ${JSON.stringify(stack.dropped)}`);
  assert.equal(failures, 0);
  assert.ok(inputs > 1000, 'the fuzzer ran');
  assert.ok(peak.tcpFlows <= MAX_TCP && peak.udpFlows <= MAX_UDP && peak.queuedFrames <= MAX_QUEUED);
  assert.ok(peak.tcpFlows > 0 && peak.udpFlows > 0, 'the floods did open flows (the caps were exercised, not bypassed)');
  assert.ok(peak.bufferedBytes <= MAX_TCP * 3 * BUFFER_CAP + MAX_QUEUED * 1514, `${peak.bufferedBytes} bytes buffered at peak`);
  assert.ok(stack.dropped.fromGuest < inputs, 'some frames were served');

  // Canary: let the SYN flood's half-open flows time out, then a new connection and a DNS query work.
  guest.drain();
  await sleep(2000);
  guest.drain();
  const tcp = new GuestTcp(guest, 50000, GATEWAY, tcpPort);
  await tcp.connect();
  tcp.write('still alive');
  assert.equal(new TextDecoder().decode(await tcp.read(11)), 'still alive');
  const query = Uint8Array.of(0x99, 0x99, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...Buffer.from('localhost'), 0, 0, 1, 0, 1);
  guest.sendIp(buildUdp(GUEST, DNS, 50001, 53, query));
  const answer = await guest.waitFor(udpTo(50001));
  assert.equal(answer.payload[3] & 0xf, 0, 'NOERROR');
  stack.close();
  echo.close();
  udpEcho.close();
});

function ip(packet: Uint8Array): Uint8Array {
  return buildEthernet(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_IPV4, packet);
}

function fixIpChecksum(packet: Uint8Array): void {
  packet[10] = packet[11] = 0;
  const sum = checksum(packet.subarray(0, Math.min((packet[0] & 0xf) * 4, packet.length)));
  packet[10] = sum >> 8;
  packet[11] = sum & 0xff;
}
