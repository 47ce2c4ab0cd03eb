// UDP through the NAT both ways with a real loopback dgram echo server, and the policy: host
// loopback closed to the guest unless the allow list names the address and port, the gateway's
// other ports refused, the network's addresses checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetStack } from '../../../engine/net/nat.ts';
import { NetworkPolicy } from '../../../engine/net/policy.ts';
import { buildUdp, parseIp, TcpFlag } from '../../../engine/net/frames.ts';
import { GuestTcp, TestGuest, udpTo } from './guest.ts';

const GATEWAY = parseIp('10.0.2.2');
const GUEST = parseIp('10.0.2.15');
const LOCALHOST = parseIp('127.0.0.1');

async function udpEcho() {
  const server = createSocket('udp4');
  const seen: string[] = [];
  server.on('message', (message, from) => {
    seen.push(message.toString());
    server.send(Buffer.concat([Buffer.from('echo:'), message]), from.port, from.address);
  });
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: server.address().port, seen };
}

test('UDP: datagrams go to a loopback server and its answers come back from the address the guest used', async () => {
  const echo = await udpEcho();
  const stack = new NetStack({ allow: [{ address: '127.0.0.1', port: echo.port }] });
  const guest = new TestGuest(stack);
  guest.sendIp(buildUdp(GUEST, GATEWAY, 40200, echo.port, Buffer.from('one')));
  const reply = await guest.waitFor(udpTo(40200));
  assert.equal(Buffer.from(reply.payload).toString(), 'echo:one');
  assert.equal(reply.ip.src, GATEWAY, 'shown as the gateway, as the guest addressed it');
  assert.equal(reply.srcPort, echo.port);
  // The same guest port talking to 127.0.0.1 directly (allowed too): shown as 127.0.0.1.
  guest.sendIp(buildUdp(GUEST, LOCALHOST, 40200, echo.port, Buffer.from('two')));
  const direct = await guest.waitFor(udpTo(40200));
  assert.equal(Buffer.from(direct.payload).toString(), 'echo:two');
  assert.equal(direct.ip.src, LOCALHOST);
  assert.equal(stack.usage.udpFlows, 1, 'one flow per guest port');
  // A host endpoint the guest never sent to cannot reach the guest through the flow.
  const stranger = createSocket('udp4');
  // The flow's host port is unknown to the test; ask the echo server which port wrote to it.
  const flowPort = await new Promise<number>((resolve) => {
    echo.server.once('message', (_m, from) => resolve(from.port));
    guest.sendIp(buildUdp(GUEST, GATEWAY, 40200, echo.port, Buffer.from('three')));
  });
  await guest.waitFor(udpTo(40200));
  stranger.send('unsolicited', flowPort, '127.0.0.1');
  await guest.nothing(udpTo(40200), 100, 'a datagram from an endpoint the guest never addressed');
  stranger.close();
  stack.close();
  echo.server.close();
});

test('host loopback is refused by default and reachable once the allow list names it', async () => {
  const echo = await udpEcho();
  let accepted = 0;
  const server = createServer((socket) => { accepted++; socket.end(); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const tcpPort = (server.address() as AddressInfo).port;

  const closed = new NetStack();
  const guest = new TestGuest(closed);
  for (const [dst, port] of [[GATEWAY, tcpPort], [LOCALHOST, tcpPort], [parseIp('127.1.2.3'), tcpPort]] as const) {
    const tcp = new GuestTcp(guest, 40300 + (dst & 0xff), dst, port);
    tcp.send(TcpFlag.SYN);
    const rst = await tcp.next();
    assert.equal(rst.flags, TcpFlag.RST | TcpFlag.ACK, `SYN to ${dst.toString(16)}:${port} refused`);
  }
  guest.sendIp(buildUdp(GUEST, GATEWAY, 40310, echo.port, Buffer.from('no')));
  await guest.nothing(udpTo(40310), 100, 'UDP answer through a closed loopback');
  // The DNS address serves only UDP 53; the gateway's own addresses nothing else.
  const dnsTcp = new GuestTcp(guest, 40311, parseIp('10.0.2.3'), 53);
  dnsTcp.send(TcpFlag.SYN);
  assert.equal((await dnsTcp.next()).flags, TcpFlag.RST | TcpFlag.ACK);
  await sleep(50);
  assert.equal(accepted, 0, 'the host server never saw a connection');
  assert.deepEqual(echo.seen, [], 'the host UDP server never saw a datagram');
  closed.close();

  const open = new NetStack({ allow: [{ address: '127.0.0.1', port: tcpPort }, { address: '127.0.0.1', port: echo.port }] });
  const guest2 = new TestGuest(open);
  await new GuestTcp(guest2, 40320, GATEWAY, tcpPort).connect();
  guest2.sendIp(buildUdp(GUEST, GATEWAY, 40321, echo.port, Buffer.from('yes')));
  assert.equal(Buffer.from((await guest2.waitFor(udpTo(40321))).payload).toString(), 'echo:yes');
  // Allowed is that port only.
  const other = new GuestTcp(guest2, 40322, GATEWAY, tcpPort === 65535 ? 1 : tcpPort + 1);
  other.send(TcpFlag.SYN);
  assert.equal((await other.next()).flags, TcpFlag.RST | TcpFlag.ACK);
  assert.equal(accepted, 1);
  open.close();
  server.close();
  echo.server.close();
});

test('policy: addresses come from the network, and bad options are refused', () => {
  const policy = new NetworkPolicy({ network: '192.168.77.0/24' });
  assert.deepEqual([policy.gateway, policy.dns, policy.guest].map((ip) => ip & 0xff), [2, 3, 15]);
  assert.equal(policy.netmask, 0xffff_ff00);
  assert.deepEqual(policy.route('tcp', parseIp('93.184.216.34'), 80), { host: '93.184.216.34', port: 80 });
  assert.ok('refused' in policy.route('udp', parseIp('192.168.77.9'), 9), 'nothing else on the virtual network');
  assert.ok('refused' in policy.route('udp', parseIp('224.0.0.251'), 5353), 'multicast');
  assert.ok('refused' in policy.route('udp', parseIp('255.255.255.255'), 9), 'broadcast');
  assert.ok('refused' in policy.route('tcp', parseIp('0.0.0.0'), 80), 'unspecified');
  assert.throws(() => new NetworkPolicy({ network: '10.0.2.0/31' }), RangeError);
  assert.throws(() => new NetworkPolicy({ guest: '10.0.3.15' }), RangeError);
  assert.throws(() => new NetworkPolicy({ guest: '10.0.2.2' }), RangeError);
  assert.throws(() => new NetworkPolicy({ allow: [{ address: 'localhost', port: 80 }] }), RangeError);
  assert.throws(() => new NetworkPolicy({ allow: [{ address: '127.0.0.1', port: 0 }] }), RangeError);
});
