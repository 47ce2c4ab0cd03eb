// Fuzzing the virtqueues of every virtio device (console, blk, rng) and the virtio-mmio
// transport itself, driven through the MMIO registers as a driver would, but a hostile one:
// random descriptor tables (loops, huge lengths, well-formed chains of 1,024 RAM-sized buffers, addresses at and past the end of RAM and above
// 2^53, indirect tables inside indirect tables), available-index jumps, queue sizes that are not
// powers of two, notifications before DRIVER_OK, random register writes, save and load.
// Guards: no host exception; no byte outside guest RAM changes (canaries below and above it);
// host memory grows by less than MEMORY_BOUND (OFF_HEAP_BOUND off-heap) after a warm-up; no call takes longer than
// CALL_BOUND_MS. Fixed seed, a time limit per target; each input has its own seed, printed on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRAM_BASE, RAM_OFFSET } from '../../../engine/cpu/layout.ts';
import { GuestMemory, GuestMemoryError } from '../../../engine/devices/guest-memory.ts';
import { VirtioMmio } from '../../../engine/devices/virtio/mmio.ts';
import { VirtioConsole } from '../../../engine/devices/virtio/console.ts';
import { VirtioBlk } from '../../../engine/devices/virtio/blk.ts';
import { VirtioRng } from '../../../engine/devices/virtio/rng.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../../engine/devices/virtio/queue.ts';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioDevice } from '../../../engine/devices/virtio/virtio-device.ts';
import { DeviceStateError } from '../../../engine/devices/state.ts';
import { openDisk } from '../../../engine/storage/index.ts';
import { BufferedConsole } from '../../../engine/vcpu/buffered-console.ts';
import { Reg } from './virtio-driver.ts';
import { throughJson } from './support.ts';
import { Random } from '../../support/random.ts';

const SEED = 0x1eaf_5eed;
const SECONDS_EACH = 3.5;
const RAM = 1 << 20;
const CANARY = 0xa5;
/** Bytes after RAM that belong to no one (the machine's memory ends at RAM; here it goes on). */
const AFTER = 1 << 16;
/**
 * Growth allowed of rss + array buffers, and of array buffers alone (off-heap, where copies of
 * guest buffers would go). The first is loose because V8 lets its heap grow by up to some 80 MiB
 * of garbage before it collects; the faults guarded against take RAM × 1,024 (1 GiB) a request.
 */
const MEMORY_BOUND = 128 << 20;
const OFF_HEAP_BOUND = 16 << 20;
/** Inputs run before host memory is first measured. */
const WARM_UP = 256;
const CALL_BOUND_MS = 250;
const RAM_END = DRAM_BASE + RAM;

/** One shared memory: canaries below RAM (the CPU core's part in the machine) and past its end. */
const wasm = new WebAssembly.Memory({ initial: (RAM_OFFSET + RAM + AFTER) / 65536, maximum: (RAM_OFFSET + RAM + AFTER) / 65536, shared: true });
const all = Buffer.from(wasm.buffer);
all.fill(CANARY, 0, RAM_OFFSET);
all.fill(CANARY, RAM_OFFSET + RAM);
const memory = new GuestMemory(wasm, RAM);

/** Whether every byte of [start, end) is still the canary (a byte equal to its neighbour, all the way). */
function intact(start: number, end: number): boolean {
  return all[start] === CANARY && all.subarray(start, end - 1).equals(all.subarray(start + 1, end));
}

function checkCanaries(full: boolean): void {
  const below = full ? 0 : RAM_OFFSET - AFTER;
  assert.ok(intact(below, RAM_OFFSET), 'memory below guest RAM changed');
  assert.ok(intact(RAM_OFFSET + RAM, all.length), 'memory past the end of guest RAM changed');
}

/** A guest address: mostly inside RAM, often at its edges, sometimes far outside. */
function address(r: Random, align = 1): bigint {
  const a = r.pick([
    () => DRAM_BASE + r.int(RAM),
    () => DRAM_BASE + r.int(RAM),
    () => RAM_END - r.int(64),
    () => RAM_END + r.int(64),
    () => DRAM_BASE - 1 - r.int(64),
    () => r.int(2 ** 32),
    () => 2 ** 53 + r.int(4096) * 2,
    () => -1, // 2^64 - 1 below
  ])();
  if (a === -1) return (1n << 64n) - 1n;
  return BigInt(a - (a % align));
}

