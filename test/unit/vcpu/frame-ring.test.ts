// The rings between a machine's device thread and its net thread: whole frames in order across
// many wrap-arounds, a frame that does not fit refused whole, and the two ends of a NIC's link —
// a real NetStack answering an ARP request through them, and frames for the guest held back
// while the ring is full, then delivered (the device end's read rings the net end's bell).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNetLink, DeviceNetEnd, FrameRing, StackNetEnd } from '../../../engine/vcpu/frame-ring.ts';
import { NetStack } from '../../../engine/net/nat.ts';
import type { NetBackend } from '../../../engine/net/backend.ts';
import { ARP_REPLY, ARP_REQUEST, BROADCAST_MAC, buildArp, buildEthernet, ETHERTYPE_ARP, parseArp, parseEthernet, parseIp } from '../../../engine/net/frames.ts';

/** xorshift32: the same frames every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('frames go through whole and in order across wrap-arounds; one that does not fit is refused whole', () => {
  const ring = new FrameRing(4096);
  const next = random(12345);
  const pending: Uint8Array[] = [];
  let written = 0;
  let refused = 0;
  let read = 0;
  for (let round = 0; round < 20_000; round++) {
    if (next() < 0.55) {
      const frame = new Uint8Array(Math.floor(next() * 1600));
      for (let i = 0; i < frame.length; i++) frame[i] = (written * 31 + i) & 0xff;
      if (ring.write(frame)) { pending.push(frame); written++; } else refused++;
    } else {
      const frame = ring.read();
      const expected = pending.shift();
      if (!expected) { assert.equal(frame, null); continue; }
      assert.deepEqual(frame, expected);
      read++;
    }
  }
  for (let frame; (frame = ring.read());) { assert.deepEqual(frame, pending.shift()); read++; }
  assert.equal(pending.length, 0);
  assert.ok(refused > 100 && read > 5000, `refused ${refused}, read ${read}`);
  console.log(`frame ring: ${written} frames written, ${refused} refused on a full ring, ${read} read back intact`);
  assert.equal(new FrameRing(100).write(new Uint8Array(96)), false, 'a frame with its length past the ring');
});

test('a real NetStack answers an ARP request through the link, and the device is rung', async () => {
  const link = createNetLink();
  const device = new DeviceNetEnd(link);
  let end: StackNetEnd | null = null;
  const stack = new NetStack({ onFrames: () => end?.framesWaiting() });
  let rung = 0;
  end = new StackNetEnd(link, stack, () => rung++);
  const running = end.run();
  try {
    const guestMac = Uint8Array.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const request = buildArp({ op: ARP_REQUEST, senderMac: guestMac, senderIp: parseIp('10.0.2.15'), targetMac: new Uint8Array(6), targetIp: parseIp('10.0.2.2') });
    device.send(buildEthernet(BROADCAST_MAC, guestMac, ETHERTYPE_ARP, request));
    let frame: Uint8Array | null = null;
    for (let i = 0; i < 200 && !(frame = device.receive()); i++) await sleep(5);
    assert.ok(frame, 'no answer came back');
    const reply = parseArp(parseEthernet(frame)!.payload)!;
    assert.equal(reply.op, ARP_REPLY);
    assert.equal(reply.senderIp, parseIp('10.0.2.2'));
    assert.ok(rung > 0, 'the device thread was not rung');
  } finally {
    end.close();
    stack.close();
    await running;
  }
});

test('frames for the guest wait while the ring is full and go in as the device takes frames', async () => {
  const link = createNetLink();
  const device = new DeviceNetEnd(link);
  const frames = Array.from({ length: 2000 }, (_, i) => new Uint8Array(1514).fill(i & 0xff));
  const source: NetBackend = { send() {}, receive: () => frames.shift() ?? null };
  const end = new StackNetEnd(link, source, () => {});
  const running = end.run();
  end.framesWaiting();
  await sleep(20);
  const inRing = 2000 - frames.length - 1; // one is held by the end, refused by the full ring
  assert.ok(inRing > 300 && inRing < 400, `${inRing} frames of 1514 bytes in a 512 KiB ring`);
  let got = 0;
  for (let i = 0; i < 400 && got < 2000; i++) {
    for (let frame; (frame = device.receive());) {
      assert.equal(frame[0], got & 0xff, `frame ${got} out of order`);
      got++;
    }
    await sleep(2);
  }
  assert.equal(got, 2000, 'every frame arrived once the device read');
  end.close();
  await running;
});
