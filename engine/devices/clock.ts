// Guest time. mtime counts at TIMEBASE_HZ from the moment the machine started, minus the time
// it spent paused or saved: the base lives in the shared MACHINE block, so every thread (each
// vCPU's core reads it for rdtime and its timers, the CLINT device for mtime) agrees.
import { MACHINE_CLOCK_BASE_NS } from '../cpu/layout.ts';

export const TIMEBASE_HZ = 10_000_000;
const NS_PER_TICK = 1_000_000_000 / TIMEBASE_HZ;

/** Host monotonic time in nanoseconds (CLOCK_MONOTONIC: the same in every thread). */
export const hostNowNs = (): bigint => process.hrtime.bigint();

export class GuestClock {
  private readonly base: BigInt64Array;
  private pausedAtNs: bigint | null = null;

  constructor(memory: WebAssembly.Memory) {
    this.base = new BigInt64Array(memory.buffer, MACHINE_CLOCK_BASE_NS, 1);
  }

  /** Starts guest time at `ticks` (0 for a fresh boot, the saved value on restore). */
  start(ticks = 0n): void {
    Atomics.store(this.base, 0, hostNowNs() - ticks * BigInt(NS_PER_TICK));
    this.pausedAtNs = null;
  }

  /** Current guest mtime. */
  now(): bigint {
    const ns = (this.pausedAtNs ?? hostNowNs()) - Atomics.load(this.base, 0);
    return ns / BigInt(NS_PER_TICK);
  }

  /** Stops guest time (pause, save): the guest never sees the gap as a jump. */
  pause(): void {
    this.pausedAtNs ??= hostNowNs();
  }

  resume(): void {
    if (this.pausedAtNs === null) return;
    Atomics.add(this.base, 0, hostNowNs() - this.pausedAtNs);
    this.pausedAtNs = null;
  }

  /** Host nanoseconds from now until guest time reaches `ticks` (0 if already past). */
  nsUntil(ticks: bigint): number {
    const delta = ticks - this.now();
    return delta <= 0n ? 0 : Number(delta) * NS_PER_TICK;
  }
}