function length(r: Random): number {
  return r.pick([() => r.int(64), () => r.int(4096), () => RAM, () => RAM - r.int(16), () => 0xffff_ffff, () => 16 * (1 + r.int(2048)), () => 0])();
}

/** A driver that follows the protocol only as far as its dice say. */
class HostileDriver {
  readonly transport: VirtioMmio;
  calls = 0;
  slowest = 0;
  private queues: { size: number; desc: bigint; avail: bigint; used: bigint; idx: number }[] = [];

  constructor(private readonly r: Random, readonly device: VirtioDevice | null, private readonly afterCall: () => void) {
    this.transport = new VirtioMmio(device, memory, () => {});
    this.transport.reset();
  }

  /** Every transport call goes through here: it may not throw, and must be quick. */
  private call<T>(what: string, work: () => T): T {
    const start = performance.now();
    const result = work();
    const took = performance.now() - start;
    this.calls++;
    this.slowest = Math.max(this.slowest, took);
    assert.ok(took < CALL_BOUND_MS, `${what} took ${took.toFixed(1)} ms`);
    this.afterCall();
    return result;
  }

  set(offset: number, value: number, width: 1 | 2 | 4 = 4): void {
    this.call(`write 0x${offset.toString(16)}`, () => this.transport.write(offset, width, value >>> 0));
  }

  get(offset: number): number {
    return this.call(`read 0x${offset.toString(16)}`, () => this.transport.read(offset, 4));
  }

  /** Writes guest RAM where it is RAM; the driver's own stray writes are its problem, not ours. */
  private poke(at: bigint, write: (at: bigint) => void): void {
    try {
      write(at);
    } catch (error) {
      if (!(error instanceof GuestMemoryError)) throw error;
    }
  }

  setUp(): void {
    const r = this.r;
    const queueCount = this.device?.queueSizes.length ?? 1;
    if (r.chance(0.9)) {
      this.set(Reg.Status, 0);
      this.set(Reg.Status, 1);
      this.set(Reg.Status, 3);
      let features = VIRTIO_F_VERSION_1;
      if (r.chance(0.6)) features |= VIRTIO_F_INDIRECT_DESC;
      if (r.chance(0.4)) features |= VIRTIO_F_EVENT_IDX;
      if (r.chance(0.1)) features = BigInt(r.int(2 ** 32)) << BigInt(r.int(2) * 32);
      for (const sel of [0, 1]) {
        this.set(Reg.DriverFeaturesSel, sel);
        this.set(Reg.DriverFeatures, Number((features >> BigInt(32 * sel)) & 0xffff_ffffn));
      }
      this.set(Reg.Status, 11);
    }
    if (r.chance(0.1)) this.set(Reg.Status, 15); // DRIVER_OK before any queue
    for (let q = 0; q < queueCount + (r.chance(0.2) ? 1 : 0); q++) {
      const max = this.device?.queueSizes[q] ?? 8;
      const size = r.pick([max, max, 1 << r.int(16), 1 + r.int(max + 2), 0, 3, 0xffff_ffff]);
      const desc = r.chance(0.85) ? BigInt(DRAM_BASE + 16 * r.int(RAM / 16)) : address(r, 16);
      const avail = r.chance(0.85) ? BigInt(DRAM_BASE + 2 * r.int(RAM / 2)) : address(r);
      const used = r.chance(0.85) ? BigInt(DRAM_BASE + 4 * r.int(RAM / 4)) : address(r);
      this.set(Reg.QueueSel, q);
      this.set(Reg.QueueNum, size);
      for (const [low, value] of [[Reg.QueueDescLow, desc], [Reg.QueueDriverLow, avail], [Reg.QueueDeviceLow, used]] as const) {
        this.set(low, Number(value & 0xffff_ffffn));
        this.set(low + 4, Number(value >> 32n));
      }
      if (r.chance(0.1)) this.notify(q); // before DRIVER_OK
      this.set(Reg.QueueReady, r.chance(0.95) ? 1 : 0);
      this.queues.push({ size: Math.max(1, size & 0xffff), desc, avail, used, idx: 0 });
    }
    if (r.chance(0.95)) this.set(Reg.Status, 15);
  }

