// The NAT's guest-facing TCP (RFC 9293), driven segment by segment against real loopback
// servers started here: handshake with MSS, data both ways, FIN from either side, RST for a
// refused port, retransmission of a segment the guest does not acknowledge, and back-pressure
// both ways (a guest that advertises a zero window stops the host socket being read; a host
// peer that does not read closes the window the guest sees).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetStack, type NetStackOptions } from '../../../engine/net/nat.ts';
import { parseIp, TcpFlag } from '../../../engine/net/frames.ts';
import { BUFFER_CAP, TcpState } from '../../../engine/net/tcp-flow.ts';
import { GuestTcp, TestGuest } from './guest.ts';

const GATEWAY = parseIp('10.0.2.2');

async function listen(onConnection: (socket: Socket) => void, allowHalfOpen = false): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen }, (socket) => {
    socket.on('error', () => {}); // guests that reset: tests look at the effect where it matters
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function setup(port: number, options: NetStackOptions = {}) {
  const stack = new NetStack({ allow: [{ address: '127.0.0.1', port }], tcpTimings: { rtoMs: 100, timeWaitMs: 100 }, ...options });
  const guest = new TestGuest(stack);
  return { stack, guest };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('handshake (MSS option), data both ways through a loopback echo server, FIN from the guest', async () => {
  const { server, port } = await listen((socket) => socket.pipe(socket));
  const { stack, guest } = setup(port);
  const tcp = new GuestTcp(guest, 40100, GATEWAY, port);
  const synAck = await tcp.connect(1000);
  assert.equal(synAck.mss, 1460, 'our MSS: MTU − 40');
  assert.equal(stack.tcpFlow(40100)?.state, TcpState.Established);
  tcp.write('hello, host');
  assert.equal(new TextDecoder().decode(await tcp.read(11)), 'hello, host');
  // A segment larger than the guest's MSS comes back in MSS-sized pieces.
  const big = new Uint8Array(3000).map((_, i) => i & 0xff);
  tcp.write(big.subarray(0, 1400));
  tcp.write(big.subarray(1400));
  const echoed = await tcp.read(3000);
  assert.deepEqual(echoed, Buffer.from(big));
  // FIN: the server ends in turn, the stack sends FIN, the guest acknowledges: the flow is gone.
  tcp.send(TcpFlag.FIN | TcpFlag.ACK);
  tcp.seq += 1;
  const fin = await tcp.untilFlags(TcpFlag.FIN);
  assert.equal(fin.ack, tcp.seq, 'our FIN acknowledged');
  tcp.ack = (fin.seq + 1) >>> 0;
  tcp.send(TcpFlag.ACK);
  await until(() => stack.usage.tcpFlows === 0, 'the flow to close');
  stack.close();
  server.close();
});

test('the host closes first: data and FIN reach the guest, TIME-WAIT ends the flow', async () => {
  const { server, port } = await listen((socket) => socket.end('bye'));
  const { stack, guest } = setup(port);
  const tcp = new GuestTcp(guest, 40101, GATEWAY, port);
  await tcp.connect();
  assert.equal(new TextDecoder().decode(await tcp.read(3)), 'bye');
  const fin = await tcp.untilFlags(TcpFlag.FIN);
  tcp.ack = (fin.seq + 1) >>> 0;
  tcp.send(TcpFlag.ACK);
  await until(() => stack.tcpFlow(40101)?.state === TcpState.FinWait2, 'FIN-WAIT-2');
  tcp.send(TcpFlag.FIN | TcpFlag.ACK);
  tcp.seq += 1;
  const last = await tcp.next();
  assert.equal(last.ack, tcp.seq, 'the guest FIN acknowledged');
  assert.equal(stack.tcpFlow(40101)?.state, TcpState.TimeWait);
  await until(() => stack.usage.tcpFlows === 0, 'TIME-WAIT to end');
  stack.close();
  server.close();
});

test('a refused host port gets RST|ACK acknowledging the SYN; a RST from the guest resets the host socket', async () => {
  const { server, port } = await listen(() => {});
  server.close(); // the port is allowed, but nothing listens there now
  await once(server, 'close');
  const { stack, guest } = setup(port);
  const tcp = new GuestTcp(guest, 40102, GATEWAY, port);
  tcp.send(TcpFlag.SYN, undefined, { mss: 1460 });
  const rst = await tcp.next();
  assert.equal(rst.flags, TcpFlag.RST | TcpFlag.ACK);
  assert.equal(rst.ack, tcp.seq + 1);
  await until(() => stack.usage.tcpFlows === 0, 'the refused flow to go');

  let hostError = '';
  const live = await listen((socket) => socket.on('error', (error: NodeJS.ErrnoException) => { hostError = error.code ?? ''; }));
  const setup2 = setup(live.port);
  const tcp2 = new GuestTcp(setup2.guest, 40103, GATEWAY, live.port);
  await tcp2.connect();
  tcp2.send(TcpFlag.RST, undefined, { seq: tcp2.seq + 5 }); // out of window: ignored (RFC 5961)
  await sleep(50);
  assert.equal(setup2.stack.usage.tcpFlows, 1);
  tcp2.send(TcpFlag.RST);
  await until(() => hostError === 'ECONNRESET' && setup2.stack.usage.tcpFlows === 0, 'the host peer to see ECONNRESET');
  stack.close();
  setup2.stack.close();
  live.server.close();
});

test('a segment the guest does not acknowledge is retransmitted, with backoff, then the flow is reset', async () => {
  const { server, port } = await listen((socket) => socket.write('lost once'));
  const { stack, guest } = setup(port, { tcpTimings: { rtoMs: 50, maxRetries: 3 } });
  const tcp = new GuestTcp(guest, 40104, GATEWAY, port);
  await tcp.connect();
  const first = await tcp.next();
  assert.equal(new TextDecoder().decode(first.payload), 'lost once');
  const sent = performance.now();
  const again = await tcp.next(); // withheld ACK: the same bytes at the same sequence number
  assert.equal(again.seq, first.seq);
  assert.deepEqual(again.payload, first.payload);
  assert.ok(performance.now() - sent >= 40, 'after the retransmission timeout');
  const third = await tcp.next();
  assert.equal(third.seq, first.seq);
  // Still no ACK: after maxRetries the guest gets RST and the flow goes.
  await tcp.untilFlags(TcpFlag.RST);
  assert.equal(stack.usage.tcpFlows, 0);
  stack.close();
  server.close();
});

test('a guest advertising a zero window stops the host socket being read; opening it lets everything through', async () => {
  const total = 1 << 20;
  const payload = new Uint8Array(total).map((_, i) => (i * 7) & 0xff);
  const { server, port } = await listen((socket) => socket.end(payload));
  const { stack, guest } = setup(port);
  const tcp = new GuestTcp(guest, 40105, GATEWAY, port);
  tcp.window = 0;
  await tcp.connect();
  const flow = stack.tcpFlow(40105)!;
  await until(() => !flow.buffered.hostReading, 'the host socket to be paused');
  assert.ok(flow.buffered.toGuest >= BUFFER_CAP && flow.buffered.toGuest <= 2 * BUFFER_CAP, `${flow.buffered.toGuest} bytes held`);
  await sleep(150); // a zero-window probe may come; nothing more is read from the host meanwhile
  const held = flow.buffered.toGuest;
  assert.equal(flow.buffered.hostReading, false);
  assert.ok(stack.usage.bufferedBytes <= 2 * BUFFER_CAP + 4096, `stack holds ${stack.usage.bufferedBytes} bytes`);
  // Open the window: read (acknowledging as we go) every byte the server sent.
  tcp.window = 65535;
  tcp.send(TcpFlag.ACK);
  const received = await tcp.read(total, 20_000);
  assert.equal(received.length, total);
  assert.ok(Buffer.from(received).equals(Buffer.from(payload)), 'every byte, in order');
  assert.ok(held <= 2 * BUFFER_CAP);
  stack.close();
  server.close();
});

test('a host peer that does not read closes the window the guest sees; reading reopens it', async () => {
  let peer: Socket | null = null;
  let read = 0;
  const { server, port } = await listen((socket) => {
    peer = socket;
    socket.pause();
    socket.on('data', (d) => { read += d.length; });
  });
  const { stack, guest } = setup(port);
  const tcp = new GuestTcp(guest, 40106, GATEWAY, port);
  await tcp.connect();
  await until(() => peer !== null, 'the server to accept');
  // Send MSS-sized segments while the stack's window allows; stop when it is shut.
  const chunk = new Uint8Array(1460).fill(0x61);
  let window = 65535;
  let sent = 0;
  for (let rounds = 0; window > 0 && rounds < 10_000; rounds++) {
    tcp.write(chunk.subarray(0, Math.min(chunk.length, window)));
    sent += Math.min(chunk.length, window);
    const ack = await tcp.next();
    window = ack.window;
    tcp.seq = ack.ack; // resend from what the stack took (it drops beyond its window)
    sent = (ack.ack - 1001) >>> 0;
  }
  assert.equal(window, 0, 'the window closed');
  const accepted = sent;
  assert.ok(accepted > BUFFER_CAP, `the kernel's buffers and ours took ${accepted} bytes`);
  // Beyond a shut window nothing is taken.
  tcp.write(chunk);
  const refused = await tcp.next();
  assert.equal(refused.ack, (1001 + accepted) >>> 0, 'data beyond the window not acknowledged');
  tcp.seq = refused.ack;
  // The peer reads: the stack's socket drains and a window update reaches the guest.
  peer!.resume();
  const update = await tcp.next();
  assert.ok(update.window > 0, 'window update');
  await until(() => read === accepted, 'the peer to read every accepted byte');
  stack.close();
  server.close();
});

test('a host peer that resets the connection makes the guest get RST', async () => {
  const { server, port } = await listen((socket) => socket.once('data', () => socket.resetAndDestroy()));
  const { stack, guest } = setup(port);
  const tcp = new GuestTcp(guest, 40107, GATEWAY, port);
  await tcp.connect();
  tcp.write('reset me');
  const rst = await tcp.untilFlags(TcpFlag.RST);
  assert.equal(rst.seq, (tcp.ack) >>> 0, 'at our next sequence number, which the guest accepts');
  await until(() => stack.usage.tcpFlows === 0, 'the flow to go');
  stack.close();
  server.close();
});

test('a half-open connection (the guest never ACKs our SYN-ACK) is retried, then reset and its slot freed', async () => {
  const { server, port } = await listen(() => {});
  const { stack, guest } = setup(port, { tcpTimings: { rtoMs: 50, maxSynAckRetries: 2 }, maxTcpFlows: 1 });
  const tcp = new GuestTcp(guest, 40108, GATEWAY, port);
  tcp.send(TcpFlag.SYN, undefined, { mss: 1460 });
  const synAcks = [await tcp.next(), await tcp.next(), await tcp.next()];
  assert.ok(synAcks.every((s) => s.flags === (TcpFlag.SYN | TcpFlag.ACK) && s.seq === synAcks[0].seq), 'the same SYN-ACK three times');
  const other = new GuestTcp(guest, 40109, GATEWAY, port);
  other.send(TcpFlag.SYN);
  assert.equal((await other.next()).flags, TcpFlag.RST | TcpFlag.ACK, 'the table (1 flow) is full: RST');
  assert.equal((await tcp.untilFlags(TcpFlag.RST)).flags & TcpFlag.RST, TcpFlag.RST);
  assert.equal(stack.usage.tcpFlows, 0);
  await new GuestTcp(guest, 40110, GATEWAY, port).connect(); // the slot is free again
  stack.close();
  server.close();
});
