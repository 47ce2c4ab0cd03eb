// The control block every thread of a running machine shares (one SharedArrayBuffer of Int32
// words): the owner (MachineHost), the device thread and one vCPU thread per hart meet here,
// never on an event loop. Every wait is an Atomics.wait on a counter that the waker changes
// before it notifies, so a wake-up that comes between "nothing to do" and the wait is not lost.
//
//   word  0  device bell   counter: rung by a vCPU with an MMIO request, by the owner with input
//   word  1  events        counter: rung whenever the words below change (the owner waits on it)
//   word  2  park          bit set of reasons the harts must park (ParkReason)
//   word  3  stop          0 while running, else a StopReason: every thread winds down
//   word  4  parked harts  harts sitting in park()
//   word  5  device parked 1 while the device thread sits in parkDevice()
//   word  6  unparks       counter: harts that have left park()
//   word  7  ready harts   vCPU threads whose core is instantiated
//   word  8  go            1 once the device thread has booted the machine: harts may run
//   word  9  stopped harts vCPU threads that have left their loop
//   word 16 + 16h          wake word of hart h (its own 64-byte line): rung for anything the
//                          sleeping hart must look at (an interrupt line, a timer compare, a request)
//   word 17 + 16h          busy time of hart h: milliseconds it spent running guest code (not
//                          asleep, not parked), written by its thread alone; unsigned, wraps after
//                          49 days. The VM's CPU use.
import { MAX_HARTS } from '../cpu/layout.ts';

const DEVICE_BELL = 0;
const EVENTS = 1;
const PARK = 2;
const STOP = 3;
const PARKED_HARTS = 4;
const DEVICE_PARKED = 5;
const UNPARKS = 6;
const READY_HARTS = 7;
const GO = 8;
const STOPPED_HARTS = 9;
const WAKE_BASE = 16;
const WAKE_STRIDE = 16;
const WORDS = WAKE_BASE + WAKE_STRIDE * MAX_HARTS;

/** Atomics.waitAsync (ES2024, in Node since 16), typed here because the project's lib is ES2022. */
export const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

export const enum ParkReason {
  /** The owner paused the machine (MachineHost.pause). */
  Owner = 1,
  /** The guest asked for a reset: harts wait while the device thread reboots the machine. */
  Reset = 2,
}

export const enum StopReason {
  Running = 0,
  /** The owner asked to quit. */
  Quit = 1,
  /** The guest powered off, or a thread failed: the device thread knows which. */
  Ended = 2,
}

export class MachineControl {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;