  notify(q: number): void {
    this.set(Reg.QueueNotify, q);
  }

  /** One random request (or a random mess) in queue `q`'s tables, then a notify, a poll or nothing. */
  round(): void {
    const r = this.r;
    if (this.queues.length === 0) return;
    const qi = r.int(this.queues.length);
    const q = this.queues[qi]!;
    let head: number;
    const kind = r.next();
    if (kind < 0.1) {
      head = this.huge(q);
    } else if (kind < 0.8) {
      head = this.wellFormed(q);
    } else {
      const descriptors = r.pick([1, 2, 3, 4, 1 + r.int(q.size + 2)]);
      for (let n = 0; n < Math.min(descriptors, 64); n++) this.writeDescriptor(q.desc, r.int(q.size + 1), r);
      if (r.chance(0.3)) this.indirectTable(r);
      head = r.chance(0.9) ? r.int(q.size) : r.int(0x10000);
    }
    this.poke(q.avail + BigInt(4 + 2 * (q.idx % q.size)), (at) => memory.writeU16(at, head));
    q.idx = (q.idx + (r.chance(0.9) ? 1 : r.int(0x10000))) & 0xffff;
    this.poke(q.avail + 2n, (at) => memory.writeU16(at, q.idx));
    if (r.chance(0.2)) this.poke(q.avail, (at) => memory.writeU16(at, r.int(4)));
    if (r.chance(0.2)) this.poke(q.avail + BigInt(4 + 2 * q.size), (at) => memory.writeU16(at, r.int(0x10000)));
    const action = r.int(10);
    if (action < 6) this.notify(r.chance(0.95) ? qi : r.int(0x10000));
    else if (action < 9) this.call('poll', () => this.transport.poll());
    if (r.chance(0.3)) this.set(Reg.InterruptAck, this.get(Reg.InterruptStatus));
  }

  /**
   * A request as a driver would make it: readable buffers (the first starts like a virtio-blk
   * header), then writable ones, all inside RAM, chained by distinct indexes. Returns its head.
   */
  private wellFormed(q: { size: number; desc: bigint }): number {
    const r = this.r;
    const count = Math.min(q.size, 1 + r.int(4));
    const indexes: number[] = [];
    while (indexes.length < count) {
      const i = r.int(q.size);
      if (!indexes.includes(i)) indexes.push(i);
    }
    const readable = r.int(count + 1);
    indexes.forEach((index, n) => {
      const len = n === 0 ? 16 : n === count - 1 ? 1 + r.int(2) : 512 * (1 + r.int(8));
      const at = BigInt(DRAM_BASE + r.int(RAM - len));
      if (n === 0) {
        this.poke(at, (a) => memory.writeU32(a, r.pick([0, 1, 4, 8, 11, 13, r.int(32)])));
        this.poke(at + 8n, (a) => memory.writeU64(a, BigInt(r.int(20000))));
      }
      const flags = (n < readable ? 0 : VIRTQ_DESC_F_WRITE) | (n < count - 1 ? VIRTQ_DESC_F_NEXT : 0);
      const entry = q.desc + BigInt(16 * index);
      this.poke(entry, (a) => memory.writeU64(a, at));
      this.poke(entry + 8n, (a) => memory.writeU32(a, len));
      this.poke(entry + 12n, (a) => memory.writeU16(a, flags));
      this.poke(entry + 14n, (a) => memory.writeU16(a, indexes[n + 1] ?? 0));
    });
    return indexes[0]!;
  }

  /**
   * A request well formed but for its size: every descriptor of the ring, or of an indirect table
   * of up to 1,100 entries, covers all of RAM (all readable or all writable). Returns its head.
   */
  private huge(q: { size: number; desc: bigint }): number {
    const r = this.r;
    const flags = r.chance(0.5) ? VIRTQ_DESC_F_WRITE : 0;
    const chain = (table: bigint, entries: number) => {
      for (let i = 0; i < entries; i++) {
        const entry = table + BigInt(16 * i);
        this.poke(entry, (a) => memory.writeU64(a, BigInt(DRAM_BASE)));
        this.poke(entry + 8n, (a) => memory.writeU32(a, RAM));
        this.poke(entry + 12n, (a) => memory.writeU16(a, flags | (i < entries - 1 ? VIRTQ_DESC_F_NEXT : 0)));
        this.poke(entry + 14n, (a) => memory.writeU16(a, i + 1));
      }
    };
    if (r.chance(0.3)) {
      chain(q.desc, Math.min(q.size, 1024));
      return 0;
    }
    const entries = r.pick([1024, 1025, 1 + r.int(1100)]);
    const table = BigInt(DRAM_BASE + 16 * r.int((RAM - 16 * entries) / 16));
    chain(table, entries);
    const head = r.int(q.size);
    const entry = q.desc + BigInt(16 * head);
    this.poke(entry, (a) => memory.writeU64(a, table));
    this.poke(entry + 8n, (a) => memory.writeU32(a, 16 * entries));
    this.poke(entry + 12n, (a) => memory.writeU16(a, VIRTQ_DESC_F_INDIRECT));
    return head;
  }

  private writeDescriptor(table: bigint, index: number, r: Random): void {
    const at = table + BigInt(16 * index);
    const flags = r.pick([0, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_INDIRECT, r.int(0x10000)]);
    const len = flags & VIRTQ_DESC_F_INDIRECT && r.chance(0.7) ? 16 * (1 + r.int(1100)) : length(r);
    this.poke(at, (a) => memory.writeU64(a, address(r, flags & VIRTQ_DESC_F_INDIRECT && r.chance(0.8) ? 16 : 1)));
    this.poke(at + 8n, (a) => memory.writeU32(a, len));
    this.poke(at + 12n, (a) => memory.writeU16(a, flags));
    this.poke(at + 14n, (a) => memory.writeU16(a, r.chance(0.8) ? r.int(64) : r.int(0x10000)));
  }

  /** A table somewhere in RAM: plausible descriptors, some pointing at other tables or themselves. */
  private indirectTable(r: Random): void {
    const table = BigInt(DRAM_BASE + 16 * r.int(RAM / 16));
    const entries = 1 + r.int(r.chance(0.5) ? 8 : 1100);
    for (let i = 0; i < Math.min(entries, 256); i++) this.writeDescriptor(table, i, r);
  }

  /** Whether the device set NEEDS_RESET, or else completed requests (a used.idx moved). */
  outcome(): { served: boolean; broken: boolean } {
    if (this.transport.failure !== null) return { served: false, broken: true };
    const served = this.queues.some((q) => {
      try {
        return memory.readU16(q.used + 2n) !== 0;
      } catch (error) {
        if (!(error instanceof GuestMemoryError)) throw error;
        return false;
      }
    });
    return { served, broken: false };
  }

  /** Register chaos: any offset, width and value, as a broken driver might write. */
  scribble(): void {
    const r = this.r;
    const offset = r.chance(0.7) ? 4 * r.int(0x50) : r.int(0x200);
    const width = r.pick([1, 2, 4] as const);
    if (r.chance(0.5)) this.call('read', () => this.transport.read(offset, width));
    else this.set(offset, r.chance(0.5) ? r.int(16) : r.int(2 ** 32), width);
  }

  /** Save, through JSON, into a fresh transport of the same device: refused states are DeviceStateErrors. */
  saveAndLoad(makeDevice: () => VirtioDevice | null): HostileDriver {
    const saved = throughJson(this.call('save', () => this.transport.saveState()));
    const next = new HostileDriver(this.r, makeDevice(), this.afterCall);
    next.queues = this.queues;
    try {
      next.call('load', () => next.transport.loadState(saved));
    } catch (error) {
      if (!(error instanceof DeviceStateError)) throw error;
    }
    return next;
  }
}