  /** A new control block, or the view of one another thread made. */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(WORDS * 4);
    this.words = new Int32Array(this.buffer);
  }

  // ---- wake words ---------------------------------------------------------------------------

  /** The value of hart's wake word to pass to sleepHart (read it before looking for work). */
  wakeSeen(hart: number): number {
    return Atomics.load(this.words, WAKE_BASE + hart * WAKE_STRIDE);
  }

  wakeHart(hart: number): void {
    const index = WAKE_BASE + hart * WAKE_STRIDE;
    Atomics.add(this.words, index, 1);
    Atomics.notify(this.words, index);
  }

  /** Publishes the time the hart has spent running guest code so far (its own thread only). */
  setBusyMs(hart: number, ms: number): void {
    Atomics.store(this.words, WAKE_BASE + hart * WAKE_STRIDE + 1, Math.floor(ms % 2 ** 32) | 0);
  }

  busyMs(hart: number): number {
    return Atomics.load(this.words, WAKE_BASE + hart * WAKE_STRIDE + 1) >>> 0;
  }

  /** Sleeps until the hart is woken after `seen` was read, or for at most `ms`. */
  sleepHart(hart: number, seen: number, ms: number): void {
    Atomics.wait(this.words, WAKE_BASE + hart * WAKE_STRIDE, seen, ms);
  }

  private wakeEveryone(): void {
    for (let hart = 0; hart < MAX_HARTS; hart++) this.wakeHart(hart);
    this.ringDevice();
    this.ringEvents();
  }

  deviceBell(): number {
    return Atomics.load(this.words, DEVICE_BELL);
  }

  ringDevice(): void {
    Atomics.add(this.words, DEVICE_BELL, 1);
    Atomics.notify(this.words, DEVICE_BELL);
  }

  /** Sleeps until the device bell rings after `seen` was read, or for at most `ms`. */
  sleepDevice(seen: number, ms: number): void {
    Atomics.wait(this.words, DEVICE_BELL, seen, ms);
  }

  private ringEvents(): void {
    Atomics.add(this.words, EVENTS, 1);
    Atomics.notify(this.words, EVENTS);
  }

  /**
   * Resolves when `done()` holds, looked at again after every change to this block; rejects after
   * `timeoutMs`. For the owner, whose event loop must stay free (Atomics.waitAsync).
   */
  async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.words, EVENTS);
      if (done()) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`machine: timed out after ${timeoutMs} ms waiting for ${what}`);
      const wait = waitAsync(this.words, EVENTS, seen, left);
      if (wait.async) await wait.value;
    }
  }

  // ---- start-up -----------------------------------------------------------------------------

  /** A vCPU thread has its core: counted so that the device thread boots only after all are. */
  hartReady(): void {
    Atomics.add(this.words, READY_HARTS, 1);
    this.ringDevice();
  }

  readyHarts(): number {
    return Atomics.load(this.words, READY_HARTS);
  }

  /** The device thread booted the machine: harts may run. */
  go(): void {
    Atomics.store(this.words, GO, 1);
    this.wakeEveryone();
  }

  started(): boolean {
    return Atomics.load(this.words, GO) === 1;
  }

  /** A vCPU thread waits here until the machine is booted (or stopped before it was). */
  waitForGo(hart: number): void {
    for (;;) {
      const seen = this.wakeSeen(hart);
      if (this.started() || this.stopReason() !== StopReason.Running) return;
      this.sleepHart(hart, seen, Infinity);
    }
  }

  // ---- park (pause, reset) ------------------------------------------------------------------

  requestPark(reason: ParkReason): void {
    Atomics.or(this.words, PARK, reason);
    this.wakeEveryone();
  }

  releasePark(reason: ParkReason): void {
    Atomics.and(this.words, PARK, ~reason);
    this.wakeEveryone();
  }

  parkRequested(reason?: ParkReason): boolean {
    const park = Atomics.load(this.words, PARK);
    return reason === undefined ? park !== 0 : (park & reason) !== 0;
  }

  parkedHarts(): number {
    return Atomics.load(this.words, PARKED_HARTS);
  }

  deviceParked(): boolean {
    return Atomics.load(this.words, DEVICE_PARKED) === 1;
  }

  unparks(): number {
    return Atomics.load(this.words, UNPARKS);
  }

  /**
   * A vCPU thread, between two instructions, waits here while a park is requested (and the
   * machine runs). The device thread is rung so that it sees the count change.
   */
  park(hart: number): void {
    Atomics.add(this.words, PARKED_HARTS, 1);
    this.ringDevice();
    this.ringEvents();
    for (;;) {
      const seen = this.wakeSeen(hart);
      if (!this.parkRequested() || this.stopReason() !== StopReason.Running) break;
      this.sleepHart(hart, seen, Infinity);
    }
    Atomics.sub(this.words, PARKED_HARTS, 1);
    Atomics.add(this.words, UNPARKS, 1);
    this.ringDevice();
    this.ringEvents();
  }

  /**
   * The device thread waits here while the owner's park holds (and the machine runs). It waits
   * with its event loop free: the owner's commands to a paused machine (save, replace disks)
   * reach it as messages, and nothing else needs it then (every hart is parked).
   */
  async parkDevice(): Promise<void> {
    Atomics.store(this.words, DEVICE_PARKED, 1);
    this.ringEvents();
    for (;;) {
      const seen = this.deviceBell();
      if (!this.parkRequested(ParkReason.Owner) || this.stopReason() !== StopReason.Running) break;
      const wait = waitAsync(this.words, DEVICE_BELL, seen, Infinity);
      if (wait.async) await wait.value;
    }
    Atomics.store(this.words, DEVICE_PARKED, 0);
    this.ringEvents();
  }

  // ---- stop ---------------------------------------------------------------------------------

  /** Asks every thread to wind down; the first reason given is kept. */
  requestStop(reason: StopReason.Quit | StopReason.Ended): void {
    Atomics.compareExchange(this.words, STOP, StopReason.Running, reason);
    this.wakeEveryone();
  }

  stopReason(): StopReason {
    return Atomics.load(this.words, STOP) as StopReason;
  }

  /** A vCPU thread has left its loop (it makes no more MMIO requests). */
  hartStopped(): void {
    Atomics.add(this.words, STOPPED_HARTS, 1);
    this.ringDevice();
    this.ringEvents();
  }

  stoppedHarts(): number {
    return Atomics.load(this.words, STOPPED_HARTS);
  }
}