const hostMemory = () => process.memoryUsage().rss + process.memoryUsage().arrayBuffers;

function fuzz(name: string, makeDevice: () => VirtioDevice | null, afterCall: () => void = () => {}, registers = false): void {
  const master = new Random(SEED ^ name.length * 0x9e37_79b9);
  const start = performance.now();
  // Taken after the first inputs: V8 grows its heap and code space by some 40 MiB as it warms up.
  let baseline = 0;
  let offHeapBaseline = 0;
  let offHeapPeak = 0;
  let inputs = 0;
  let calls = 0;
  let slowest = 0;
  let peak = 0;
  let served = 0;
  let broken = 0;
  while (performance.now() - start < SECONDS_EACH * 1000) {
    const seed = Math.floor(master.next() * 2 ** 32);
    const r = new Random(seed);
    try {
      let driver = new HostileDriver(r, makeDevice(), afterCall);
      driver.setUp();
      for (let round = 0, rounds = 1 + r.int(24); round < rounds; round++) {
        if (registers && r.chance(0.4)) driver.scribble();
        if (registers && r.chance(0.05)) {
          calls += driver.calls;
          slowest = Math.max(slowest, driver.slowest);
          driver = driver.saveAndLoad(makeDevice);
        }
        driver.round();
      }
      calls += driver.calls;
      slowest = Math.max(slowest, driver.slowest);
      const { served: done, broken: refused } = driver.outcome();
      if (done) served++;
      if (refused) broken++;
      checkCanaries(false);
      if (inputs === WARM_UP) {
        baseline = hostMemory();
        offHeapBaseline = process.memoryUsage().arrayBuffers;
      }
      if (inputs > WARM_UP && inputs % 64 === 0) {
        peak = Math.max(peak, hostMemory() - baseline);
        offHeapPeak = Math.max(offHeapPeak, process.memoryUsage().arrayBuffers - offHeapBaseline);
        assert.ok(peak < MEMORY_BOUND, `host memory grew by ${(peak / 2 ** 20).toFixed(1)} MiB`);
        assert.ok(offHeapPeak < OFF_HEAP_BOUND, `array buffers grew by ${(offHeapPeak / 2 ** 20).toFixed(1)} MiB`);
      }
    } catch (error) {
      console.log(`fuzz ${name}: input ${inputs} (seed ${seed}) failed`);
      throw error;
    }
    inputs++;
  }
  checkCanaries(true);
  peak = Math.max(peak, hostMemory() - baseline);
  console.log(`fuzz ${name}: ${inputs} inputs (${calls} register accesses) in ${((performance.now() - start) / 1000).toFixed(1)} s, ` +
    `0 failures (${served} ended live with requests served, ${broken} in NEEDS_RESET); slowest call ${slowest.toFixed(1)} ms, host memory +${(peak / 2 ** 20).toFixed(1)} MiB (array buffers +${(offHeapPeak / 2 ** 20).toFixed(1)} MiB)`);
  assert.ok(inputs > 100 && served > 0 && broken > 0, 'the inputs reach both the devices and the checks');
}

test('fuzz virtio-console: hostile transmit and receive queues', () => {
  let typed = 0;
  const buffered = new BufferedConsole({ write: () => {}, read: () => (typed++ % 3 === 0 ? new Uint8Array(1 + (typed % 300)).fill(0x41) : null) });
  fuzz('virtio-console', () => new VirtioConsole(buffered), () => buffered.flushIfDue(performance.now()));
});

test('fuzz virtio-blk: hostile request queue over a raw disk', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'hangar-virtio-fuzz-')), 'disk.raw');
  writeFileSync(path, new Uint8Array(0));
  truncateSync(path, 8 << 20);
  const disk = openDisk(path, {});
  try {
    fuzz('virtio-blk', () => new VirtioBlk(disk));
  } finally {
    disk.close();
  }
});

test('fuzz virtio-rng: hostile request queue', () => {
  fuzz('virtio-rng', () => new VirtioRng());
});

test('fuzz virtio-mmio: random register accesses, saves and loads around hostile queues', () => {
  fuzz('virtio-mmio', () => new VirtioRng(), () => {}, true);
});
